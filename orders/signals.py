"""Signals orders sends, and the receivers orders connects to other apps' signals."""

from django.dispatch import Signal

# Sent after the transaction that placed an order commits, with `order_id`;
# payments listens to open the payment the order waits for.
order_placed = Signal()

# Sent after the transaction that cancelled an order commits, with `order_id`;
# payments listens to refund what was paid.
order_cancelled = Signal()


def merge_cart_on_login(sender, request, user, **kwargs):
    """The guest's cart joins the account's cart when the guest signs in."""
    from .services import claim_guest_cart

    claim_guest_cart(session=request.session, user=user)


def record_packed_lines(sender, order_id, quantities, **kwargs):
    """Units packed into a shipment count as shipped on the order's lines."""
    from .services import record_shipped

    record_shipped(quantities=quantities)


def follow_shipment(sender, order_id, any_left, all_shipped, all_delivered, **kwargs):
    """The order's status follows its parcels: partially shipped, shipped, delivered."""
    from .models import Order
    from .services import TRANSITIONS, change_status

    Status = Order.Status
    if all_delivered:
        steps = [Status.SHIPPED, Status.DELIVERED]
    elif all_shipped:
        steps = [Status.SHIPPED]
    elif any_left:
        steps = [Status.PARTIALLY_SHIPPED]
    else:
        return
    order = Order.objects.get(pk=order_id)
    for step in steps:
        if order.status != step and step in TRANSITIONS[order.status]:
            change_status(order=order, to_status=step)
