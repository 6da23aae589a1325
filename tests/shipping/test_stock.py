import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum

from shipping.models import Allocation, StockLevel, StockMovement
from shipping.services import (
    OutOfStock,
    Shortage,
    StockError,
    adjust_stock,
    consume_reservation,
    create_warehouse,
    receive_stock,
    receive_stock_batch,
    release_reservation,
    reserve_stock,
    return_stock,
)
from tests.accounts.factories import StaffFactory
from tests.catalog.factories import VariantFactory
from tests.orders.factories import OrderFactory
from tests.shipping.factories import StockLevelFactory, WarehouseFactory, order_line
from tests.shipping.test_stock_concurrency import run_concurrently

pytestmark = pytest.mark.django_db

Kind = StockMovement.Kind


def available(variant):
    variant.refresh_from_db()
    return variant.stock_available


def level_of(variant, warehouse):
    return StockLevel.objects.get(variant=variant, warehouse=warehouse)


def movements(**filters):
    return list(
        StockMovement.objects.filter(**filters)
        .order_by("pk")
        .values_list("kind", "on_hand_change", "reserved_change", "on_hand_after", "reserved_after")
    )


def assert_ledger_adds_up():
    """Every level equals the sum of its ledger rows, and every variant's figure its levels."""
    for level in StockLevel.objects.select_related("variant"):
        sums = level.movements.aggregate(
            on_hand=Sum("on_hand_change"), reserved=Sum("reserved_change")
        )
        assert (sums["on_hand"] or 0, sums["reserved"] or 0) == (level.on_hand, level.reserved)
        allocated = level.allocations.aggregate(total=Sum("quantity"))["total"] or 0
        assert allocated == level.reserved
    for level in StockLevel.objects.select_related("variant"):
        variant = level.variant
        free = sum(lv.available for lv in variant.stock_levels.all())
        assert available(variant) == free


@pytest.fixture
def main():
    return WarehouseFactory(code="main", name="Main", priority=20)


@pytest.fixture
def overflow():
    return WarehouseFactory(code="overflow", name="Overflow", priority=10)


@pytest.fixture
def staff():
    return StaffFactory()


def test_create_warehouse_twice_returns_the_same_warehouse():
    first = create_warehouse(code="berlin", name="Berlin", priority=5, country="DE")
    again = create_warehouse(code="berlin", name="Something else", priority=1)
    assert again == first
    again.refresh_from_db()
    assert (again.name, again.priority) == ("Berlin", 5)


def test_receiving_stock_creates_the_level_writes_a_receipt_and_makes_it_sellable(main, staff):
    variant = VariantFactory()
    level = receive_stock(variant=variant, warehouse=main, quantity=7, user=staff, note="PO 17")
    receive_stock(variant=variant, warehouse=main, quantity=3)

    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (10, 0)
    assert movements() == [(Kind.RECEIPT, 7, 0, 7, 0), (Kind.RECEIPT, 3, 0, 10, 0)]
    first = StockMovement.objects.earliest("pk")
    assert (first.user, first.note, first.order) == (staff, "PO 17", None)
    assert available(variant) == 10
    variant.product.refresh_from_db()
    assert variant.product.in_stock


@pytest.mark.parametrize("quantity", [0, -3, 2.5, "4", True])
def test_receiving_a_quantity_that_is_not_a_positive_whole_number_is_refused(main, quantity):
    variant = VariantFactory()
    with pytest.raises(StockError, match="whole number"):
        receive_stock(variant=variant, warehouse=main, quantity=quantity)
    assert not StockLevel.objects.exists()
    assert not StockMovement.objects.exists()


def test_a_count_sets_on_hand_and_writes_the_difference_as_an_adjustment(main, staff):
    variant = VariantFactory()
    receive_stock(variant=variant, warehouse=main, quantity=10)
    adjust_stock(variant=variant, warehouse=main, on_hand=8, user=staff, note="Two broken")

    assert level_of(variant, main).on_hand == 8
    assert movements(kind=Kind.ADJUSTMENT) == [(Kind.ADJUSTMENT, -2, 0, 8, 0)]
    assert StockMovement.objects.get(kind=Kind.ADJUSTMENT).note == "Two broken"
    assert available(variant) == 8


def test_a_count_below_the_reserved_units_is_refused_and_changes_nothing(main):
    line = order_line(quantity=4)
    receive_stock(variant=line.variant, warehouse=main, quantity=10)
    reserve_stock(order_lines=[line])

    with pytest.raises(StockError, match="4 units reserved"):
        adjust_stock(variant=line.variant, warehouse=main, on_hand=3, note="Stocktake")
    assert level_of(line.variant, main).on_hand == 10
    assert not StockMovement.objects.filter(kind=Kind.ADJUSTMENT).exists()
    assert available(line.variant) == 6


