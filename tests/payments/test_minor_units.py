"""Amounts sent to Stripe: integer minor units from one helper."""

from decimal import Decimal

import pytest

from shop.money import to_minor_units


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        (Decimal("42.50"), "EUR", 4250),
        (Decimal("0.01"), "eur", 1),
        (Decimal("19.99"), "USD", 1999),
        (Decimal("1200"), "JPY", 1200),
        (Decimal("1.234"), "KWD", 1234),
        ("10", "GBP", 1000),
    ],
)
def test_amounts_become_whole_minor_units(amount, currency, minor):
    assert to_minor_units(amount, currency) == minor


@pytest.mark.parametrize(("amount", "currency"), [(Decimal("0.005"), "EUR"), ("0.5", "JPY")])
def test_an_amount_finer_than_the_currency_allows_is_refused(amount, currency):
    with pytest.raises(ValueError, match="not a whole number of minor units"):
        to_minor_units(amount, currency)
