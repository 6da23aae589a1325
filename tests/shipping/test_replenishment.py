"""Replenishment: demand from the ledger, reorder point and order-up-to, purchase orders."""

import math
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.services import setup_roles
from shipping import services, tasks
from shipping.models import PurchaseOrder, PurchaseOrderLine, StockLevel, StockMovement
from shipping.replenishment import policy_levels, simulate
from tests.accounts.factories import StaffFactory
from tests.catalog.factories import VariantFactory

from .factories import SupplierFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

Kind = StockMovement.Kind
Outcome = services.Outcome
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

    The window is today and the 27 days before it; demand fell 1, 3, …, 27 days ago, and
    today nothing was ordered yet. Day 2 had an order of 4 cancelled the same day: it is
    no demand.
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

    assert services.daily_demand(level=level) == [4, 0] * 14
    assert plan.mean == 2
    assert plan.spread == 2
    # 2 × 4 + 1.645 × 2 × √4 = 14.58 → 15; 15 + 2 × 7 = 29; 29 − 10 on hand = 19.
    assert plan.reorder_point == math.ceil(2 * 4 + Z_95 * 2 * 2) == 15
    assert plan.order_up_to == 29
    assert plan.position == 10
    assert plan.quantity == 19


def test_the_nightly_run_writes_a_draft_purchase_order_once(level):
    assert tasks.replenish_stock() == 1
    assert tasks.replenish_stock() == 0

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
    [plan] = services.replenish_stock()
    assert plan.outcome == Outcome.ABOVE_REORDER_POINT
    assert plan.reason == "position 16 above reorder point 15"
    assert not PurchaseOrder.objects.exists()


def test_what_orders_reserved_today_is_demand(level):
    """A shop whose sales all happened today (a fresh demo) still has demand to plan on."""
    ledger_row(level, days_ago=0, kind=Kind.RESERVATION, reserved=28)

    demand = services.daily_demand(level=level)

    assert len(demand) == 28
    assert demand[-1] == 28
    assert services.plan_replenishment(level=level).mean == 3


def test_each_stock_level_gets_the_reason_it_was_or_was_not_ordered(level):
    warehouse = level.warehouse
    services.receive_stock(variant=VariantFactory(sku="COFFEE"), warehouse=warehouse, quantity=1)
    quiet = services.receive_stock(
        variant=VariantFactory(sku="COCOA"), warehouse=warehouse, quantity=1
    )
    retired = services.receive_stock(
        variant=VariantFactory(sku="MATE", is_active=False), warehouse=warehouse, quantity=1
    )
    StockLevel.objects.filter(pk__in=[quiet.pk, retired.pk]).update(supplier=level.supplier)
    ledger_row(retired, days_ago=3, kind=Kind.RESERVATION, reserved=5)

    reasons = {plan.level.variant.sku: plan.reason for plan in services.replenish_stock()}

    assert reasons == {
        "TEA": "ordered 19 (position 10 ≤ reorder point 15, up to 29)",
        "COFFEE": "no supplier",
        "COCOA": "no demand in the last 28 days",
        "MATE": "not on sale",
    }
    assert list(PurchaseOrderLine.objects.values_list("variant__sku", flat=True)) == ["TEA"]


def test_the_command_dry_run_shows_the_plan_and_writes_nothing(level):
    out = StringIO()
    call_command("replenish_stock", "--dry-run", stdout=out)

    assert out.getvalue().splitlines() == [
        "TEA @ main: to order 19 (position 10 ≤ reorder point 15, up to 29); "
        "demand 2.00/day ± 2.00 over 28 days",
        "Would order 19 units on 1 line for 1 stock level.",
    ]
    assert not PurchaseOrder.objects.exists()

    call_command("replenish_stock", stdout=StringIO())
    assert PurchaseOrderLine.objects.get().quantity == 19


def test_the_command_says_why_nothing_was_ordered_when_asked_and_always_sums_up(level):
    services.receive_stock(
        variant=VariantFactory(sku="COFFEE"), warehouse=level.warehouse, quantity=1
    )
    call_command("replenish_stock", stdout=StringIO())

    quiet, verbose = StringIO(), StringIO()
    call_command("replenish_stock", verbosity=0, stdout=quiet)
    call_command("replenish_stock", verbosity=2, stdout=verbose)

    summary = (
        "Ordered 0 units on 0 lines for 2 stock levels; nothing for "
        "1 above the reorder point, 1 without a supplier."
    )
    assert quiet.getvalue().splitlines() == [summary]
    assert verbose.getvalue().splitlines() == [
        "TEA @ main: position 29 above reorder point 15; demand 2.00/day ± 2.00 over 28 days",
        "COFFEE @ main: no supplier",
        summary,
    ]


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


@pytest.fixture
def sent_order(level):
    """The policy's 19 units of TEA, sent to Tea Co."""
    services.replenish_stock()
    return services.send_purchase_order(purchase_order=PurchaseOrder.objects.get())