def test_a_count_needs_a_reason(main):
    variant = VariantFactory()
    with pytest.raises(StockError, match="why"):
        adjust_stock(variant=variant, warehouse=main, on_hand=3, note="  ")
    assert not StockMovement.objects.exists()


def test_reserving_takes_stock_from_the_highest_priority_warehouse_that_fills_the_line(
    main, overflow
):
    line = order_line(quantity=3)
    receive_stock(variant=line.variant, warehouse=overflow, quantity=50)
    receive_stock(variant=line.variant, warehouse=main, quantity=5)

    (allocation,) = reserve_stock(order_lines=[line])

    assert (allocation.stock_level.warehouse, allocation.quantity) == (main, 3)
    assert level_of(line.variant, main).reserved == 3
    assert level_of(line.variant, overflow).reserved == 0
    reservation = StockMovement.objects.get(kind=Kind.RESERVATION)
    assert (reservation.order, reservation.reserved_change, reservation.on_hand_change) == (
        line.order,
        3,
        0,
    )
    assert available(line.variant) == 52
    assert_ledger_adds_up()


def test_a_line_no_warehouse_can_fill_alone_is_split_by_priority(main, overflow):
    low = WarehouseFactory(code="low", priority=1)
    line = order_line(quantity=8)
    for warehouse, units in [(low, 5), (overflow, 4), (main, 2)]:
        receive_stock(variant=line.variant, warehouse=warehouse, quantity=units)

    allocations = reserve_stock(order_lines=[line])

    taken = {a.stock_level.warehouse.code: a.quantity for a in allocations}
    assert taken == {"main": 2, "overflow": 4, "low": 2}
    assert available(line.variant) == 3
    assert StockMovement.objects.filter(kind=Kind.RESERVATION).count() == 3
    assert_ledger_adds_up()


def test_a_line_that_fits_in_a_lower_priority_warehouse_is_not_split(main, overflow):
    line = order_line(quantity=4)
    receive_stock(variant=line.variant, warehouse=main, quantity=2)
    receive_stock(variant=line.variant, warehouse=overflow, quantity=6)

    (allocation,) = reserve_stock(order_lines=[line])

    assert (allocation.stock_level.warehouse, allocation.quantity) == (overflow, 4)


def test_inactive_warehouses_are_not_reserved_from(main, overflow):
    overflow.is_active = False
    overflow.save()
    line = order_line(quantity=3)
    receive_stock(variant=line.variant, warehouse=main, quantity=1)
    receive_stock(variant=line.variant, warehouse=overflow, quantity=9)

    with pytest.raises(OutOfStock) as caught:
        reserve_stock(order_lines=[line])
    assert caught.value.shortages[0].available == 1


def test_out_of_stock_names_every_short_line_and_changes_nothing(main):
    order = OrderFactory()
    plenty = order_line(order=order, quantity=2)
    short = order_line(
        order=order, quantity=5, variant__sku="MUG-RED", variant__product__title="Mug"
    )
    never_stocked = order_line(
        order=order,
        quantity=1,
        variant__sku="MUG-BLUE",
        variant__name="Blue",
        variant__product__title="Mug",
    )
    receive_stock(variant=plenty.variant, warehouse=main, quantity=10)
    receive_stock(variant=short.variant, warehouse=main, quantity=3)
    before = movements()

    with pytest.raises(OutOfStock) as caught:
        reserve_stock(order_lines=[plenty, short, never_stocked])

    assert caught.value.shortages == [
        Shortage(variant_id=short.variant_id, sku="MUG-RED", requested=5, available=3),
        Shortage(variant_id=never_stocked.variant_id, sku="MUG-BLUE", requested=1, available=0),
    ]
    assert caught.value.reasons == [
        "Only 3 of “Mug” left; your cart asks for 5.",
        "Sorry, “Mug – Blue” is sold out.",
    ]
    assert movements() == before
    assert not Allocation.objects.exists()
    assert level_of(plenty.variant, main).reserved == 0
    assert (available(plenty.variant), available(short.variant)) == (10, 3)


def test_two_lines_of_one_variant_share_what_is_left(main):
    order = OrderFactory()
    variant = VariantFactory(sku="TEE-M")
    first = order_line(order=order, variant=variant, quantity=3)
    second = order_line(order=order, variant=variant, quantity=3)
    receive_stock(variant=variant, warehouse=main, quantity=4)

    with pytest.raises(OutOfStock) as caught:
        reserve_stock(order_lines=[first, second])

    assert caught.value.shortages == [
        Shortage(variant_id=variant.pk, sku="TEE-M", requested=3, available=1)
    ]


def test_reserving_the_same_lines_twice_is_refused(main):
    line = order_line(quantity=1)
    receive_stock(variant=line.variant, warehouse=main, quantity=5)
    reserve_stock(order_lines=[line])

    with pytest.raises(StockError, match="already reserved"):
        reserve_stock(order_lines=[line])
    assert level_of(line.variant, main).reserved == 1


