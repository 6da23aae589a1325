"""Payments opened at checkout; bank transfers and cash confirmed by staff; the payments admin."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from orders.services import InvalidTransition, cancel_unpaid_orders
from payments import services
from payments.models import Payment, WebhookEvent
from tests.accounts.factories import StaffFactory
from tests.orders.factories import CartLineFactory, VoucherFactory, place, stocked_variant
from tests.shipping.factories import ShippingMethodFactory

from .factories import CardOrderFactory, PaymentFactory, RefundFactory

pytestmark = pytest.mark.django_db

S = Order.Status
M = Order.PaymentMethod
PAYMENTS = reverse("admin:payments_payment_changelist")
ORDERS = reverse("admin:orders_order_changelist")


def placed(method, *, price=Decimal("19.99"), shipping=Decimal("4.90"), **overrides):
    cart = CartLineFactory(variant=stocked_variant(units=5, price=price), quantity=2).cart
    return place(
        cart,
        shipping_method=ShippingMethodFactory(price=shipping),
        payment_method=method,
        **overrides,
    )


def staff_with(*codenames, app="payments"):
    staff = StaffFactory()
    staff.user_permissions.add(
        *Permission.objects.filter(content_type__app_label=app, codename__in=codenames)
    )
    return staff


def order_manager():
    """Marking a transfer received from the order list takes the order's and the payment's
    change permissions."""
    staff = staff_with("view_order", "change_order", app="orders")
    staff.user_permissions.add(Permission.objects.get(codename="change_payment"))
    return staff


def run_action(client, url, action, *objects):
    return client.post(
        url, {"action": action, "_selected_action": [obj.pk for obj in objects]}, follow=True
    )


def messages_of(response):
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(
    ("method", "provider", "has_reference"),
    [
        (M.CARD, Payment.Provider.STRIPE, False),
        (M.BANK_TRANSFER, Payment.Provider.MANUAL, True),
        (M.CASH_ON_DELIVERY, Payment.Provider.MANUAL, False),
    ],
)
def test_placing_an_order_opens_the_payment_it_waits_for(
    settings, django_capture_on_commit_callbacks, method, provider, has_reference
):
    settings.STRIPE_SECRET_KEY = "sk_test_local"

    with django_capture_on_commit_callbacks(execute=True):
        order = placed(method)

    payment = order.payments.get()
    assert (payment.method, payment.provider, payment.status) == (
        method,
        provider,
        Payment.Status.PENDING,
    )
    assert payment.amount == order.total == Decimal("44.88")
    assert payment.currency == order.currency
    assert payment.provider_reference == (order.number if has_reference else None)


def test_an_order_with_nothing_to_pay_is_paid_at_once(django_capture_on_commit_callbacks):
    VoucherFactory(code="ALL", value=Decimal("100"))

    with django_capture_on_commit_callbacks(execute=True):
        order = placed(M.BANK_TRANSFER, shipping=Decimal("0"), voucher_code="ALL")

    order.refresh_from_db()
    assert order.total == 0
    assert order.status == S.PAID
    assert not order.payments.exists()


def test_staff_mark_a_bank_transfer_received_and_the_order_is_paid(
    client, django_capture_on_commit_callbacks
):
    order = CardOrderFactory(payment_method=M.BANK_TRANSFER)
    payment = PaymentFactory(order=order, provider_reference=order.number)
    staff = staff_with("view_payment", "change_payment")
    client.force_login(staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client, PAYMENTS, "mark_transfer_received", payment)

    payment.refresh_from_db()
    order.refresh_from_db()
    assert ("success", "1 transfer marked received.") in messages_of(response)
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.paid_at is not None
    assert order.status == S.PAID
    assert order.events.get(to_status=S.PAID).user == staff
    assert [message.to for message in mail.outbox] == [[order.email]]
    assert "Payment received" in mail.outbox[0].subject


def test_the_order_admin_mark_paid_marks_the_transfer_received(client):
    order = CardOrderFactory(payment_method=M.BANK_TRANSFER)
    client.force_login(order_manager())

    response = run_action(client, ORDERS, "mark_paid", order)

    order.refresh_from_db()
    assert ("success", "1 order marked paid.") in messages_of(response)
    assert order.status == S.PAID
    payment = order.payments.get()
    assert (payment.status, payment.provider_reference) == (Payment.Status.SUCCEEDED, order.number)


def test_a_transfer_is_marked_received_once():
    order = CardOrderFactory(payment_method=M.BANK_TRANSFER)
    payment = PaymentFactory(order=order)
    staff = StaffFactory()
    services.mark_transfer_received(payment=payment, user=staff)

    with pytest.raises(services.PaymentError, match="already marked received"):
        services.mark_transfer_received(payment=payment, user=staff)

    assert order.events.filter(to_status=S.PAID).count() == 1


def test_only_transfers_are_marked_received_by_hand():
    payment = PaymentFactory()

    with pytest.raises(services.PaymentError, match="Only bank transfers"):
        services.mark_transfer_received(payment=payment, user=StaffFactory())

    assert Order.objects.get(pk=payment.order_id).status == S.PENDING_PAYMENT


def test_cash_collected_on_delivery_pays_the_payment_and_the_order_keeps_its_status(
    admin_client,
):
    order = CardOrderFactory(payment_method=M.CASH_ON_DELIVERY, status=S.DELIVERED)
    payment = PaymentFactory(order=order)

    response = run_action(admin_client, PAYMENTS, "mark_cash_collected", payment)

    payment.refresh_from_db()
    assert ("success", "1 payment marked collected.") in messages_of(response)
    assert payment.status == Payment.Status.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == S.DELIVERED
    assert not mail.outbox


def test_no_cash_is_collected_for_a_cancelled_order():
    order = CardOrderFactory(payment_method=M.CASH_ON_DELIVERY, status=S.CANCELLED)
    payment = PaymentFactory(order=order)

    with pytest.raises(services.PaymentError, match="no cash left to collect"):
        services.mark_cash_collected(payment=payment)


def test_an_order_paid_already_cannot_be_paid_by_transfer_again():
    order = CardOrderFactory(payment_method=M.BANK_TRANSFER, status=S.SHIPPED)

    with pytest.raises(InvalidTransition):
        services.mark_order_transfer_received(order=order, user=StaffFactory())

    assert not order.payments.exists()


# Money arriving after the order expired


@pytest.fixture
def expired_order(django_capture_on_commit_callbacks, settings):
    """A bank transfer order (44.88) placed days ago and cancelled unpaid since."""
    placed_at = timezone.now() - timedelta(days=settings.ORDER_BANK_TRANSFER_DAYS, hours=1)
    with (
        time_machine.travel(placed_at, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        order = placed(M.BANK_TRANSFER)
    with django_capture_on_commit_callbacks(execute=True):
        assert cancel_unpaid_orders() == [order]
    mail.outbox.clear()
    return order


def test_a_transfer_arriving_after_expiry_is_recorded_and_refunded_in_full(
    expired_order, django_capture_on_commit_callbacks
):
    order = expired_order
    assert order.payments.get().status == Payment.Status.CANCELLED
    staff = StaffFactory()

    with django_capture_on_commit_callbacks(execute=True):
        services.mark_order_transfer_received(order=order, user=staff)

    payment = order.payments.get()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.paid_at is not None
    assert "arrived after the order was cancelled" in payment.flagged_reason
    refund = payment.refunds.get()
    assert refund.amount == payment.amount == order.total == Decimal("44.88")
    assert refund.reason == "The order was cancelled before the payment arrived."
    assert refund.is_manual
    assert Order.objects.get(pk=order.pk).status == S.CANCELLED
    assert not [m for m in mail.outbox if "Payment received" in m.subject]


def test_a_late_transfer_marked_received_again_changes_nothing(expired_order):
    order = expired_order
    staff = StaffFactory()
    services.mark_order_transfer_received(order=order, user=staff)
    paid_at = order.payments.get().paid_at

    with pytest.raises(services.PaymentError, match="already marked received"):
        services.mark_order_transfer_received(order=order, user=staff)
    with pytest.raises(services.PaymentError, match="already marked received"):
        services.mark_transfer_received(payment=order.payments.get(), user=staff)

    payment = order.payments.get()
    assert (payment.status, payment.paid_at) == (Payment.Status.SUCCEEDED, paid_at)
    assert payment.refunds.count() == 1
    assert Order.objects.get(pk=order.pk).status == S.CANCELLED


def test_staff_record_a_late_transfer_from_the_payments_admin(client, expired_order):
    order = expired_order
    payment = order.payments.get()
    client.force_login(staff_with("view_payment", "change_payment"))

    first = run_action(client, PAYMENTS, "mark_transfer_received", payment)
    again = run_action(client, PAYMENTS, "mark_transfer_received", payment)

    payment.refresh_from_db()
    assert first.status_code == again.status_code == 200
    assert ("success", "1 transfer marked received.") in messages_of(first)
    assert [level for level, _text in messages_of(again)] == ["error"]
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.refunds.get().amount == Decimal("44.88")
    assert Order.objects.get(pk=order.pk).status == S.CANCELLED


def test_the_order_admin_mark_paid_on_an_expired_order_warns_that_it_stays_cancelled(
    client, expired_order
):
    order = expired_order
    client.force_login(order_manager())

    response = run_action(client, ORDERS, "mark_paid", order)

    assert response.status_code == 200
    assert messages_of(response) == [
        (
            "warning",
            f"Order {order.number} was cancelled before the transfer arrived: it stays "
            "cancelled, the transfer is recorded and all of it is to be paid back.",
        )
    ]
    assert order.payments.get().refunds.get().amount == Decimal("44.88")
    assert Order.objects.get(pk=order.pk).status == S.CANCELLED


def test_a_late_transfer_for_a_cancelled_order_without_a_payment_gets_one_and_is_refunded():
    order = CardOrderFactory(payment_method=M.BANK_TRANSFER, status=S.CANCELLED)

    services.mark_order_transfer_received(order=order, user=StaffFactory())

    payment = order.payments.get()
    assert (payment.status, payment.provider_reference) == (Payment.Status.SUCCEEDED, order.number)
    assert payment.refunds.get().amount == Decimal("42.50")


# What staff see


def test_payments_are_filtered_by_status_method_and_flag(admin_client):
    flagged = PaymentFactory(flagged_reason="The amount does not match.")
    PaymentFactory()
    transfer = PaymentFactory(
        order=CardOrderFactory(payment_method=M.BANK_TRANSFER), status=Payment.Status.SUCCEEDED
    )

    by_flag = admin_client.get(PAYMENTS, {"flagged": "yes"})
    by_method = admin_client.get(PAYMENTS, {"method__exact": M.BANK_TRANSFER})
    by_status = admin_client.get(PAYMENTS, {"status__exact": "succeeded"})

    assert list(by_flag.context["cl"].result_list) == [flagged]
    assert list(by_method.context["cl"].result_list) == [transfer]
    assert list(by_status.context["cl"].result_list) == [transfer]


def test_a_payment_is_found_by_order_number(admin_client):
    wanted = PaymentFactory()
    PaymentFactory()

    response = admin_client.get(PAYMENTS, {"q": wanted.order.number})

    assert list(response.context["cl"].result_list) == [wanted]


def test_amounts_are_read_only_in_admin(admin_client):
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)
    url = reverse("admin:payments_payment_change", args=[payment.pk])

    page = admin_client.get(url)
    admin_client.post(url, {"amount": "0.01", "amount_refunded": "5", "status": "failed"})

    payment.refresh_from_db()
    assert page.status_code == 200
    assert 'name="amount"' not in page.content.decode()
    assert "Refund (up to 42.50 EUR)" in page.content.decode()
    assert (payment.amount, payment.amount_refunded) == (Decimal("42.50"), 0)
    assert payment.status == Payment.Status.SUCCEEDED


def test_payments_refunds_and_webhook_events_are_never_added_or_deleted_by_hand(admin_client):
    payment = PaymentFactory()
    event = WebhookEvent.objects.create(
        provider="stripe", event_id="evt_1", type="payment_intent.succeeded", payload={}
    )

    for model in ("payment", "refund", "webhookevent"):
        assert admin_client.get(reverse(f"admin:payments_{model}_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:payments_payment_delete", args=[payment.pk])).status_code
        == 403
    )
    event_page = admin_client.get(reverse("admin:payments_webhookevent_change", args=[event.pk]))
    assert 'name="event_id"' not in event_page.content.decode()


def test_staff_see_refunds_and_webhook_events(admin_client):
    refund = RefundFactory(reason="Scratched mug")
    WebhookEvent.objects.create(
        provider="stripe", event_id="evt_seen", type="payment_intent.succeeded", payload={}
    )

    refunds = admin_client.get(reverse("admin:payments_refund_changelist"))
    events = admin_client.get(
        reverse("admin:payments_webhookevent_changelist"), {"processed": "no"}
    )

    assert refunds.status_code == events.status_code == 200
    assert refund.payment.order.number in refunds.content.decode()
    assert "evt_seen" in events.content.decode()


def test_staff_can_have_a_stuck_webhook_event_processed_now(admin_client):
    payment = PaymentFactory(provider_reference="pi_stuck")
    order = payment.order
    intent = {
        "id": "pi_stuck",
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 4250,
        "currency": "eur",
        "metadata": {"order_id": str(order.pk), "order_number": order.number},
    }
    event = WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_stuck",
        type="payment_intent.succeeded",
        payload={"id": "evt_stuck", "data": {"object": intent}},
    )

    response = run_action(
        admin_client, reverse("admin:payments_webhookevent_changelist"), "process_now", event
    )

    event.refresh_from_db()
    assert ("success", "1 event queued for processing.") in messages_of(response)
    assert event.processed_at is not None
    assert Order.objects.get(pk=order.pk).status == S.PAID
