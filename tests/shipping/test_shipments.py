"""Shipments: packing from stock, the parcel's journey, the order and payment following it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orders import services as order_services
from orders.models import Order
from payments.models import Payment
from shipping import services, tasks
from shipping.models import Carrier, Shipment, StockLevel, StockMovement
from tests.accounts.factories import StaffFactory
from tests.orders.factories import CartFactory, CartLineFactory, place, stocked_variant

from .factories import ShippingMethodFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

Status = Shipment.Status


@pytest.fixture
def cod_order(django_capture_on_commit_callbacks):
    """A cash-on-delivery order of 2 shirts and 1 mug, stock reserved, cash due."""
    cart = CartFactory()
    shirt = stocked_variant(units=10, price=Decimal("10.00"), sku="SHIRT")
    mug = stocked_variant(units=10, price=Decimal("10.00"), sku="MUG")
    CartLineFactory(cart=cart, variant=shirt, quantity=2)
    CartLineFactory(cart=cart, variant=mug, quantity=1)
    with django_capture_on_commit_callbacks(execute=True):
        order = place(cart, shipping_method=ShippingMethodFactory())
    return order


def line(order, sku):
    return order.lines.get(sku=sku)


def level(sku):
    return StockLevel.objects.get(variant__sku=sku)


def status_of(order):
    order.refresh_from_db()
    return order.status


def test_a_partial_then_a_full_shipment_move_the_order_and_the_ledger(cod_order):
    assert status_of(cod_order) == Order.Status.CONFIRMED

    first = services.create_shipment(order=cod_order, quantities={line(cod_order, "SHIRT").pk: 1})

    shirt = level("SHIRT")
    assert (shirt.on_hand, shirt.reserved) == (9, 1)
    movement = StockMovement.objects.filter(kind=StockMovement.Kind.SHIPMENT).get()
    assert (movement.on_hand_change, movement.reserved_change, movement.order) == (
        -1,
        -1,
        cod_order,
    )
    assert line(cod_order, "SHIRT").quantity_shipped == 1
    assert status_of(cod_order) == Order.Status.CONFIRMED  # packed, not gone yet

    services.advance_shipment(shipment=first, status=Status.SHIPPED)
    assert status_of(cod_order) == Order.Status.PARTIALLY_SHIPPED

    second = services.create_shipment(order=cod_order)
    services.advance_shipment(shipment=second, status=Status.SHIPPED)

    assert status_of(cod_order) == Order.Status.SHIPPED
    assert [(lv.on_hand, lv.reserved) for lv in (level("SHIRT"), level("MUG"))] == [(8, 0), (9, 0)]
    assert StockMovement.objects.filter(kind=StockMovement.Kind.SHIPMENT).count() == 3
    assert [(sl.order_line.sku, sl.quantity) for sl in second.lines.order_by("pk")] == [
        ("SHIRT", 1),
        ("MUG", 1),
    ]
    assert list(first.events.values_list("status", flat=True)) == [Status.PACKED, Status.SHIPPED]


def test_delivering_every_parcel_of_a_cash_order_delivers_it_and_marks_it_paid(cod_order):
    payment = Payment.objects.get(order=cod_order)
    assert payment.status == Payment.Status.PENDING
    first = services.create_shipment(order=cod_order, quantities={line(cod_order, "MUG").pk: 1})
    second = services.create_shipment(order=cod_order)
    for shipment in (first, second):
        services.advance_shipment(shipment=shipment, status=Status.SHIPPED)

    services.advance_shipment(shipment=first, status=Status.DELIVERED)
    assert status_of(cod_order) == Order.Status.SHIPPED
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING

    services.advance_shipment(shipment=second, status=Status.DELIVERED)
    assert status_of(cod_order) == Order.Status.DELIVERED
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED


def test_more_than_is_left_cannot_be_shipped(cod_order):
    services.create_shipment(order=cod_order)
    with pytest.raises(services.ShipmentError, match="Nothing is left to ship"):
        services.create_shipment(order=cod_order)
    with pytest.raises(services.ShipmentError, match="Only 0 of SHIRT"):
        services.create_shipment(order=cod_order, quantities={line(cod_order, "SHIRT").pk: 1})


def test_an_unpaid_card_order_cannot_be_shipped(cod_order):
    Order.objects.filter(pk=cod_order.pk).update(status=Order.Status.PENDING_PAYMENT)
    with pytest.raises(services.ShipmentError, match="can't be shipped"):
        services.create_shipment(order=cod_order)
    assert not Shipment.objects.exists()


def test_a_parcel_cannot_go_back_on_its_journey(cod_order):
    shipment = services.create_shipment(order=cod_order)
    services.advance_shipment(shipment=shipment, status=Status.DELIVERED)
    with pytest.raises(services.ShipmentError, match="can't become"):
        services.advance_shipment(shipment=shipment, status=Status.IN_TRANSIT)


def test_polling_the_carrier_twice_records_each_step_and_sends_each_email_once(
    cod_order, django_capture_on_commit_callbacks
):
    shipment = services.create_shipment(order=cod_order, carrier=Carrier.SIMULATED)
    assert shipment.tracking_number.startswith("SIM")
    two_days_ago = timezone.now() - timedelta(days=2)
    Shipment.objects.filter(pk=shipment.pk).update(created_at=two_days_ago)
    shipment.events.update(happened_at=two_days_ago)
    mail.outbox.clear()

    for _run in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.poll_carriers.delay()

    shipment.refresh_from_db()
    assert shipment.status == Status.DELIVERED
    assert list(shipment.events.values_list("status", flat=True)) == [
        Status.PACKED,
        Status.SHIPPED,
        Status.IN_TRANSIT,
        Status.OUT_FOR_DELIVERY,
        Status.DELIVERED,
    ]
    subjects = [message.subject for message in mail.outbox]
    assert subjects == [
        f"[Shop] Order {cod_order.number} is on its way",
        f"[Shop] Order {cod_order.number} was delivered",
    ]
    tracking = f"{reverse('shipping:track')}?number={cod_order.number}"
    assert all(tracking in message.body for message in mail.outbox)
    assert status_of(cod_order) == Order.Status.DELIVERED

    tasks.send_shipment_email(shipment.pk, "shipped")
    assert len(mail.outbox) == 2


def test_the_simulated_carrier_reports_only_what_has_happened_by_now(cod_order):
    shipment = services.create_shipment(order=cod_order, carrier=Carrier.SIMULATED)
    later = shipment.created_at + timedelta(hours=7)

    assert services.track_shipment(shipment=shipment, now=later) == 2
    assert services.track_shipment(shipment=shipment, now=later) == 0
    shipment.refresh_from_db()
    assert shipment.status == Status.IN_TRANSIT


def test_the_order_page_shows_the_tracking_timeline(client, cod_order):
    shipment = services.create_shipment(order=cod_order, tracking_number="TRK123")
    services.advance_shipment(shipment=shipment, status=Status.SHIPPED, note="Handed to DHL")

    url = f"{cod_order.get_absolute_url()}?key={cod_order.access_key}"
    page = client.get(url).content.decode()

    assert "TRK123" in page
    assert "Handed to DHL" in page
    assert "Packed" in page and "Shipped" in page


def test_the_public_tracking_page_needs_the_number_and_the_email(client, cod_order):
    services.create_shipment(order=cod_order, tracking_number="TRK777")
    url = reverse("shipping:track")

    found = client.get(url, {"number": cod_order.number.lower(), "email": "GUEST@example.com"})
    wrong = client.get(url, {"number": cod_order.number, "email": "someone@example.com"})
    bad = client.get(url, {"number": cod_order.number, "email": "not an email"})

    assert found.status_code == 200 and "TRK777" in found.content.decode()
    assert wrong.status_code == 404 and "TRK777" not in wrong.content.decode()
    assert "No order has this number and email." in wrong.content.decode()
    assert bad.status_code == 400


def test_the_packing_slip_is_for_staff_only(client, cod_order):
    shipment = services.create_shipment(order=cod_order)
    url = reverse("shipping:packing_slip", args=[shipment.pk])

    assert client.get(url).status_code == 302
    staff = StaffFactory()
    client.force_login(staff)
    assert client.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_shipment"))
    slip = client.get(url)

    assert slip.status_code == 200
    page = slip.content.decode()
    assert "SHIRT" in page and "MUG" in page and "Cash on delivery: collect" in page
    assert client.get(reverse("shipping:packing_slip", args=[999999])).status_code == 404


def test_staff_ship_part_of_an_order_in_admin_and_mark_it_shipped(client, cod_order):
    client.force_login(StaffFactory(is_superuser=True))

    response = client.post(
        reverse("admin:shipping_shipment_add"),
        {
            "order": cod_order.pk,
            "warehouse": "",
            "carrier": Carrier.MANUAL,
            "tracking_number": "DHL-1",
            "quantities": "shirt: 2",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    shipment = Shipment.objects.get()
    assert [(sl.order_line.sku, sl.quantity) for sl in shipment.lines.all()] == [("SHIRT", 2)]

    client.post(
        reverse("admin:shipping_shipment_changelist"),
        {"action": "mark_shipped", "_selected_action": [shipment.pk]},
    )
    assert status_of(cod_order) == Order.Status.PARTIALLY_SHIPPED


def test_admin_shows_a_broken_rule_as_a_message(client, cod_order):
    client.force_login(StaffFactory(is_superuser=True))
    data = {"order": cod_order.pk, "warehouse": "", "carrier": Carrier.MANUAL, "quantities": ""}
    client.post(reverse("admin:shipping_shipment_add"), data)

    response = client.post(reverse("admin:shipping_shipment_add"), data, follow=True)

    assert "Nothing is left to ship on this order." in response.content.decode()
    assert Shipment.objects.count() == 1


def test_a_line_split_across_warehouses_ships_from_each_in_turn():
    near = WarehouseFactory(code="near", name="Near", priority=10)
    far = WarehouseFactory(code="far", name="Far", priority=5)
    cart = CartFactory()
    lamp = stocked_variant(units=1, price=Decimal("10.00"), sku="LAMP", warehouse_code="near")
    services.receive_stock(variant=lamp, warehouse=far, quantity=2)
    CartLineFactory(cart=cart, variant=lamp, quantity=3)
    order = place(cart, shipping_method=ShippingMethodFactory())

    with pytest.raises(services.ShipmentError, match="Near can ship only 1 of LAMP"):
        services.create_shipment(order=order)
    services.create_shipment(order=order, quantities={line(order, "LAMP").pk: 1})
    with pytest.raises(services.ShipmentError, match="Near can ship only 0 of LAMP"):
        services.create_shipment(order=order, warehouse=near)
    services.create_shipment(order=order, warehouse=far)

    near_level = StockLevel.objects.get(warehouse=near)
    far_level = StockLevel.objects.get(warehouse=far)
    assert (near_level.on_hand, near_level.reserved) == (0, 0)
    assert (far_level.on_hand, far_level.reserved) == (0, 0)
    assert line(order, "LAMP").quantity_shipped == 3


def test_an_order_with_a_packed_shipment_can_no_longer_be_cancelled(cod_order):
    assert order_services.can_cancel(cod_order)
    services.create_shipment(order=cod_order, quantities={line(cod_order, "MUG").pk: 1})

    assert not order_services.can_cancel(cod_order)
    with pytest.raises(order_services.InvalidTransition, match="can no longer be cancelled"):
        order_services.cancel_order(order=cod_order)
    assert status_of(cod_order) == Order.Status.CONFIRMED
    assert [(lv.on_hand, lv.reserved) for lv in (level("SHIRT"), level("MUG"))] == [(10, 2), (9, 0)]
