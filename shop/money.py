"""Money: Decimal amounts in the shop's one currency, rounded the one way."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def quantize(amount) -> Decimal:
    """Round an amount to cents, half up, the way a receipt does."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
