"""Real concurrent transactions on PostgreSQL: each thread has its own connection."""

import threading

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from shipping.models import Allocation, StockLevel, StockMovement
from shipping.services import OutOfStock, receive_stock, reserve_stock
from tests.catalog.factories import VariantFactory
from tests.orders.factories import OrderFactory
from tests.shipping.factories import WarehouseFactory, order_line

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREAD_TIMEOUT = 60


def run_concurrently(jobs):
    """Start every job at the same moment, each in its own thread and connection.

    Returns what each job returned or raised, in the order of the jobs.
    """
    barrier = threading.Barrier(len(jobs))
    outcomes = [None] * len(jobs)

    def run(index, job):
        try:
            barrier.wait()
            outcomes[index] = job()
        except Exception as error:
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a checkout never finished"
    return outcomes


def checkout(lines):
    def job():
        with transaction.atomic():
            return reserve_stock(order_lines=lines)

    return job


def test_fifty_shoppers_share_ten_units_and_nobody_gets_one_too_many():
    warehouse = WarehouseFactory()
    variant = VariantFactory()
    receive_stock(variant=variant, warehouse=warehouse, quantity=10)
    lines = [order_line(variant=variant, quantity=1) for _ in range(50)]

    outcomes = run_concurrently([checkout([line]) for line in lines])

    sold = [outcome for outcome in outcomes if isinstance(outcome, list)]
    sold_out = [outcome for outcome in outcomes if isinstance(outcome, OutOfStock)]
    assert (len(sold), len(sold_out)) == (10, 40), outcomes
    assert all(error.shortages[0].available == 0 for error in sold_out)

    level = StockLevel.objects.get()
    ledger = level.movements.aggregate(
        on_hand=Sum("on_hand_change"), reserved=Sum("reserved_change")
    )
    assert (level.on_hand, level.reserved) == (10, 10)
    assert (ledger["on_hand"], ledger["reserved"]) == (10, 10)
    assert level.movements.filter(kind=StockMovement.Kind.RESERVATION).count() == 10
    assert Allocation.objects.aggregate(units=Sum("quantity"))["units"] == 10
    variant.refresh_from_db()
    assert variant.stock_available == 0


def test_two_orders_holding_the_same_variants_in_opposite_order_both_finish():
    near, far = WarehouseFactory(priority=20), WarehouseFactory(priority=10)
    mug, tee = VariantFactory(), VariantFactory()
    for variant in (mug, tee):
        receive_stock(variant=variant, warehouse=near, quantity=30)
        receive_stock(variant=variant, warehouse=far, quantity=30)

    for _round in range(15):
        first, second = OrderFactory(), OrderFactory()
        jobs = [
            checkout(
                [
                    order_line(order=first, variant=mug, quantity=2),
                    order_line(order=first, variant=tee, quantity=2),
                ]
            ),
            checkout(
                [
                    order_line(order=second, variant=tee, quantity=2),
                    order_line(order=second, variant=mug, quantity=2),
                ]
            ),
        ]
        outcomes = run_concurrently(jobs)
        assert all(isinstance(outcome, list) for outcome in outcomes), outcomes

    for variant in (mug, tee):
        variant.refresh_from_db()
        assert variant.stock_available == 60 - 15 * 4
    for level in StockLevel.objects.all():
        assert level.movements.aggregate(units=Sum("reserved_change"))["units"] == level.reserved
