"""Templated emails that every app sends, each at most once per key."""

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import translation

from .models import SentEmail

# How every email task retries: SMTP and network failures are all OSErrors (smtplib's
# exceptions are one) and worth retrying with backoff, except an address the mail server
# refuses, which it will refuse again. Use as `@shared_task(**EMAIL_TASK_OPTIONS)`.
EMAIL_TASK_OPTIONS = {
    "acks_late": True,
    "autoretry_for": (OSError,),
    "dont_autoretry_for": (smtplib.SMTPRecipientsRefused,),
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "retry_jitter": True,
    "max_retries": 8,
}


def send_templated_email(*, key, to, template_prefix, context, language):
    """Render `<prefix>_subject.txt`, `<prefix>.txt` and `<prefix>.html` and send them once.

    The log row is inserted before sending, in the same transaction: a second run with the
    same key (a retried or duplicated task) hits the unique key and sends nothing, and when
    sending fails the row is rolled back so the retry sends it. Returns whether it was sent.
    """
    with translation.override(language):
        subject = " ".join(render_to_string(f"{template_prefix}_subject.txt", context).split())
        text = render_to_string(f"{template_prefix}.txt", context)
        html = render_to_string(f"{template_prefix}.html", context)

    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(html, "text/html")

    with transaction.atomic():
        try:
            with transaction.atomic():
                SentEmail.objects.create(key=key, recipient=to, subject=subject[:255])
        except IntegrityError:
            return False
        message.send()
    return True
