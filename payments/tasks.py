"""Celery tasks of the payments app: thin, safe to run twice, calling the payment services."""

from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from shop.emails import EMAIL_TASK_OPTIONS

from . import books, emails, selectors, services
from .models import Refund

# A refund queued at commit gets this long to go through before the sweep sends it again.
REFUND_SWEEP_GRACE = timedelta(minutes=5)
TASK = {"acks_late": True}
RETRY = {"retry_backoff": 30, "retry_backoff_max": 3600, "retry_jitter": True, "max_retries": 8}


@shared_task(**TASK, autoretry_for=(OperationalError,), **RETRY)
def process_webhook_event(event_pk):
    """Apply one stored Stripe event; a redelivered or duplicated task changes nothing twice."""
    return services.process_webhook_event(event_pk=event_pk)


@shared_task(**TASK)
def process_pending_webhooks():
    """Queue the stored events not processed yet, e.g. those stored while the broker was down."""
    pending = selectors.unprocessed_webhook_event_ids()
    for event_pk in pending:
        process_webhook_event.delay(event_pk)
    return len(pending)


@shared_task(**TASK, autoretry_for=(services.ProviderUnavailable,), **RETRY)
def send_refund(refund_pk):
    refund = Refund.objects.filter(pk=refund_pk).first()
    if refund is None:
        return None
    return services.send_refund(refund=refund).status


@shared_task(**TASK)
def send_pending_refunds():
    """Send again the card refunds still pending, e.g. queued while the broker was down."""
    refunds = list(
        selectors.pending_stripe_refunds(created_before=timezone.now() - REFUND_SWEEP_GRACE)
    )
    for refund in refunds:
        send_refund.delay(refund.pk)
    return len(refunds)


@shared_task(**TASK, autoretry_for=(services.ProviderUnavailable,), **RETRY)
def cancel_payment_intent(reference):
    change = services.cancel_card_intent(reference=reference)
    return change.after if change else None


@shared_task(**EMAIL_TASK_OPTIONS)
def send_payment_email(kind, pk):
    return emails.deliver_payment_email(kind=kind, pk=pk)


@shared_task(**TASK)
def sweep_payment_emails():
    """Queue again the payment emails that never went out, e.g. while the broker was down."""
    unsent = emails.unsent_payment_emails(now=timezone.now())
    for kind, pk in unsent:
        send_payment_email.delay(kind, pk)
    return len(unsent)


@shared_task(**EMAIL_TASK_OPTIONS)
def check_books():
    """Nightly: check the books and email staff what disagrees, once a day; nothing when clean."""
    disagreements = books.check_books()
    if disagreements:
        books.email_disagreements(disagreements=disagreements, day=timezone.localdate())
    return len(disagreements)