def test_releasing_an_order_gives_back_every_unit_and_a_second_release_changes_nothing(
    main, overflow, staff
):
    order = OrderFactory()
    split = order_line(order=order, quantity=6)
    other = order_line(order=order, quantity=1)
    receive_stock(variant=split.variant, warehouse=main, quantity=4)
    receive_stock(variant=split.variant, warehouse=overflow, quantity=4)
    receive_stock(variant=other.variant, warehouse=main, quantity=1)
    reserve_stock(order_lines=[split, other])
    assert (available(split.variant), available(other.variant)) == (2, 0)

    release_reservation(order=order, user=staff, note="Cancelled by shopper")
    release_reservation(order=order, user=staff, note="Cancelled by shopper")

    assert not Allocation.objects.exists()
    assert not StockLevel.objects.filter(reserved__gt=0).exists()
    releases = StockMovement.objects.filter(kind=Kind.RELEASE)
    assert sorted(releases.values_list("reserved_change", flat=True)) == [-4, -2, -1]
    assert {(m.order, m.user, m.note) for m in releases} == {(order, staff, "Cancelled by shopper")}
    assert (available(split.variant), available(other.variant)) == (8, 1)
    assert_ledger_adds_up()


def test_releasing_leaves_other_orders_reservations_alone(main):
    mine = order_line(quantity=2)
    theirs = order_line(variant=mine.variant, quantity=3)
    receive_stock(variant=mine.variant, warehouse=main, quantity=5)
    reserve_stock(order_lines=[mine])
    reserve_stock(order_lines=[theirs])

    release_reservation(order=mine.order)

    assert level_of(mine.variant, main).reserved == 3
    assert available(mine.variant) == 2
    assert_ledger_adds_up()


def test_shipping_takes_the_units_off_hand_with_their_reservation(main, staff):
    line = order_line(quantity=3)
    receive_stock(variant=line.variant, warehouse=main, quantity=10)
    reserve_stock(order_lines=[line])

    consume_reservation(order_line=line, quantity=2, user=staff, note="Parcel 1")

    level = level_of(line.variant, main)
    assert (level.on_hand, level.reserved) == (8, 1)
    assert movements(kind=Kind.SHIPMENT) == [(Kind.SHIPMENT, -2, -2, 8, 1)]
    assert StockMovement.objects.get(kind=Kind.SHIPMENT).order == line.order
    assert Allocation.objects.get().quantity == 1
    assert available(line.variant) == 7

    consume_reservation(order_line=line, quantity=1)
    assert not Allocation.objects.exists()
    release_reservation(order=line.order)
    assert not StockMovement.objects.filter(kind=Kind.RELEASE).exists()
    assert_ledger_adds_up()


def test_shipping_a_split_line_empties_the_higher_priority_warehouse_first(main, overflow):
    line = order_line(quantity=5)
    receive_stock(variant=line.variant, warehouse=main, quantity=3)
    receive_stock(variant=line.variant, warehouse=overflow, quantity=3)
    reserve_stock(order_lines=[line])

    consume_reservation(order_line=line, quantity=4)

    assert level_of(line.variant, main).on_hand == 0
    assert (
        level_of(line.variant, overflow).on_hand,
        level_of(line.variant, overflow).reserved,
    ) == (
        2,
        1,
    )
    assert_ledger_adds_up()


def test_shipping_more_than_is_reserved_is_refused(main):
    line = order_line(quantity=2)
    receive_stock(variant=line.variant, warehouse=main, quantity=10)
    reserve_stock(order_lines=[line])

    with pytest.raises(StockError, match="only 2 are reserved"):
        consume_reservation(order_line=line, quantity=3)
    assert level_of(line.variant, main).on_hand == 10
    assert not StockMovement.objects.filter(kind=Kind.SHIPMENT).exists()


def test_returned_units_go_back_on_hand_with_the_order_in_the_ledger(main):
    line = order_line(quantity=1)
    receive_stock(variant=line.variant, warehouse=main, quantity=1)
    reserve_stock(order_lines=[line])
    consume_reservation(order_line=line, quantity=1)
    assert available(line.variant) == 0

    return_stock(
        variant=line.variant, warehouse=main, quantity=1, order=line.order, note="Wrong size"
    )

    returned = StockMovement.objects.get(kind=Kind.RETURN)
    assert (returned.on_hand_change, returned.on_hand_after, returned.order) == (1, 1, line.order)
    assert available(line.variant) == 1
    assert_ledger_adds_up()


def test_the_database_refuses_more_reserved_than_on_hand():
    level = StockLevelFactory(on_hand=2, reserved=2)
    level.reserved = 3
    with pytest.raises(IntegrityError), transaction.atomic():
        level.save()


