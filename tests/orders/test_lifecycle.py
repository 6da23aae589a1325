from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from orders import services
from orders.models import Order, OrderEvent, Voucher
from orders.services import FULFILMENT_STATUSES, TRANSITIONS, InvalidTransition
from orders.signals import order_cancelled
from shipping.models import StockLevel
from tests.accounts.factories import StaffFactory, UserFactory
from tests.shipping.factories import ShippingMethodFactory

from .factories import CartLineFactory, OrderFactory, VoucherFactory, place, stocked_variant

pytestmark = pytest.mark.django_db

Status = Order.Status
ALLOWED = [(source, target) for source, targets in TRANSITIONS.items() for target in targets]
# Moves only the order's shipments make (follow_shipments); change_status refuses them.
FOLLOWED = [(source, target) for source, target in ALLOWED if target in FULFILMENT_STATUSES]
ASKED = [(source, target) for source, target in ALLOWED if target not in FULFILMENT_STATUSES]
REFUSED = [
    (source, target)
    for source in Status.values
    for target in Status.values
    if target not in TRANSITIONS[source]
]


@pytest.fixture
def method():
    return ShippingMethodFactory(price=Decimal("4.90"))


@pytest.fixture
def variant():
    return stocked_variant(units=10)


def placed(variant, method, quantity=2, **overrides):
    return place(
        CartLineFactory(variant=variant, quantity=quantity).cart,
        shipping_method=method,
        **overrides,
    )


def test_every_status_has_a_row_in_the_transition_table():
    assert set(TRANSITIONS) == set(Status.values)
    assert len(REFUSED) + len(ALLOWED) == len(Status.values) ** 2


@pytest.mark.parametrize(("source", "target"), ASKED)
def test_allowed_transitions_move_the_order_and_record_who_did_it(source, target):
    order = OrderFactory(status=source)
    staff = StaffFactory()

    services.change_status(order=order, to_status=target, user=staff, note="checked")

    order.refresh_from_db()
    assert order.status == target
    event = order.events.get()
    assert (event.from_status, event.to_status, event.user, event.note) == (
        source,
        target,
        staff,
        "checked",
    )


@pytest.mark.parametrize(("source", "target"), FOLLOWED)
def test_shipping_and_delivery_are_refused_without_shipments(source, target):
    order = OrderFactory(status=source)

    with pytest.raises(InvalidTransition, match="only through its shipments"):
        services.change_status(order=order, to_status=target)

    order.refresh_from_db()
    assert order.status == source
    assert not order.events.exists()


@pytest.mark.parametrize(
    ("facts", "status"),
    [
        (
            {"any_left": True, "all_shipped": False, "all_delivered": False},
            Status.PARTIALLY_SHIPPED,
        ),
        ({"any_left": True, "all_shipped": True, "all_delivered": False}, Status.SHIPPED),
        ({"any_left": True, "all_shipped": True, "all_delivered": True}, Status.DELIVERED),
    ],
)
def test_a_paid_order_follows_what_its_shipments_say(facts, status):
    order = OrderFactory(status=Status.PAID)

    services.follow_shipments(order_id=order.pk, **facts)

    order.refresh_from_db()
    assert order.status == status


def test_every_transition_not_in_the_table_is_refused():
    for source, target in REFUSED:
        order = OrderFactory(status=source)
        with pytest.raises(InvalidTransition):
            services.change_status(order=order, to_status=target)
        order.refresh_from_db()
        assert order.status == source, (source, target)
    assert not OrderEvent.objects.exists()


def test_unknown_status_is_refused():
    order = OrderFactory(status=Status.PAID)
    with pytest.raises(InvalidTransition, match="not an order status"):
        services.change_status(order=order, to_status="teleported")


def test_the_refusal_names_both_statuses():
    order = OrderFactory(status=Status.SHIPPED)
    with pytest.raises(InvalidTransition, match="“Shipped” can't become “Cancelled”"):
        services.cancel_order(order=order)


def test_cancelling_releases_the_stock_the_voucher_and_tells_payments(
    variant, method, django_capture_on_commit_callbacks
):
    VoucherFactory(code="ONE", max_uses=1)
    order = placed(variant, method, voucher_code="ONE")
    variant.refresh_from_db()
    assert variant.stock_available == 8
    heard = []

    def listen(sender, order_id, **kwargs):
        heard.append(order_id)

    order_cancelled.connect(listen)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.cancel_order(order=order, note="changed my mind")
    finally:
        order_cancelled.disconnect(listen)

    order.refresh_from_db()
    variant.refresh_from_db()
    assert order.status == Status.CANCELLED
    assert variant.stock_available == 10
    assert StockLevel.objects.get(variant=variant).reserved == 0
    assert heard == [order.pk]
    assert Voucher.objects.get().times_used == 0
    assert order.events.last().note == "changed my mind"


def test_change_status_to_cancelled_releases_stock_too(variant, method):
    order = placed(variant, method)
    services.change_status(order=order, to_status=Status.CANCELLED)
    variant.refresh_from_db()
    assert variant.stock_available == 10


