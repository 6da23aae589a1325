"""Checkout holds the rows every order of a bestseller waits for as briefly as it can."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.models import Order
from shipping.models import StockLevel
from shipping.services import OutOfStock
from tests.shipping.factories import ShippingMethodFactory

from .factories import CartFactory, CartLineFactory, place, stocked_variant

pytestmark = pytest.mark.django_db

# What reserve_stock writes once it holds the stock rows: the rows, their ledger, the
# allocations, the variants' availability; then its savepoint ends.
RESERVATION_WRITES = (
    'UPDATE "shipping_stocklevel"',
    'INSERT INTO "shipping_stockmovement"',
    'INSERT INTO "shipping_allocation"',
    'UPDATE "catalog_variant"',
    "RELEASE SAVEPOINT",
)


@pytest.fixture
def method():
    return ShippingMethodFactory()


def checkout_statements(cart, method):
    with CaptureQueriesContext(connection) as queries:
        order = place(cart, shipping_method=method)
    return order, [query["sql"] for query in queries.captured_queries]


def stock_lock(statements):
    return next(
        index
        for index, sql in enumerate(statements)
        if 'FROM "shipping_stocklevel"' in sql and "FOR UPDATE" in sql
    )


def test_the_stock_rows_are_locked_last_and_held_only_for_the_reservation(method):
    mug, kettle = stocked_variant(units=50), stocked_variant(units=50)
    cart = CartFactory()
    CartLineFactory(cart=cart, variant=mug, quantity=2)
    CartLineFactory(cart=cart, variant=kettle, quantity=1)

    order, statements = checkout_statements(cart, method)

    held = statements[stock_lock(statements) + 1 :]
    assert held and all(sql.startswith(RESERVATION_WRITES) for sql in held), held
    before = "\n".join(statements[: stock_lock(statements)])
    for table in ("orders_order", "orders_orderline", "orders_orderevent", "catalog_unitssold"):
        assert f'INSERT INTO "{table}"' in before
    assert 'DELETE FROM "orders_cartline"' in before
    assert order.lines.count() == 2
    assert StockLevel.objects.get(variant=mug).reserved == 2


def test_a_checkout_writes_nothing_to_the_product_row(method):
    variant = stocked_variant(units=50)

    _order, statements = checkout_statements(
        CartLineFactory(variant=variant, quantity=1).cart, method
    )

    assert not [sql for sql in statements if sql.startswith('UPDATE "catalog_product"')]


def test_a_sold_out_variant_is_refused_before_anything_is_locked_or_written(method):
    variant = stocked_variant(units=1, sku="LAST-ONE")
    place(CartLineFactory(variant=variant, quantity=1).cart, shipping_method=method)
    cart = CartLineFactory(variant=variant, quantity=1).cart

    with CaptureQueriesContext(connection) as queries, pytest.raises(OutOfStock) as caught:
        place(cart, shipping_method=method)

    statements = [query["sql"] for query in queries.captured_queries]
    assert not [sql for sql in statements if sql.startswith(("INSERT", "UPDATE", "DELETE"))]
    assert not [sql for sql in statements if 'FROM "shipping_stocklevel"' in sql]
    [shortage] = caught.value.shortages
    assert (shortage.sku, shortage.requested, shortage.available) == ("LAST-ONE", 1, 0)
    assert cart.lines.count() == 1
    assert Order.objects.count() == 1


def test_selling_a_well_stocked_product_keeps_the_cached_pages(
    client, method, django_capture_on_commit_callbacks, django_assert_num_queries
):
    variant = stocked_variant(units=50, product__title="Blue mug")
    page = variant.product.get_absolute_url()
    client.get(page)

    with django_capture_on_commit_callbacks(execute=True):
        place(CartLineFactory(variant=variant, quantity=1).cart, shipping_method=method)

    with django_assert_num_queries(0):
        assert "availability in-stock" in client.get(page).content.decode()


def test_the_next_request_shows_a_low_count_and_a_sell_out(
    client, method, django_capture_on_commit_callbacks
):
    variant = stocked_variant(units=8, product__title="Steel kettle")
    page, listing = variant.product.get_absolute_url(), reverse("catalog:product_list")
    assert "Only" not in client.get(page).content.decode()
    assert "badge sold-out" not in client.get(listing).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        place(CartLineFactory(variant=variant, quantity=5).cart, shipping_method=method)
    assert "Only 3 left" in client.get(page).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        place(CartLineFactory(variant=variant, quantity=3).cart, shipping_method=method)
    assert "availability sold-out" in client.get(page).content.decode()
    variant.product.refresh_from_db()
    assert not variant.product.in_stock
    assert "badge sold-out" in client.get(listing).content.decode()
