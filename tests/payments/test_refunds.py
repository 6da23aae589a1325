"""Refunds: by staff in admin, full or partial, through Stripe or by hand; and on cancelling."""

from decimal import Decimal

import pytest
import stripe
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse

from orders.models import Order
from orders.services import cancel_order
from payments import services
from payments.models import Payment, Refund, RefundToPayBack
from shipping.models import StockLevel
from shipping.services import ship_what_is_left
from shop import outbox
from shop.models import OutboxMessage
from tests.accounts.factories import StaffFactory
from tests.orders.factories import CartLineFactory, place, stocked_variant
from tests.shipping.factories import ShippingMethodFactory

from .conftest import SECRET_KEY
from .factories import CardOrderFactory, PaymentFactory, intent_dict, pay_intent

pytestmark = pytest.mark.django_db

S = Order.Status


def card_payment(order=None):
    """A card payment that went through at localstripe and was recorded."""
    order = order or CardOrderFactory()
    checkout = services.start_card_payment(order=order)
    pay_intent(checkout.payment.provider_reference)
    return services.refresh_card_payment(payment=checkout.payment)


def stripe_refunds(payment):
    return stripe.Refund.list(payment_intent=payment.provider_reference, api_key=SECRET_KEY).data


def status_of(order):
    return Order.objects.get(pk=order.pk).status


def test_a_partial_then_a_full_refund_through_stripe(stripe_settings):
    payment = card_payment(CardOrderFactory(total=Decimal("42.50"), subtotal=Decimal("42.50")))

    partial = services.refund_payment(payment=payment, amount="10.00", reason="Scratched mug")
    after_partial = status_of(payment.order)
    rest = services.refund_payment(payment=payment, amount=Decimal("32.50"))

    payment.refresh_from_db()
    assert after_partial == S.PAID, "a partial refund leaves the order to be shipped"
    assert status_of(payment.order) == S.CANCELLED, "all of it back before shipping cancels"
    assert (partial.status, rest.status) == (Refund.Status.SUCCEEDED, Refund.Status.SUCCEEDED)
    assert rest.amount == Decimal("32.50")
    assert not partial.is_manual
    assert partial.provider_reference.startswith("re_")
    assert payment.amount_refunded == Decimal("42.50")
    assert sorted(refund.amount for refund in stripe_refunds(payment)) == [1000, 3250]


def test_refunding_an_unshipped_order_in_full_cancels_it_and_releases_its_stock(admin_client):
    variant = stocked_variant(units=5)
    order = place(
        CartLineFactory(variant=variant, quantity=2).cart,
        shipping_method=ShippingMethodFactory(),
        payment_method=Order.PaymentMethod.BANK_TRANSFER,
    )
    payment = services.open_payment(order=order)
    services.mark_transfer_received(payment=payment, user=None)
    staff = StaffFactory()

    refund = services.refund_payment(payment=payment, amount=order.total, user=staff)

    order.refresh_from_db()
    level = StockLevel.objects.get(variant=variant)
    assert order.status == S.CANCELLED
    assert (level.on_hand, level.reserved) == (5, 0)
    assert level.movements.filter(kind="release", order=order).exists()
    assert (refund.amount, refund.status, refund.is_manual) == (order.total, "pending", True)
    assert Refund.objects.get(pk=refund.pk).requested_by == staff


def test_parcels_on_their_way_are_refunded_only_in_part(admin_client):
    variant = stocked_variant(units=5)
    order = place(
        CartLineFactory(variant=variant, quantity=2).cart,
        shipping_method=ShippingMethodFactory(),
        payment_method=Order.PaymentMethod.BANK_TRANSFER,
    )
    payment = services.open_payment(order=order)
    services.mark_transfer_received(payment=payment, user=None)
    ship_what_is_left(order=order)

    with pytest.raises(services.PaymentError, match="parcels on their way"):
        services.refund_payment(payment=payment, amount=order.total)
    part = services.refund_payment(payment=payment, amount="1.00")

    assert status_of(order) == S.SHIPPED
    assert part.amount == Decimal("1.00")


def test_more_than_is_left_to_refund_is_refused_and_nothing_goes_to_stripe(stripe_settings):
    payment = card_payment()
    services.refund_payment(payment=payment, amount="40.00")

    with pytest.raises(services.PaymentError, match="At most 2.50 EUR is left to refund"):
        services.refund_payment(payment=payment, amount="2.51")

    assert payment.refunds.count() == 1
    assert len(stripe_refunds(payment)) == 1
    assert status_of(payment.order) == S.PAID


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "NaN", "Infinity", None])
def test_a_refund_must_be_a_positive_amount(amount):
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)

    with pytest.raises(services.PaymentError):
        services.refund_payment(payment=payment, amount=amount)

    assert not Refund.objects.exists()


