from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.services import setup_roles
from orders import services
from orders.models import Order, OrderEvent
from payments.services import open_payment
from shipping.models import StockLevel
from tests.accounts.factories import StaffFactory
from tests.shipping.factories import ShippingMethodFactory

from .factories import (
    CartLineFactory,
    OrderFactory,
    OrderLineFactory,
    VoucherFactory,
    place,
    stocked_variant,
)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:orders_order_changelist")
S = Order.Status


def staff_with(*codenames):
    staff = StaffFactory()
    staff.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="orders", codename__in=codenames)
    )
    return staff


@pytest.fixture
def order_manager(client):
    manager = StaffFactory()
    manager.groups.add(next(group for group in setup_roles() if group.name == "Order managers"))
    client.force_login(manager)
    return client


def run_action(client, action, *orders):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [order.pk for order in orders]},
        follow=True,
    )


def messages_of(response):
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def test_search_by_email_finds_the_order(order_manager):
    wanted = OrderFactory(email="mei.chen@example.com")
    OrderFactory(email="someone.else@example.com")

    response = order_manager.get(CHANGELIST, {"q": "mei.chen@"})

    assert list(response.context["cl"].result_list) == [wanted]


@pytest.mark.parametrize(("field", "query"), [("number", "T7777777"), ("full_name", "Brunhilde")])
def test_search_by_number_or_name_finds_the_order(order_manager, field, query):
    wanted = OrderFactory(**{field: query})
    OrderFactory()

    response = order_manager.get(CHANGELIST, {"q": query})

    assert list(response.context["cl"].result_list) == [wanted]


def test_orders_are_filtered_by_status_and_payment_method(order_manager):
    wanted = OrderFactory(status=S.PAID, payment_method=Order.PaymentMethod.BANK_TRANSFER)
    OrderFactory(status=S.PAID, payment_method=Order.PaymentMethod.CASH_ON_DELIVERY)
    OrderFactory(status=S.CANCELLED, payment_method=Order.PaymentMethod.BANK_TRANSFER)

    response = order_manager.get(
        CHANGELIST, {"status__exact": "paid", "payment_method__exact": "bank_transfer"}
    )

    assert list(response.context["cl"].result_list) == [wanted]


def test_order_page_shows_lines_and_history_and_edits_no_price(order_manager):
    order = OrderFactory(subtotal=Decimal("19.99"), total=Decimal("19.99"))
    OrderLineFactory(
        order=order,
        variant=None,
        product_title="Enamel mug",
        sku="MUG-1",
        unit_price=Decimal("19.99"),
        line_total=Decimal("19.99"),
    )
    OrderEvent.objects.create(order=order, from_status="", to_status=S.PENDING_PAYMENT)
    url = reverse("admin:orders_order_change", args=[order.pk])

    page = order_manager.get(url)
    order_manager.post(url, {"total": "0.01", "subtotal": "0.01", "status": "completed"})

    assert page.status_code == 200
    assert "Enamel mug" in page.content.decode()
    assert "Awaiting payment" in page.content.decode()
    assert 'name="total"' not in page.content.decode()
    order.refresh_from_db()
    assert (order.total, order.status) == (Decimal("19.99"), S.PENDING_PAYMENT)


def test_staff_cannot_add_or_delete_orders(order_manager):
    order = OrderFactory()

    assert order_manager.get(reverse("admin:orders_order_add")).status_code == 403
    assert (
        order_manager.get(reverse("admin:orders_order_delete", args=[order.pk])).status_code == 403
    )


def test_staff_who_may_only_view_orders_see_no_actions(client):
    client.force_login(staff_with("view_order"))
    order = OrderFactory()

    response = client.get(CHANGELIST)
    refused = run_action(client, "cancel", order)

    assert response.status_code == 200
    assert response.context["action_form"] is None
    assert "mark_paid" not in response.content.decode()
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT
    assert refused.status_code == 200


def test_order_managers_see_the_actions(order_manager):
    response = order_manager.get(CHANGELIST)

    choices = [value for value, _label in response.context["action_form"].fields["action"].choices]
    assert choices[1:] == ["mark_paid", "complete", "cancel"]


def test_packing_and_delivering_are_offered_to_whoever_may_make_shipments(client):
    warehouse = staff_with("view_order")
    warehouse.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="shipping", codename__in=["add_shipment", "change_shipment"]
        )
    )
    client.force_login(warehouse)

    response = client.get(CHANGELIST)

    choices = [value for value, _label in response.context["action_form"].fields["action"].choices]
    assert choices[1:] == ["ship", "deliver"]


def test_marking_a_bank_transfer_paid_moves_it_and_records_who(order_manager):
    order = OrderFactory(status=S.PENDING_PAYMENT, payment_method=Order.PaymentMethod.BANK_TRANSFER)

    response = run_action(order_manager, "mark_paid", order)

    order.refresh_from_db()
    assert order.status == S.PAID
    event = order.events.get(to_status=S.PAID)
    assert event.user == response.wsgi_request.user
    assert ("success", "1 order marked paid.") in messages_of(response)


def test_an_action_the_status_does_not_allow_is_refused_with_a_message(order_manager):
    order = OrderFactory(status=S.PENDING_PAYMENT)

    response = run_action(order_manager, "complete", order)

    assert response.status_code == 200
    assert messages_of(response) == [
        (
            "error",
            f"Order {order.number} was not changed: “Mark completed” is not possible for an "
            "order that is “Awaiting payment”.",
        )
    ]
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT
    assert not order.events.exists()


