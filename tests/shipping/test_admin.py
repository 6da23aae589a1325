import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from shipping import admin as shipping_admin
from shipping.models import StockLevel, StockMovement
from shipping.services import StockError, receive_stock, reserve_stock
from tests.accounts.factories import StaffFactory
from tests.catalog.factories import VariantFactory
from tests.shipping.factories import (
    ShippingMethodFactory,
    StockLevelFactory,
    WarehouseFactory,
    order_line,
)

pytestmark = pytest.mark.django_db

Kind = StockMovement.Kind


@pytest.fixture
def staff(client):
    user = StaffFactory(is_superuser=True)
    client.force_login(user)
    return user


@pytest.fixture
def warehouse():
    return WarehouseFactory(code="main", name="Main")


def change_url(level):
    return reverse("admin:shipping_stocklevel_change", args=[level.pk])


def level_form(level, **fields):
    """What the change form posts: the editable fields plus the allocations' management form."""
    allocations = level.allocations.count()
    return {
        "low_stock_threshold": level.low_stock_threshold,
        "received": "",
        "counted": "",
        "note": "",
        "allocations-TOTAL_FORMS": allocations,
        "allocations-INITIAL_FORMS": allocations,
        "allocations-MIN_NUM_FORMS": 0,
        "allocations-MAX_NUM_FORMS": 1000,
        **fields,
    }


def test_every_shipping_admin_page_opens(client, staff, warehouse):
    level = receive_stock(variant=VariantFactory(), warehouse=warehouse, quantity=3)
    ShippingMethodFactory()
    for name in ("warehouse", "stocklevel", "stockmovement", "shippingmethod"):
        assert client.get(reverse(f"admin:shipping_{name}_changelist")).status_code == 200
    assert client.get(reverse("admin:shipping_stocklevel_add")).status_code == 200
    assert client.get(change_url(level)).status_code == 200
    movement = StockMovement.objects.get()
    page = client.get(reverse("admin:shipping_stockmovement_change", args=[movement.pk]))
    assert page.status_code == 200


def test_the_stock_ledger_cannot_be_added_to_changed_or_deleted(client, staff, warehouse):
    receive_stock(variant=VariantFactory(), warehouse=warehouse, quantity=3)
    movement = StockMovement.objects.get()

    add = client.get(reverse("admin:shipping_stockmovement_add"))
    change = client.post(
        reverse("admin:shipping_stockmovement_change", args=[movement.pk]),
        {"kind": Kind.RECEIPT, "on_hand_change": 300, "on_hand_after": 300, "reserved_after": 0},
    )
    delete = client.post(
        reverse("admin:shipping_stockmovement_delete", args=[movement.pk]), {"post": "yes"}
    )
    listing = client.get(reverse("admin:shipping_stockmovement_changelist"))

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert "delete_selected" not in listing.content.decode()
    movement.refresh_from_db()
    assert movement.on_hand_change == 3
    assert StockMovement.objects.count() == 1


def test_the_ledger_filters_by_kind_and_warehouse(client, staff, warehouse):
    elsewhere = WarehouseFactory(code="elsewhere")
    line = order_line(quantity=1, variant__sku="KIND-1")
    receive_stock(variant=line.variant, warehouse=warehouse, quantity=2)
    receive_stock(variant=VariantFactory(sku="OTHER-1"), warehouse=elsewhere, quantity=2)
    reserve_stock(order_lines=[line])
    url = reverse("admin:shipping_stockmovement_changelist")

    reservations = client.get(url, {"kind__exact": Kind.RESERVATION})
    in_elsewhere = client.get(url, {"stock_level__warehouse__id__exact": elsewhere.pk})

    assert list(reservations.context["cl"].result_list) == list(
        StockMovement.objects.filter(kind=Kind.RESERVATION)
    )
    assert [m.stock_level.variant.sku for m in in_elsewhere.context["cl"].result_list] == [
        "OTHER-1"
    ]


def test_the_low_stock_filter_lists_the_levels_down_to_their_threshold(client, staff, warehouse):
    StockLevelFactory(variant__sku="LOW-ON-HAND", warehouse=warehouse, on_hand=2)
    StockLevelFactory(variant__sku="AT-THRESHOLD", warehouse=warehouse, on_hand=5)
    StockLevelFactory(variant__sku="LOW-AFTER-ORDERS", warehouse=warehouse, on_hand=10, reserved=7)
    StockLevelFactory(variant__sku="PLENTY", warehouse=warehouse, on_hand=40, reserved=10)
    StockLevelFactory(
        variant__sku="HIGH-THRESHOLD", warehouse=warehouse, on_hand=40, low_stock_threshold=50
    )

    page = client.get(reverse("admin:shipping_stocklevel_changelist"), {"stock": "low"})

    listed = {level.variant.sku for level in page.context["cl"].result_list}
    assert listed == {"LOW-ON-HAND", "AT-THRESHOLD", "LOW-AFTER-ORDERS", "HIGH-THRESHOLD"}


def test_stock_levels_filter_by_warehouse_and_search_by_sku(client, staff, warehouse):
    elsewhere = WarehouseFactory(code="elsewhere")
    receive_stock(variant=VariantFactory(sku="MUG-RED"), warehouse=warehouse, quantity=1)
    receive_stock(variant=VariantFactory(sku="MUG-BLUE"), warehouse=elsewhere, quantity=1)
    url = reverse("admin:shipping_stocklevel_changelist")

    in_main = client.get(url, {"warehouse__id__exact": warehouse.pk})
    found = client.get(url, {"q": "mug-blue"})

    assert [lv.variant.sku for lv in in_main.context["cl"].result_list] == ["MUG-RED"]
    assert [lv.variant.sku for lv in found.context["cl"].result_list] == ["MUG-BLUE"]