def test_a_payment_that_did_not_go_through_cannot_be_refunded():
    payment = PaymentFactory(status=Payment.Status.FAILED, order__status=S.PAID)

    with pytest.raises(services.PaymentError, match="Only a received payment"):
        services.refund_payment(payment=payment, amount="1.00")


def test_the_same_refund_request_twice_refunds_once(stripe_settings):
    payment = card_payment()

    first = services.refund_payment(payment=payment, amount="5.00", idempotency_key="form-1")
    again = services.refund_payment(payment=payment, amount="5.00", idempotency_key="form-1")

    payment.refresh_from_db()
    assert first.pk == again.pk
    assert payment.amount_refunded == Decimal("5.00")
    assert len(stripe_refunds(payment)) == 1


def test_a_refund_stripe_refuses_is_marked_failed_and_the_money_stays_refundable(
    stripe_settings,
):
    payment = PaymentFactory(
        status=Payment.Status.SUCCEEDED, provider_reference="pi_unknown", order__status=S.PAID
    )

    with pytest.raises(services.PaymentError, match="Stripe refused the refund"):
        services.refund_payment(payment=payment, amount="5.00")

    refund = payment.refunds.get()
    payment.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert refund.failure_message
    assert payment.amount_refunded == 0
    assert services.selectors.refundable_amount(payment) == payment.amount


def test_a_refund_stripe_did_not_answer_stays_pending_and_the_outbox_sends_it(
    stripe_settings, monkeypatch
):
    payment = card_payment()
    monkeypatch.setattr(stripe, "api_base", "http://127.0.0.1:9")

    with pytest.raises(services.ProviderUnavailable):
        services.refund_payment(payment=payment, amount="5.00")
    refund = payment.refunds.get()
    pending = refund.status
    monkeypatch.undo()
    outbox.dispatch()

    refund.refresh_from_db()
    assert pending == Refund.Status.PENDING
    assert OutboxMessage.objects.get(key=f"payments:refund:{refund.pk}").done_at is not None
    assert refund.status == Refund.Status.SUCCEEDED
    assert len(stripe_refunds(payment)) == 1


@pytest.mark.parametrize(
    "method", [Order.PaymentMethod.BANK_TRANSFER, Order.PaymentMethod.CASH_ON_DELIVERY]
)
def test_cash_and_transfer_refunds_wait_to_be_paid_back_by_hand(
    method, django_capture_on_commit_callbacks
):
    order = CardOrderFactory(payment_method=method, status=S.DELIVERED)
    payment = PaymentFactory(order=order, status=Payment.Status.SUCCEEDED)
    staff = StaffFactory()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_payment(
            payment=payment, amount=payment.amount, user=staff, pay_back_to="NL91ABNA0417164300"
        )
    told_first = mail.outbox[-1]
    owed = list(RefundToPayBack.objects.all())
    assert (refund.is_manual, refund.status, refund.requested_by) == (True, "pending", staff)
    assert status_of(order) == S.DELIVERED, "nothing went back yet"
    assert owed == [refund]
    assert "We will pay you back 42.50 EUR" in told_first.body
    assert "NL91ABNA0417164300" in told_first.body

    with django_capture_on_commit_callbacks(execute=True):
        services.mark_refund_paid_back(refund=refund, user=staff)

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert (refund.status, payment.amount_refunded) == ("succeeded", payment.amount)
    assert refund.completed_at is not None
    assert status_of(order) == S.REFUNDED
    assert not RefundToPayBack.objects.exists()
    assert "We refunded 42.50 EUR" in mail.outbox[-1].body


def test_staff_see_the_refunds_they_owe_with_where_to_pay_them(admin_client):
    order = CardOrderFactory(
        payment_method=Order.PaymentMethod.BANK_TRANSFER, status=S.DELIVERED, full_name="Mei Chen"
    )
    payment = PaymentFactory(order=order, status=Payment.Status.SUCCEEDED)
    services.refund_payment(payment=payment, amount="12.00", pay_back_to="DE89370400440532013000")
    services.refund_payment(payment=payment, amount="3.00")

    page = admin_client.get(reverse("admin:payments_refundtopayback_changelist")).text

    assert "DE89370400440532013000" in page
    assert "Not given yet: ask the customer" in page
    assert "12.00 EUR" in page and "Mei Chen" in page


def test_the_shopper_is_told_about_a_refund_once(
    stripe_settings, django_capture_on_commit_callbacks
):
    payment = card_payment()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_payment(payment=payment, amount="7.00")
    from payments.tasks import send_payment_email

    again = send_payment_email("refunded", refund.pk)

    assert len(mail.outbox) == 1
    assert "7.00 EUR" in mail.outbox[0].body
    assert again is False


# Cancelling an order


