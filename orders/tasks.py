"""Celery tasks of the orders app: thin, safe to run twice, calling emails and services."""

from celery import shared_task

from shop.emails import EMAIL_TASK_OPTIONS

from . import emails, services
from .models import Order
from .signals import order_cancelled, order_placed


@shared_task(**EMAIL_TASK_OPTIONS)
def send_order_email(order_id, kind):
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return False
    return emails.deliver_order_email(order=order, kind=kind)


@shared_task(acks_late=True)
def announce_order_placed(order_id):
    """Send `order_placed` (through the outbox, after the order's commit).

    Not robust: a receiver that fails fails the task, and the outbox runs it again later.
    """
    order_placed.send(sender=Order, order_id=order_id)


@shared_task(acks_late=True)
def announce_order_cancelled(order_id):
    """Send `order_cancelled` (through the outbox, after the cancellation's commit).

    Not robust: when settling the payment fails the outbox runs it again later, and the
    shopper, whose cancellation has committed, never sees the error.
    """
    order_cancelled.send(sender=Order, order_id=order_id)


@shared_task(acks_late=True)
def expire_unpaid_orders():
    """Cancel the orders left unpaid too long, then remind bank transfer shoppers halfway.

    Cancelling first means an order past its deadline is cancelled, never reminded.
    Returns how many orders were cancelled.
    """
    cancelled = services.cancel_unpaid_orders()
    services.remind_unpaid_transfers()
    return len(cancelled)
