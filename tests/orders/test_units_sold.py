import re

import pytest
from django.urls import reverse

from catalog.models import UnitsSold
from catalog.services import fold_units_sold, record_units_sold
from orders import services
from shipping.services import OutOfStock
from tests.catalog.factories import ProductFactory
from tests.shipping.factories import ShippingMethodFactory

from .factories import CartFactory, CartLineFactory, place, stocked_variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def method():
    return ShippingMethodFactory()


def units_sold(variant):
    """The product's count once the units noted so far are folded in, as the beat task does."""
    fold_units_sold()
    variant.product.refresh_from_db()
    return variant.product.units_sold


def order_of(method, *lines):
    cart = CartFactory()
    for variant, quantity in lines:
        CartLineFactory(cart=cart, variant=variant, quantity=quantity)
    return place(cart, shipping_method=method)


def bestsellers(client):
    html = client.get(reverse("catalog:home")).content.decode()
    shelf = re.search(r'aria-labelledby="bestsellers-heading">(.*?)</section>', html, re.S)
    return shelf.group(1) if shelf else ""


def test_placing_an_order_counts_its_units_per_product(method):
    small = stocked_variant(units=10, warehouse_code="main")
    large = stocked_variant(units=10, warehouse_code="main", product=small.product)
    other = stocked_variant(units=10, warehouse_code="main")

    order_of(method, (small, 2), (large, 1), (other, 3))

    assert units_sold(small) == 3
    assert units_sold(other) == 3


def test_an_order_reaches_the_count_at_the_next_fold_and_only_once(method):
    variant = stocked_variant(units=10)

    order_of(method, (variant, 3))

    variant.product.refresh_from_db()
    assert variant.product.units_sold == 0
    assert fold_units_sold() == 1
    assert fold_units_sold() == 0
    variant.product.refresh_from_db()
    assert variant.product.units_sold == 3
    assert not UnitsSold.objects.exists()


def test_a_fold_in_several_batches_counts_every_row(method):
    variant = stocked_variant(units=10)
    for _order in range(5):
        order_of(method, (variant, 1))

    assert fold_units_sold(batch_size=2) == 5

    variant.product.refresh_from_db()
    assert variant.product.units_sold == 5


def test_an_order_cancelled_before_the_fold_counts_nothing(method):
    variant = stocked_variant(units=10)
    services.cancel_order(order=order_of(method, (variant, 4)))

    assert units_sold(variant) == 0


def test_cancelling_an_order_takes_its_units_back(method):
    variant = stocked_variant(units=10)
    kept = order_of(method, (variant, 2))
    cancelled = order_of(method, (variant, 3))
    assert units_sold(variant) == 5

    services.cancel_order(order=cancelled)

    assert units_sold(variant) == 2
    with pytest.raises(services.InvalidTransition):
        services.cancel_order(order=cancelled)
    assert units_sold(variant) == 2
    assert kept.lines.get().quantity == 2


def test_cancelling_through_a_status_change_takes_the_units_back_too(method):
    variant = stocked_variant(units=10)
    order = order_of(method, (variant, 4))
    assert units_sold(variant) == 4

    services.change_status(order=order, to_status=services.Status.CANCELLED)

    assert units_sold(variant) == 0


def test_units_sold_never_drop_below_zero():
    counted, untouched = ProductFactory(units_sold=2), ProductFactory(units_sold=7)

    record_units_sold(quantities={counted.pk: -5, untouched.pk: 0})
    fold_units_sold()

    counted.refresh_from_db()
    untouched.refresh_from_db()
    assert (counted.units_sold, untouched.units_sold) == (0, 7)


def test_a_checkout_that_fails_counts_nothing(method):
    variant = stocked_variant(units=1)
    cart = CartLineFactory(variant=variant, quantity=2).cart

    with pytest.raises(services.CheckoutError):
        place(cart, shipping_method=method, email="not-an-email")
    with pytest.raises(OutOfStock):
        place(cart, shipping_method=method)

    assert units_sold(variant) == 0
    assert not UnitsSold.objects.exists()


def test_the_home_page_bestsellers_follow_orders_and_cancellations(
    client, method, django_capture_on_commit_callbacks
):
    mug = stocked_variant(units=20, product__title="Blue mug")
    kettle = stocked_variant(units=20, product__title="Steel kettle")
    assert "Blue mug" not in bestsellers(client)

    with django_capture_on_commit_callbacks(execute=True):
        order_of(method, (mug, 1))
        big_order = order_of(method, (kettle, 3))
        fold_units_sold()
    shelf = bestsellers(client)
    assert shelf.index("Steel kettle") < shelf.index("Blue mug")

    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_order(order=big_order)
        fold_units_sold()
    shelf = bestsellers(client)
    assert "Blue mug" in shelf
    assert "Steel kettle" not in shelf