def test_cancelling_a_paid_card_order_refunds_it_in_full(
    stripe_settings, django_capture_on_commit_callbacks
):
    payment = card_payment()

    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order=payment.order, note="Out of stock")

    payment.refresh_from_db()
    refund = payment.refunds.get()
    assert status_of(payment.order) == S.CANCELLED
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.amount == payment.amount == payment.amount_refunded
    assert [r.amount for r in stripe_refunds(payment)] == [4250]


def test_cancelling_twice_over_refunds_once(stripe_settings, django_capture_on_commit_callbacks):
    payment = card_payment()

    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order=payment.order)
    services.settle_cancelled_order(order_id=payment.order_id)

    assert payment.refunds.count() == 1
    assert len(stripe_refunds(payment)) == 1


def test_cancelling_an_unpaid_card_order_cancels_its_intent(
    stripe_settings, django_capture_on_commit_callbacks
):
    order = CardOrderFactory()
    payment = services.start_card_payment(order=order).payment

    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order=order)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.CANCELLED
    assert intent_dict(payment.provider_reference)["status"] == "canceled"
    assert not payment.refunds.exists()


def test_a_payment_arriving_after_the_order_was_cancelled_is_refunded(
    stripe_settings, django_capture_on_commit_callbacks
):
    order = CardOrderFactory()
    payment = services.start_card_payment(order=order).payment
    cancel_order(order=order)
    services.settle_cancelled_order(order_id=order.pk)
    pay_intent(payment.provider_reference)

    with django_capture_on_commit_callbacks(execute=True):
        services.refresh_card_payment(payment=payment)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.amount_refunded == payment.amount
    assert status_of(order) == S.CANCELLED
    assert [r.amount for r in stripe_refunds(payment)] == [4250]


def test_cancelling_a_paid_transfer_order_leaves_a_refund_for_staff_to_pay_back(
    admin_client, django_capture_on_commit_callbacks
):
    order = CardOrderFactory(payment_method=Order.PaymentMethod.BANK_TRANSFER, status=S.PAID)
    payment = PaymentFactory(order=order, status=Payment.Status.SUCCEEDED)

    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order=order)
    refund = payment.refunds.get()
    waiting = refund.status
    admin_client.post(
        reverse("admin:payments_refund_changelist"),
        {"action": "mark_paid_back", "_selected_action": [refund.pk]},
    )

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert waiting == Refund.Status.PENDING
    assert refund.is_manual
    assert refund.status == Refund.Status.SUCCEEDED
    assert payment.amount_refunded == payment.amount
    assert status_of(order) == S.CANCELLED


# The refund form in admin


def staff_with(*codenames):
    staff = StaffFactory()
    staff.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="payments", codename__in=codenames)
    )
    return staff


def refund_url(payment):
    return reverse("admin:payments_payment_refund", args=[payment.pk])


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_staff_refund_part_of_a_card_payment_in_admin(client, stripe_settings):
    payment = card_payment()
    staff = staff_with("view_payment", "change_payment")
    client.force_login(staff)

    form = client.get(refund_url(payment))
    key = form.context["form"]["idempotency_key"].value()
    response = client.post(
        refund_url(payment),
        {"amount": "12.00", "reason": "Late delivery", "idempotency_key": key},
        follow=True,
    )
    client.post(refund_url(payment), {"amount": "12.00", "idempotency_key": key})

    payment.refresh_from_db()
    refund = payment.refunds.get()
    assert form.status_code == 200
    assert form.context["form"]["amount"].value() == Decimal("42.50")
    assert f"Refunded 12.00 EUR of order {payment.order.number}." in messages_of(response)
    assert (refund.amount, refund.reason, refund.requested_by) == (
        Decimal("12.00"),
        "Late delivery",
        staff,
    )
    assert payment.amount_refunded == Decimal("12.00")
    assert len(stripe_refunds(payment)) == 1


def test_the_admin_refuses_to_refund_more_than_is_left(client, stripe_settings):
    payment = card_payment()
    client.force_login(staff_with("view_payment", "change_payment"))

    response = client.post(refund_url(payment), {"amount": "42.51", "idempotency_key": "k" * 32})

    assert response.status_code == 400
    assert "42.50" in response.content.decode()
    assert not payment.refunds.exists()
    assert not stripe_refunds(payment)


def test_staff_who_may_only_view_payments_cannot_refund(client):
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)
    client.force_login(staff_with("view_payment"))

    response = client.post(refund_url(payment), {"amount": "1.00", "idempotency_key": "x" * 32})

    assert response.status_code == 403
    assert not payment.refunds.exists()


def test_the_refund_action_opens_the_form_for_one_payment(admin_client):
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)

    response = admin_client.post(
        reverse("admin:payments_payment_changelist"),
        {"action": "refund", "_selected_action": [payment.pk]},
    )

    assert response.status_code == 302
    assert response["Location"] == refund_url(payment)
