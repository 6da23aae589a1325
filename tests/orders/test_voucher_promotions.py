"""Vouchers combine with promotions by the rule staff chose on the voucher."""

from decimal import Decimal

import pytest

from orders import services
from orders.models import Cart, Voucher
from tests.shipping.factories import ShippingMethodFactory

from .factories import VoucherFactory, place, stocked_variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def method():
    return ShippingMethodFactory(price=Decimal("5.00"))


def cart_with(*variants):
    cart = Cart.objects.create(session_key="promotions")
    for variant in variants:
        services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=1)
    return cart


def on_sale(**fields):
    """A 40.00 variant selling at 30.00 for as long as the test runs."""
    return stocked_variant(price=Decimal("40.00"), sale_price=Decimal("30.00"), **fields)


def full_price(**fields):
    return stocked_variant(price=Decimal("20.00"), warehouse_code="second", **fields)


def test_a_voucher_on_top_of_promotions_discounts_every_line(method):
    VoucherFactory(code="ALL10", value=Decimal("10"))
    order = place(cart_with(on_sale(), full_price()), shipping_method=method, voucher_code="ALL10")
    assert order.subtotal == Decimal("50.00")
    assert order.discount_total == Decimal("5.00")


def test_a_full_price_only_voucher_skips_the_lines_on_promotion(method):
    VoucherFactory(
        code="FULL10", value=Decimal("10"), combination=Voucher.Combination.FULL_PRICE_ONLY
    )
    order = place(cart_with(on_sale(), full_price()), shipping_method=method, voucher_code="FULL10")
    assert order.subtotal == Decimal("50.00")
    assert order.discount_total == Decimal("2.00")
    assert order.total == Decimal("53.00")


def test_a_full_price_only_voucher_on_a_cart_all_on_promotion_is_refused(method):
    VoucherFactory(
        code="FULL",
        kind=Voucher.Kind.FIXED,
        value=Decimal("5"),
        combination=Voucher.Combination.FULL_PRICE_ONLY,
    )
    with pytest.raises(services.VoucherError, match="only to items not on promotion"):
        place(cart_with(on_sale()), shipping_method=method, voucher_code="FULL")
