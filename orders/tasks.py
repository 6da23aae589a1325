"""Celery tasks of the orders app: thin, safe to run twice, calling emails and services."""

from celery import shared_task
from django.utils import timezone

from shop.emails import EMAIL_TASK_OPTIONS

from . import emails, services
from .models import Order


@shared_task(**EMAIL_TASK_OPTIONS)
def send_order_email(order_id, kind):
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return False
    return emails.deliver_order_email(order=order, kind=kind)


@shared_task(acks_late=True)
def sweep_order_emails():
    """Queue again the order emails that never went out, e.g. while the broker was down."""
    unsent = emails.unsent_order_emails(now=timezone.now())
    for order_id, kind in unsent:
        send_order_email.delay(order_id, kind)
    return len(unsent)


@shared_task(acks_late=True)
def expire_unpaid_orders():
    """Cancel the orders left unpaid too long, then remind bank transfer shoppers halfway.

    Cancelling first means an order past its deadline is cancelled, never reminded.
    Returns how many orders were cancelled.
    """
    cancelled = services.cancel_unpaid_orders()
    services.remind_unpaid_transfers()
    return len(cancelled)
