"""Celery tasks of the payments app: thin, safe to run twice, calling the payment services."""

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from shop.emails import EMAIL_TASK_OPTIONS

from . import books, emails, services
from .models import Refund

TASK = {"acks_late": True}
RETRY = {"retry_backoff": 30, "retry_backoff_max": 3600, "retry_jitter": True, "max_retries": 8}


@shared_task(**TASK, autoretry_for=(OperationalError,), **RETRY)
def process_webhook_event(event_pk):
    """Apply one stored Stripe event; a redelivered or duplicated task changes nothing twice."""
    return services.process_webhook_event(event_pk=event_pk)


@shared_task(**TASK, autoretry_for=(services.ProviderUnavailable,), **RETRY)
def send_refund(refund_pk):
    refund = Refund.objects.filter(pk=refund_pk).first()
    if refund is None:
        return None
    return services.send_refund(refund=refund).status


@shared_task(**TASK, autoretry_for=(services.ProviderUnavailable,), **RETRY)
def cancel_payment_intent(reference):
    change = services.cancel_card_intent(reference=reference)
    return change.after if change else None


@shared_task(**EMAIL_TASK_OPTIONS)
def send_payment_email(kind, pk):
    return emails.deliver_payment_email(kind=kind, pk=pk)


@shared_task(**EMAIL_TASK_OPTIONS)
def check_books():
    """Nightly: check the books and email staff what disagrees, once a day; nothing when clean."""
    disagreements = books.check_books()
    if disagreements:
        books.email_disagreements(disagreements=disagreements, day=timezone.localdate())
    return len(disagreements)
