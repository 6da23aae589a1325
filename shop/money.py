"""Money: Decimal amounts in the shop's one currency, rounded the one way."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")

# ISO 4217 exponents where they are not 2, as payment providers (Stripe) count them.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def quantize(amount) -> Decimal:
    """Round an amount to cents, half up, the way a receipt does."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def to_minor_units(amount, currency) -> int:
    """The amount as a whole number of the currency's smallest unit, as Stripe takes it.

    12.34 EUR is 1234, 1200 JPY is 1200. An amount finer than the currency's smallest unit
    is a bug upstream, not something to round away silently: it raises ValueError.
    """
    code = str(currency).upper()
    if code in ZERO_DECIMAL_CURRENCIES:
        exponent = 0
    elif code in THREE_DECIMAL_CURRENCIES:
        exponent = 3
    else:
        exponent = 2
    minor = Decimal(amount).scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} {code} is not a whole number of minor units")
    return int(minor)
