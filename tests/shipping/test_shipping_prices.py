from decimal import Decimal

import pytest

from shipping.services import shipping_options, shipping_price
from tests.shipping.factories import ShippingMethodFactory

pytestmark = pytest.mark.django_db


def test_a_flat_rate_costs_the_same_for_any_order():
    flat = ShippingMethodFactory(price=Decimal("4.90"))
    for subtotal in ("0.00", "19.99", "5000.00"):
        assert shipping_price(method=flat, subtotal=Decimal(subtotal)) == Decimal("4.90")


@pytest.mark.parametrize(
    ("subtotal", "price"),
    [("49.99", "6.50"), ("50.00", "0.00"), ("50.01", "0.00"), ("300.00", "0.00")],
)
def test_free_over_is_free_from_the_threshold_up(subtotal, price):
    method = ShippingMethodFactory(price=Decimal("6.50"), free_over=Decimal("50.00"))
    assert shipping_price(method=method, subtotal=Decimal(subtotal)) == Decimal(price)


def test_options_list_the_active_methods_in_order_with_their_price_for_this_cart():
    express = ShippingMethodFactory(name="Express", price=Decimal("12.00"), position=2)
    standard = ShippingMethodFactory(
        name="Standard", price=Decimal("4.90"), free_over=Decimal("40.00"), position=1
    )
    ShippingMethodFactory(name="Pigeon", price=Decimal("1.00"), is_active=False)

    options = shipping_options(subtotal=Decimal("45.00"))

    assert [(option.method, option.price) for option in options] == [
        (standard, Decimal("0.00")),
        (express, Decimal("12.00")),
    ]


def test_no_active_methods_means_no_options():
    ShippingMethodFactory(is_active=False)
    assert shipping_options(subtotal=Decimal("10.00")) == []
