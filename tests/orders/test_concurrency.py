"""Real concurrent checkouts on PostgreSQL: threads, each with its own connection."""

import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connections
from django.db.models import Sum

from catalog.models import UnitsSold
from catalog.services import fold_units_sold
from orders.models import Order, Voucher, VoucherRedemption
from orders.services import VoucherError
from shipping.models import StockLevel
from shipping.services import OutOfStock
from tests.shipping.factories import ShippingMethodFactory

from .factories import CartFactory, CartLineFactory, VoucherFactory, place, stocked_variant

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(tasks):
    """Run each task in its own thread and connection, all released at the same moment.

    Returns what each returned or raised, in order.
    """
    barrier = threading.Barrier(len(tasks))
    outcomes = [None] * len(tasks)

    def run(index, task):
        try:
            barrier.wait(timeout=30)
            outcomes[index] = task()
        except Exception as error:  # the outcome is what the test checks
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a checkout hung"
    return outcomes


def checkout(cart, method, **overrides):
    return lambda: place(
        cart, shipping_method=method, email=f"{uuid.uuid4().hex}@example.com", **overrides
    )


def assert_stock_matches_ledger():
    for level in StockLevel.objects.select_related("variant"):
        ledger = level.movements.aggregate(
            on_hand=Sum("on_hand_change"), reserved=Sum("reserved_change")
        )
        assert (level.on_hand, level.reserved) == (ledger["on_hand"], ledger["reserved"])
        assert 0 <= level.reserved <= level.on_hand
        assert level.variant.stock_available == level.on_hand - level.reserved


def test_fifty_shoppers_buy_ten_items_exactly_ten_orders():
    method = ShippingMethodFactory()
    variant = stocked_variant(units=10)
    carts = [CartLineFactory(variant=variant, quantity=1).cart for _ in range(50)]

    outcomes = run_together([checkout(cart, method) for cart in carts])

    orders = [outcome for outcome in outcomes if isinstance(outcome, Order)]
    sold_out = [outcome for outcome in outcomes if isinstance(outcome, OutOfStock)]
    assert len(orders) == 10 and len(sold_out) == 40, outcomes
    assert all(error.shortages[0].sku == variant.sku for error in sold_out)
    assert Order.objects.count() == 10
    level = StockLevel.objects.get(variant=variant)
    assert (level.on_hand, level.reserved) == (10, 10)
    assert_stock_matches_ledger()
    # The 40 who were told it sold out keep their carts.
    assert sum(cart.lines.count() for cart in carts) == 40


def test_carts_holding_the_same_variants_in_opposite_order_both_finish():
    method = ShippingMethodFactory()
    first, second = stocked_variant(units=100), stocked_variant(units=100)
    carts = []
    for index in range(20):
        cart = CartFactory()
        for variant in (first, second) if index % 2 else (second, first):
            CartLineFactory(cart=cart, variant=variant, quantity=2)
        carts.append(cart)

    outcomes = run_together([checkout(cart, method) for cart in carts])

    assert all(isinstance(outcome, Order) for outcome in outcomes), outcomes
    assert StockLevel.objects.aggregate(reserved=Sum("reserved"))["reserved"] == 80
    assert_stock_matches_ledger()


def test_voucher_limited_to_five_uses_is_used_five_times_by_twenty_checkouts():
    method = ShippingMethodFactory()
    variant = stocked_variant(units=100, price=Decimal("50.00"))
    VoucherFactory(code="FIVE", max_uses=5)
    carts = [CartLineFactory(variant=variant, quantity=1).cart for _ in range(20)]

    outcomes = run_together([checkout(cart, method, voucher_code="FIVE") for cart in carts])

    orders = [outcome for outcome in outcomes if isinstance(outcome, Order)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, VoucherError)]
    assert len(orders) == 5 and len(refused) == 15, outcomes
    assert Voucher.objects.get().times_used == 5
    assert VoucherRedemption.objects.count() == 5
    assert all(order.discount_total == Decimal("5.00") for order in orders)
    assert StockLevel.objects.get(variant=variant).reserved == 5


def test_simultaneous_submits_of_one_checkout_place_one_order():
    method = ShippingMethodFactory()
    variant = stocked_variant(units=10)
    cart = CartLineFactory(variant=variant, quantity=2).cart
    token = uuid.uuid4().hex

    outcomes = run_together(
        [lambda: place(cart, shipping_method=method, checkout_token=token) for _ in range(5)]
    )

    assert all(isinstance(outcome, Order) for outcome in outcomes), outcomes
    assert len({order.pk for order in outcomes}) == 1
    assert StockLevel.objects.get(variant=variant).reserved == 2


def test_units_sold_folded_while_shoppers_check_out_are_each_counted_once():
    method = ShippingMethodFactory()
    variant = stocked_variant(units=100)
    carts = [CartLineFactory(variant=variant, quantity=2).cart for _ in range(16)]
    folds = [fold_units_sold for _ in range(4)]

    outcomes = run_together([checkout(cart, method) for cart in carts] + folds)

    assert all(isinstance(outcome, Order) for outcome in outcomes[:16]), outcomes
    fold_units_sold()
    variant.product.refresh_from_db()
    assert variant.product.units_sold == 32
    assert not UnitsSold.objects.exists()