def test_unpaid_card_orders_expire_and_their_stock_is_released(variant, method, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_123"
    settings.ORDER_UNPAID_MINUTES = 30
    with time_machine.travel(timezone.now() - timedelta(minutes=31), tick=False):
        card = placed(variant, method, payment_method=Order.PaymentMethod.CARD)
        transfer = placed(variant, method, payment_method=Order.PaymentMethod.BANK_TRANSFER)
    recent_card = placed(variant, method, payment_method=Order.PaymentMethod.CARD)
    variant.refresh_from_db()
    assert variant.stock_available == 4

    assert services.cancel_unpaid_orders() == [card]
    assert services.cancel_unpaid_orders() == []

    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {
        card.pk: Status.CANCELLED,
        transfer.pk: Status.PENDING_PAYMENT,
        recent_card.pk: Status.PENDING_PAYMENT,
    }
    variant.refresh_from_db()
    assert variant.stock_available == 6


def test_an_order_paid_just_before_expiry_is_kept(variant, method, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_123"
    order = placed(variant, method, payment_method=Order.PaymentMethod.CARD)
    services.change_status(order=order, to_status=Status.PAID)
    later = timezone.now() + timedelta(hours=2)
    assert services.cancel_unpaid_orders(now=later) == []
    order.refresh_from_db()
    assert order.status == Status.PAID


def test_cancel_unpaid_orders_command_reports_and_can_run_twice(variant, method, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_123"
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        order = placed(variant, method, payment_method=Order.PaymentMethod.CARD)

    first, second = StringIO(), StringIO()
    call_command("cancel_unpaid_orders", stdout=first)
    call_command("cancel_unpaid_orders", stdout=second)

    assert order.number in first.getvalue()
    assert "1 unpaid order cancelled" in first.getvalue()
    assert "0 unpaid orders cancelled" in second.getvalue()


# The order pages


def test_owner_sees_their_order_with_its_history(client, variant, method):
    user = UserFactory()
    order = placed(variant, method, user=user, email=user.email)
    client.force_login(user)

    page = client.get(order.get_absolute_url()).content.decode()

    assert order.number in page
    assert "Order placed: Confirmed, pay on delivery" in page
    assert "Including 19% tax" in page
    assert reverse("orders:order_cancel", args=[order.number]) in page


def test_another_shoppers_order_is_not_found(client, variant, method):
    order = placed(variant, method, user=UserFactory())
    url = order.get_absolute_url()
    client.force_login(UserFactory())

    assert client.get(url).status_code == 404
    assert client.get(f"{url}?key=wrong").status_code == 404
    assert client.get(reverse("orders:order_confirmation", args=[order.number])).status_code == 404
    assert client.post(reverse("orders:order_cancel", args=[order.number])).status_code == 404
    assert client.get(reverse("orders:order_detail", args=["SH-NOPE-NOPE"])).status_code == 404
    order.refresh_from_db()
    assert order.status == Status.CONFIRMED


def test_guest_reaches_the_order_only_with_its_secret_link(client, variant, method):
    order = placed(variant, method)
    url = order.get_absolute_url()

    assert client.get(url).status_code == 404
    assert client.get(f"{url}?key={order.access_key}").status_code == 200


def test_staff_who_may_see_orders_and_customers_see_any_order(client, variant, method):
    order = placed(variant, method)
    staff = StaffFactory()
    client.force_login(staff)
    assert client.get(order.get_absolute_url()).status_code == 404

    staff.user_permissions.add(
        Permission.objects.get(codename="view_order"), Permission.objects.get(codename="view_user")
    )
    assert client.get(order.get_absolute_url()).status_code == 200


def test_guest_cancels_through_the_secret_link(client, variant, method):
    order = placed(variant, method)

    response = client.post(
        reverse("orders:order_cancel", args=[order.number]), {"key": order.access_key}
    )

    assert response.status_code == 302
    assert response.url == f"{order.get_absolute_url()}?key={order.access_key}"
    order.refresh_from_db()
    assert order.status == Status.CANCELLED
    page = client.get(response.url).content.decode()
    assert "Your order was cancelled." in page
    assert "Cancel this order" not in page


def test_a_shipped_order_cannot_be_cancelled_by_the_shopper(client):
    user = UserFactory()
    order = OrderFactory(user=user, status=Status.SHIPPED)
    client.force_login(user)

    assert "Cancel this order" not in client.get(order.get_absolute_url()).content.decode()
    response = client.post(reverse("orders:order_cancel", args=[order.number]))

    assert response.status_code == 409
    assert "can no longer be cancelled" in response.content.decode()
    order.refresh_from_db()
    assert order.status == Status.SHIPPED


def test_my_orders_lists_only_mine(client):
    user = UserFactory()
    mine = OrderFactory(user=user)
    theirs = OrderFactory(user=UserFactory())
    client.force_login(user)

    page = client.get(reverse("orders:order_list")).content.decode()

    assert mine.number in page and theirs.number not in page


def test_my_orders_needs_sign_in(client):
    response = client.get(reverse("orders:order_list"))
    assert response.status_code == 302 and reverse("account_login") in response.url
