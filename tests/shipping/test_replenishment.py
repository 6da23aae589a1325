"""Replenishment: demand from the ledger, reorder point and order-up-to, purchase orders."""

import math
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from shipping import services
from shipping.models import PurchaseOrder, PurchaseOrderLine, StockLevel, StockMovement
from shipping.replenishment import policy_levels, simulate
from tests.accounts.factories import StaffFactory
from tests.catalog.factories import VariantFactory

from .factories import SupplierFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

Kind = StockMovement.Kind
Z_95 = 1.6448536269514722


def ledger_row(level, *, days_ago, kind, reserved):
    movement = StockMovement.objects.create(
        stock_level=level,
        kind=kind,
        reserved_change=reserved,
        on_hand_after=level.on_hand,
        reserved_after=0,
    )
    when = timezone.now() - timedelta(days=days_ago)
    StockMovement.objects.filter(pk=movement.pk).update(created_at=when)


@pytest.fixture
def level():
    """10 on hand; over the last 28 days, 4 units asked for on 14 days and none on the others.

    Day 2 had a fifth order of 4 that was cancelled the same day: it is no demand.
    Mean 2/day, population spread 2/day; the supplier delivers in 4 days, every 7 days.
    """
    warehouse = WarehouseFactory(code="main")
    variant = VariantFactory(sku="TEA")
    level = services.receive_stock(variant=variant, warehouse=warehouse, quantity=10)
    StockLevel.objects.filter(pk=level.pk).update(
        supplier=SupplierFactory(name="Tea Co", lead_time_days=4, review_days=7)
    )
    for days_ago in range(1, 29, 2):
        ledger_row(level, days_ago=days_ago, kind=Kind.RESERVATION, reserved=4)
    ledger_row(level, days_ago=2, kind=Kind.RESERVATION, reserved=4)
    ledger_row(level, days_ago=2, kind=Kind.RELEASE, reserved=-4)
    ledger_row(level, days_ago=40, kind=Kind.RESERVATION, reserved=50)
    return StockLevel.objects.select_related("supplier").get(pk=level.pk)


def test_the_policy_figures_equal_the_hand_computed_ones(level):
    plan = services.plan_replenishment(level=level)

    assert services.daily_demand(level=level) == [0, 4] * 14
    assert plan.mean == 2
    assert plan.spread == 2
    # 2 × 4 + 1.645 × 2 × √4 = 14.58 → 15; 15 + 2 × 7 = 29; 29 − 10 on hand = 19.
    assert plan.reorder_point == math.ceil(2 * 4 + Z_95 * 2 * 2) == 15
    assert plan.order_up_to == 29
    assert plan.position == 10
    assert plan.quantity == 19


def test_the_nightly_run_writes_a_draft_purchase_order_once(level):
    services.replenish_stock()
    services.replenish_stock()

    draft = PurchaseOrder.objects.get()
    assert draft.status == PurchaseOrder.Status.DRAFT
    assert (draft.supplier.name, draft.warehouse.code) == ("Tea Co", "main")
    assert list(draft.lines.values_list("variant__sku", "quantity", "reorder_point")) == [
        ("TEA", 19, 15)
    ]


def test_stock_above_the_reorder_point_orders_nothing(level):
    services.receive_stock(variant=level.variant, warehouse=level.warehouse, quantity=6)
    level.refresh_from_db()

    assert services.plan_replenishment(level=level).quantity == 0
    assert services.replenish_stock() == []


def test_the_command_dry_run_shows_the_plan_and_writes_nothing(level):
    out = StringIO()
    call_command("replenish_stock", "--dry-run", stdout=out)

    assert "reorder point 15, order up to 29, position 10 → order 19" in out.getvalue()
    assert "Would order 1 lines." in out.getvalue()
    assert not PurchaseOrder.objects.exists()

    call_command("replenish_stock", stdout=StringIO())
    assert PurchaseOrderLine.objects.get().quantity == 19


def test_receiving_a_purchase_order_raises_on_hand_by_exactly_its_quantity(level):
    services.replenish_stock()
    purchase_order = PurchaseOrder.objects.get()

    with pytest.raises(services.PurchaseOrderError, match="only a sent order can be received"):
        services.receive_purchase_order(purchase_order=purchase_order)
    services.send_purchase_order(purchase_order=purchase_order)
    services.receive_purchase_order(purchase_order=purchase_order)

    level.refresh_from_db()
    assert level.on_hand == 10 + 19
    receipt = level.movements.filter(kind=Kind.RECEIPT).first()
    assert (receipt.on_hand_change, receipt.note) == (19, f"Purchase order {purchase_order}")
    with pytest.raises(services.PurchaseOrderError):
        services.receive_purchase_order(purchase_order=purchase_order)
    level.refresh_from_db()
    assert level.on_hand == 29


def test_staff_send_and_receive_purchase_orders_in_admin(client, level):
    services.replenish_stock()
    purchase_order = PurchaseOrder.objects.get()
    client.force_login(StaffFactory(is_superuser=True))
    url = reverse("admin:shipping_purchaseorder_changelist")

    for action in ("send", "receive"):
        client.post(url, {"action": action, "_selected_action": [purchase_order.pk]})

    purchase_order.refresh_from_db()
    level.refresh_from_db()
    assert purchase_order.status == PurchaseOrder.Status.RECEIVED
    assert level.on_hand == 29


def test_the_low_stock_report_lists_levels_at_their_threshold_for_staff(client, level):
    StockLevel.objects.filter(pk=level.pk).update(low_stock_threshold=10)
    url = reverse("shipping:low_stock")

    assert client.get(url).status_code == 302
    client.force_login(StaffFactory())
    page = client.get(url).content.decode()

    assert "TEA" in page and "Tea Co" in page


def test_the_policy_formula_on_a_steady_demand_keeps_no_safety_stock():
    levels = policy_levels([3] * 28, lead_time_days=5, review_days=7)
    assert (levels.reorder_point, levels.order_up_to) == (15, 36)


def test_the_policy_stocks_out_less_than_a_fixed_rule_in_the_simulation():
    policy, fixed = simulate(variants=20, days=120, seed=1)

    assert policy.stockout_rate < fixed.stockout_rate
    assert policy.fill_rate > 0.95


def test_the_simulation_command_prints_a_table_and_refuses_bad_sizes():
    out = StringIO()
    call_command("simulate_replenishment", "--variants", "5", "--days", "30", stdout=out)
    assert "| Replenishment policy |" in out.getvalue()
    with pytest.raises(CommandError, match="at least 1"):
        call_command("simulate_replenishment", "--variants", "0")


def test_carriers_are_polled_and_stock_replenished_on_a_schedule(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"shipping.tasks.poll_carriers", "shipping.tasks.replenish_stock"} <= tasks