def test_each_refused_order_gets_its_message_and_the_others_still_move(order_manager):
    paid = OrderFactory(status=S.PAID)
    cancelled = OrderFactory(status=S.CANCELLED)
    completed = OrderFactory(status=S.COMPLETED)

    response = run_action(order_manager, "cancel", paid, cancelled, completed)

    errors = [text for level, text in messages_of(response) if level == "error"]
    assert len(errors) == 2
    assert cancelled.number in errors[0]
    assert completed.number in errors[1]
    assert ("success", "1 order cancelled.") in messages_of(response)
    assert Order.objects.get(pk=paid.pk).status == S.CANCELLED
    assert Order.objects.get(pk=completed.pk).status == S.COMPLETED


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (status, action)
        for status in S.values
        for action in ("ship", "deliver", "complete", "cancel")
        if action not in services.STAFF_ACTIONS[status]
    ],
)
def test_every_action_the_staff_table_forbids_is_refused(admin_client, status, action):
    order = OrderFactory(status=status)

    response = run_action(admin_client, action, order)

    assert [level for level, _text in messages_of(response)] == ["error"]
    assert Order.objects.get(pk=order.pk).status == status
    assert not order.shipments.exists()


def test_the_order_page_offers_only_what_its_status_allows(admin_client):
    order = OrderFactory(status=S.PAID)

    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).text

    assert "Pack and ship what is left" in page
    assert "Cancel (releases the stock)" in page
    assert "Mark completed" not in page
    assert "Mark the parcels delivered" not in page


def test_shipping_and_delivering_from_the_order_admin_goes_through_shipments(admin_client):
    variant = stocked_variant(units=5)
    order = place(
        CartLineFactory(variant=variant, quantity=2).cart,
        shipping_method=ShippingMethodFactory(),
    )
    open_payment(order=order)  # order_placed is sent on commit, which tests don't reach
    level = StockLevel.objects.get(variant=variant)
    assert (level.on_hand, level.reserved) == (5, 2)

    run_action(admin_client, "ship", order)

    order.refresh_from_db()
    shipment = order.shipments.get()
    assert (order.status, shipment.status) == (S.SHIPPED, "shipped")
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (3, 0)
    assert level.movements.filter(kind="shipment", order=order).get().on_hand_change == -2
    assert order.lines.get().quantity_shipped == 2

    run_action(admin_client, "deliver", order)

    order.refresh_from_db()
    shipment.refresh_from_db()
    assert (order.status, shipment.status) == (S.DELIVERED, "delivered")
    assert order.payments.get().status == "succeeded", "cash is collected on delivery"


@pytest.mark.parametrize(
    "payment_method", [Order.PaymentMethod.CARD, Order.PaymentMethod.CASH_ON_DELIVERY]
)
def test_only_bank_transfers_are_marked_paid_by_hand(order_manager, payment_method):
    order = OrderFactory(status=S.PENDING_PAYMENT, payment_method=payment_method)

    response = run_action(order_manager, "mark_paid", order)

    assert messages_of(response) == [
        (
            "error",
            f"Order {order.number} was not changed: only bank transfers are marked paid by hand.",
        )
    ]
    assert Order.objects.get(pk=order.pk).status == S.PENDING_PAYMENT


def test_cancelling_in_admin_cancels_through_the_service(order_manager):
    order = OrderFactory(status=S.PENDING_PAYMENT)

    response = run_action(order_manager, "cancel", order)

    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert order.events.get(to_status=S.CANCELLED).user == response.wsgi_request.user
    assert ("success", "1 order cancelled.") in messages_of(response)


def test_voucher_list_shows_how_often_each_was_used(client):
    client.force_login(staff_with("view_voucher", "view_order"))
    VoucherFactory(code="SPRING", max_uses=5, times_used=2)
    VoucherFactory(code="FOREVER", max_uses=None, times_used=7)

    page = client.get(reverse("admin:orders_voucher_changelist")).content.decode()

    assert "2 / 5" in page
    assert "7 / ∞" in page


def test_voucher_usage_links_to_the_orders_that_used_it(client):
    client.force_login(staff_with("view_voucher", "view_order"))
    voucher = VoucherFactory(times_used=1)
    used = OrderFactory(voucher=voucher)
    OrderFactory()

    response = client.get(CHANGELIST, {"voucher__id__exact": voucher.pk})

    assert list(response.context["cl"].result_list) == [used]


def test_staff_cannot_set_how_often_a_voucher_was_used(client):
    client.force_login(staff_with("view_voucher", "change_voucher"))
    voucher = VoucherFactory(code="SPRING", value=Decimal("10"), max_uses=5, times_used=2)

    response = client.post(
        reverse("admin:orders_voucher_change", args=[voucher.pk]),
        {
            "code": "SPRING",
            "kind": "percentage",
            "value": "15",
            "combination": "with_promotions",
            "min_subtotal": "0",
            "max_uses": "5",
            "is_active": "on",
            "times_used": "0",
        },
    )

    assert response.status_code == 302
    voucher.refresh_from_db()
    assert (voucher.value, voucher.times_used) == (Decimal("15.00"), 2)


def test_a_percentage_over_100_is_refused_with_a_message(client):
    client.force_login(staff_with("view_voucher", "add_voucher"))

    response = client.post(
        reverse("admin:orders_voucher_add"),
        {"code": "HUGE", "kind": "percentage", "value": "150", "min_subtotal": "0"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