def test_a_partial_delivery_books_what_arrived_and_keeps_the_rest_on_order(level, sent_order):
    line = sent_order.lines.get()

    services.receive_purchase_order(purchase_order=sent_order, quantities={line.pk: 7})

    sent_order.refresh_from_db()
    line.refresh_from_db()
    level.refresh_from_db()
    assert sent_order.status == PurchaseOrder.Status.PARTIALLY_RECEIVED
    assert sent_order.received_at is None
    assert (line.quantity_received, line.outstanding) == (7, 12)
    assert level.on_hand == 17
    assert list(
        level.movements.filter(kind=Kind.RECEIPT).values_list("on_hand_change", flat=True)
    ) == [
        7,
        10,
    ]
    # Only the 12 still to come count as on order: 17 + 12 is the 29 the policy aims at.
    plan = services.plan_replenishment(level=level)
    assert (plan.position, plan.quantity) == (29, 0)

    services.receive_purchase_order(purchase_order=sent_order)

    sent_order.refresh_from_db()
    level.refresh_from_db()
    assert sent_order.status == PurchaseOrder.Status.RECEIVED
    assert sent_order.received_at is not None
    assert sent_order.lines.get().quantity_received == 19
    assert level.on_hand == 29
    assert services.plan_replenishment(level=level).position == 29


def test_a_delivery_cannot_bring_more_than_is_still_on_order(level, sent_order):
    line = sent_order.lines.get()
    services.receive_purchase_order(purchase_order=sent_order, quantities={line.pk: 15})

    with pytest.raises(services.PurchaseOrderError, match="Only 4 of TEA are still on order"):
        services.receive_purchase_order(purchase_order=sent_order, quantities={line.pk: 5})
    with pytest.raises(services.PurchaseOrderError, match="Enter the units that arrived"):
        services.receive_purchase_order(purchase_order=sent_order, quantities={line.pk: 0})

    level.refresh_from_db()
    assert level.on_hand == 25


def test_the_same_delivery_sent_twice_is_booked_once(level, sent_order):
    line = sent_order.lines.get()
    form = {
        "purchase_order": sent_order,
        "quantities": {line.pk: 7},
        "received_so_far": {line.pk: 0},
    }

    services.receive_purchase_order(**form)
    with pytest.raises(services.PurchaseOrderError, match="was booked meanwhile"):
        services.receive_purchase_order(**form)

    level.refresh_from_db()
    assert level.on_hand == 17
    assert level.movements.filter(kind=Kind.RECEIPT).count() == 2


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


def role(name):
    staff = StaffFactory()
    staff.groups.add(next(group for group in setup_roles() if group.name == name))
    return staff


def test_warehouse_staff_receive_a_delivery_line_by_line_and_a_resent_form_books_nothing(
    client, level, sent_order
):
    line = sent_order.lines.get()
    url = reverse("admin:shipping_purchaseorder_receive", args=[sent_order.pk])
    client.force_login(role("Warehouse staff"))

    page = client.get(url)
    assert page.status_code == 200
    assert f'name="line_{line.pk}"' in page.content.decode()
    form = {f"line_{line.pk}": 7, f"seen_{line.pk}": 0}
    first = client.post(url, form)
    again = client.post(url, form, follow=True)

    assert first.status_code == 302
    assert "was booked meanwhile" in again.content.decode()
    sent_order.refresh_from_db()
    level.refresh_from_db()
    assert sent_order.status == PurchaseOrder.Status.PARTIALLY_RECEIVED
    assert level.on_hand == 17
    change = client.get(reverse("admin:shipping_purchaseorder_change", args=[sent_order.pk]))
    assert url in change.content.decode()

    client.post(url, {f"line_{line.pk}": 12, f"seen_{line.pk}": 7})
    sent_order.refresh_from_db()
    level.refresh_from_db()
    assert sent_order.status == PurchaseOrder.Status.RECEIVED
    assert level.on_hand == 29


def test_staff_who_only_read_stock_cannot_receive(client, level, sent_order):
    line = sent_order.lines.get()
    url = reverse("admin:shipping_purchaseorder_receive", args=[sent_order.pk])
    client.force_login(role("Order managers"))

    assert client.get(url).status_code == 403
    assert client.post(url, {f"line_{line.pk}": 7, f"seen_{line.pk}": 0}).status_code == 403
    changelist = client.get(reverse("admin:shipping_purchaseorder_changelist"))
    # Sending and receiving are the only actions, and neither is offered.
    assert changelist.context["action_form"] is None
    level.refresh_from_db()
    assert level.on_hand == 10


def test_the_low_stock_report_lists_levels_at_their_threshold_for_staff(client, level):
    StockLevel.objects.filter(pk=level.pk).update(low_stock_threshold=10)
    url = reverse("shipping:low_stock")

    assert client.get(url).status_code == 302
    client.force_login(role("Customer service"))
    assert client.get(url).status_code == 403
    client.force_login(role("Warehouse staff"))
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


def test_a_second_draft_for_the_same_supplier_and_warehouse_is_refused_in_admin(client, level):
    services.replenish_stock()
    draft = PurchaseOrder.objects.get()
    client.force_login(StaffFactory(is_superuser=True))

    response = client.post(
        reverse("admin:shipping_purchaseorder_add"),
        {
            "supplier": draft.supplier_id,
            "warehouse": draft.warehouse_id,
            "lines-TOTAL_FORMS": 0,
            "lines-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 200
    assert f"{draft} is already the draft" in response.content.decode()
    assert PurchaseOrder.objects.count() == 1
