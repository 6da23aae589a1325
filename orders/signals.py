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
