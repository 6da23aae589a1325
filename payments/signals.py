"""Receivers payments connects to other apps' signals; each calls a payment service."""

from . import services


def open_payment_for_placed_order(sender, order_id, **kwargs):
    """A placed order gets the payment it waits for: a card attempt, a transfer, cash due."""
    order = sender.objects.filter(pk=order_id).first()
    if order is not None:
        services.open_placed_order(order=order)


def settle_cancelled_order(sender, order_id, **kwargs):
    """Cancelling an order cancels its open payments and refunds what was paid."""
    services.settle_cancelled_order(order_id=order_id)


def collect_cash_on_delivery(sender, order_id, all_delivered, **kwargs):
    """The courier took the cash when the last parcel of a cash-on-delivery order arrived."""
    if not all_delivered:
        return
    payment = services.open_cash_payment(order_id=order_id)
    if payment is not None:
        services.mark_cash_collected(payment=payment)
