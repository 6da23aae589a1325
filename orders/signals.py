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
    from .services import follow_shipments

    follow_shipments(
        order_id=order_id, any_left=any_left, all_shipped=all_shipped, all_delivered=all_delivered
    )
