"""Order emails: queued once the transaction that changed the order commits."""

from django.db import transaction


def queue_order_email(*, order, kind):
    """Send the `kind` email ("placed", "cancelled") for this order after commit."""
    from .tasks import send_order_email

    transaction.on_commit(lambda: send_order_email.delay(order.pk, kind))