def test_the_database_refuses_negative_reservations():
    level = StockLevelFactory(on_hand=2)
    level.reserved = -1
    with pytest.raises(IntegrityError), transaction.atomic():
        level.save()


def test_a_batch_receipt_writes_the_ledger_receiving_one_by_one_would(main, overflow, staff):
    one_by_one, batched = VariantFactory(), VariantFactory()
    receive_stock(variant=one_by_one, warehouse=main, quantity=7, user=staff, note="PO 18")
    receive_stock(variant=one_by_one, warehouse=overflow, quantity=3, user=staff, note="PO 18")

    levels = receive_stock_batch(
        receipts=[(batched.pk, main.pk, 7), (batched.pk, overflow.pk, 3)], user=staff, note="PO 18"
    )

    assert {(level.warehouse_id, level.on_hand, level.reserved) for level in levels} == {
        (main.pk, 7, 0),
        (overflow.pk, 3, 0),
    }

    def ledger(variant):
        return sorted(
            StockMovement.objects.filter(stock_level__variant=variant).values_list(
                "stock_level__warehouse__code",
                "kind",
                "on_hand_change",
                "reserved_change",
                "on_hand_after",
                "reserved_after",
                "user",
                "note",
            )
        )

    assert ledger(batched) == ledger(one_by_one)
    assert available(batched) == available(one_by_one) == 10
    batched.product.refresh_from_db()
    assert batched.product.in_stock
    assert_ledger_adds_up()


def test_a_batch_tops_up_existing_stock_without_touching_its_reservations(main, overflow):
    line = order_line(quantity=2)
    stocked = line.variant
    receive_stock(variant=stocked, warehouse=main, quantity=5)
    reserve_stock(order_lines=[line])
    new = VariantFactory()

    receive_stock_batch(
        receipts=[
            (stocked.pk, main.pk, 4),
            (stocked.pk, overflow.pk, 6),
            (new.pk, main.pk, 3),
        ]
    )

    assert (level_of(stocked, main).on_hand, level_of(stocked, main).reserved) == (9, 2)
    assert level_of(stocked, overflow).on_hand == 6
    assert movements(stock_level=level_of(stocked, main)) == [
        (Kind.RECEIPT, 5, 0, 5, 0),
        (Kind.RESERVATION, 0, 2, 5, 2),
        (Kind.RECEIPT, 4, 0, 9, 2),
    ]
    assert available(stocked) == 5 + 4 + 6 - 2
    assert available(new) == 3
    assert_ledger_adds_up()


def test_batch_receipts_for_the_same_stock_row_are_added_together(main):
    variant = VariantFactory()

    receive_stock_batch(receipts=[(variant.pk, main.pk, 2), (variant.pk, main.pk, 5)])

    assert level_of(variant, main).on_hand == 7
    assert movements() == [(Kind.RECEIPT, 7, 0, 7, 0)]
    assert available(variant) == 7


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (("variant", "main", 0), "whole number"),
        (("variant", "main", 1.5), "whole number"),
        ((999_999, "main", 3), "no variant with the id 999999"),
        (("variant", 999_999, 3), "no warehouse with the id 999999"),
    ],
)
def test_a_batch_with_one_bad_receipt_writes_nothing(main, bad, message):
    variant, stocked = VariantFactory(), VariantFactory()
    receive_stock(variant=stocked, warehouse=main, quantity=1)
    ids = {"variant": variant.pk, "main": main.pk}
    bad = tuple(ids.get(part, part) for part in bad)

    with pytest.raises(StockError, match=message):
        receive_stock_batch(receipts=[(variant.pk, main.pk, 4), (stocked.pk, main.pk, 4), bad])

    assert not StockLevel.objects.filter(variant=variant).exists()
    assert level_of(stocked, main).on_hand == 1
    assert StockMovement.objects.count() == 1
    assert (available(variant), available(stocked)) == (0, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_batches_stocking_the_same_new_variant_at_once_both_count():
    main = WarehouseFactory(code="main")
    variant = VariantFactory()

    def batch():
        return receive_stock_batch(receipts=[(variant.pk, main.pk, 4)])

    outcomes = run_concurrently([batch, batch, batch])

    assert all(isinstance(outcome, list) for outcome in outcomes), outcomes
    assert level_of(variant, main).on_hand == 12
    assert StockMovement.objects.filter(kind=Kind.RECEIPT).count() == 3
    assert available(variant) == 12
    assert_ledger_adds_up()


def test_stock_in_an_inactive_warehouse_is_not_offered():
    variant = VariantFactory()
    closed = WarehouseFactory(code="closed", is_active=False)
    receive_stock(variant=variant, warehouse=closed, quantity=4, note="delivery")
    variant.refresh_from_db()
    assert variant.stock_available == 0