def test_receiving_in_the_change_form_goes_through_the_ledger(client, staff, warehouse):
    level = receive_stock(variant=VariantFactory(), warehouse=warehouse, quantity=3)

    response = client.post(
        change_url(level), level_form(level, received=5, note="PO 99", on_hand=999)
    )

    assert response.status_code == 302
    level.refresh_from_db()
    assert level.on_hand == 8
    receipt = StockMovement.objects.latest("pk")
    assert (receipt.kind, receipt.on_hand_change, receipt.user, receipt.note) == (
        Kind.RECEIPT,
        5,
        staff,
        "PO 99",
    )
    level.variant.refresh_from_db()
    assert level.variant.stock_available == 8


def test_a_count_in_the_change_form_is_an_adjustment_and_keeps_the_threshold(
    client, staff, warehouse
):
    level = receive_stock(variant=VariantFactory(), warehouse=warehouse, quantity=10)

    client.post(
        change_url(level),
        level_form(level, counted=7, note="Stocktake", low_stock_threshold=2),
    )

    level.refresh_from_db()
    assert (level.on_hand, level.low_stock_threshold) == (7, 2)
    adjustment = StockMovement.objects.get(kind=Kind.ADJUSTMENT)
    assert (adjustment.on_hand_change, adjustment.user) == (-3, staff)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"counted": 7}, "Say why the count changed."),
        ({"counted": 1, "note": "Stocktake"}, "4 units are reserved for orders"),
        ({"counted": 7, "received": 2, "note": "x"}, "not both"),
        ({"received": -2}, "greater than or equal to 1"),
        ({"received": "lots"}, "Enter a whole number."),
        ({"received": 10**12}, "less than or equal to"),
    ],
)
def test_bad_counts_in_the_change_form_are_explained_and_change_nothing(
    client, staff, warehouse, fields, error
):
    line = order_line(quantity=4)
    level = receive_stock(variant=line.variant, warehouse=warehouse, quantity=10)
    reserve_stock(order_lines=[line])

    response = client.post(change_url(level), level_form(level, **fields))

    assert response.status_code == 200
    assert error in response.content.decode()
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (10, 4)
    assert StockMovement.objects.count() == 2


def test_a_count_refused_by_the_service_after_the_form_checked_it_is_a_message(
    client, staff, warehouse, monkeypatch
):
    level = receive_stock(variant=VariantFactory(), warehouse=warehouse, quantity=10)

    def refuse(**kwargs):
        raise StockError("Units were reserved meanwhile.")

    monkeypatch.setattr(shipping_admin.services, "adjust_stock", refuse)
    response = client.post(
        change_url(level), level_form(level, counted=1, note="Stocktake", low_stock_threshold=1)
    )

    assert response.status_code == 302
    assert response.url == change_url(level)
    assert "Units were reserved meanwhile." in [str(m) for m in get_messages(response.wsgi_request)]
    level.refresh_from_db()
    assert (level.on_hand, level.low_stock_threshold) == (10, 5)


def test_adding_a_stock_level_receives_its_first_units(client, staff, warehouse):
    variant = VariantFactory()

    response = client.post(
        reverse("admin:shipping_stocklevel_add"),
        {
            "variant": variant.pk,
            "warehouse": warehouse.pk,
            "low_stock_threshold": 3,
            "received": 12,
            "note": "Opening stock",
            "allocations-TOTAL_FORMS": 0,
            "allocations-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 302
    level = StockLevel.objects.get(variant=variant, warehouse=warehouse)
    assert (level.on_hand, level.reserved, level.low_stock_threshold) == (12, 0, 3)
    assert StockMovement.objects.get().kind == Kind.RECEIPT
    variant.refresh_from_db()
    assert variant.stock_available == 12


def test_adding_a_second_level_for_the_same_place_is_refused(client, staff, warehouse):
    level = receive_stock(variant=VariantFactory(), warehouse=warehouse, quantity=1)

    response = client.post(
        reverse("admin:shipping_stocklevel_add"),
        {
            "variant": level.variant_id,
            "warehouse": warehouse.pk,
            "low_stock_threshold": 3,
            "received": 12,
            "allocations-TOTAL_FORMS": 0,
            "allocations-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    level.refresh_from_db()
    assert level.on_hand == 1


def test_stock_levels_cannot_be_deleted_past_their_ledger(client, staff, warehouse):
    level = receive_stock(variant=VariantFactory(), warehouse=warehouse, quantity=1)

    response = client.post(
        reverse("admin:shipping_stocklevel_delete", args=[level.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert StockLevel.objects.filter(pk=level.pk).exists()


def test_the_sold_out_filter_lists_the_levels_with_nothing_left_to_sell(client, staff, warehouse):
    StockLevelFactory(variant__sku="ALL-PROMISED", warehouse=warehouse, on_hand=3, reserved=3)
    StockLevelFactory(variant__sku="EMPTY", warehouse=warehouse, on_hand=0)
    StockLevelFactory(variant__sku="ONE-LEFT", warehouse=warehouse, on_hand=3, reserved=2)

    page = client.get(reverse("admin:shipping_stocklevel_changelist"), {"stock": "out"})

    assert {level.variant.sku for level in page.context["cl"].result_list} == {
        "ALL-PROMISED",
        "EMPTY",
    }
