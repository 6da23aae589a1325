"""Card payments through Stripe (localstripe): the payment page, the return page, the outcome."""

import re
from decimal import Decimal

import pytest
import stripe
from django.core import mail
from django.urls import reverse

from orders.models import Order
from payments import services
from payments.models import Payment
from tests.accounts.factories import UserFactory

from .conftest import SECRET_KEY
from .factories import CARD_DECLINED, CardOrderFactory, PaymentFactory, intent_dict, pay_intent

pytestmark = pytest.mark.django_db

S = Order.Status


def pay_page(client, order):
    return client.get(reverse("payments:pay", args=[order.number]), {"key": order.access_key})


def return_page(client, order, intent_id):
    return client.get(
        reverse("payments:card_return", args=[order.number]),
        {"key": order.access_key, "payment_intent": intent_id},
    )


def current_payment(order):
    return order.payments.order_by("-created_at", "-pk").first()


def test_the_payment_page_makes_an_intent_for_the_order_total_in_minor_units(
    client, stripe_settings
):
    order = CardOrderFactory(total=Decimal("42.50"), subtotal=Decimal("42.50"))

    response = pay_page(client, order)

    assert response.status_code == 200
    payment = current_payment(order)
    intent = intent_dict(payment.provider_reference)
    assert intent["amount"] == 4250
    assert intent["currency"] == "eur"
    assert intent["metadata"] == {
        "order_id": str(order.pk),
        "order_number": order.number,
        "payment_id": str(payment.pk),
    }
    page = response.content.decode()
    assert intent["client_secret"] in page
    assert "pk_test_local" in page
    assert '<script src="https://js.stripe.com/v3/"></script>' in page


def test_coming_back_to_the_payment_page_reuses_the_open_intent(client, stripe_settings):
    order = CardOrderFactory()

    pay_page(client, order)
    pay_page(client, order)

    assert order.payments.count() == 1


def test_only_the_payment_page_lets_stripe_in(client, stripe_settings):
    order = CardOrderFactory()

    payment_page = pay_page(client, order)
    order_page = client.get(order.get_absolute_url(), {"key": order.access_key})

    policy = payment_page["Content-Security-Policy"]
    assert re.search(r"script-src 'self' [^;]*https://js\.stripe\.com", policy)
    assert re.search(r"frame-src [^;]*https://js\.stripe\.com", policy)
    assert re.search(r"connect-src 'self' https://api\.stripe\.com", policy)
    assert "'unsafe-inline'" not in re.search(r"script-src [^;]*", policy).group()
    # The shop's own policy, with Stripe added: not a separate, looser one.
    assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "stripe" not in order_page["Content-Security-Policy"]
    assert "js.stripe.com" not in order_page.content.decode()


def test_the_return_page_shows_a_payment_that_went_through_before_the_webhook_lands(
    client, stripe_settings
):
    order = CardOrderFactory()
    pay_page(client, order)
    payment = current_payment(order)
    pay_intent(payment.provider_reference)

    response = return_page(client, order, payment.provider_reference)

    assert response.status_code == 200
    assert "your payment went through" in response.content.decode()
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status) == (S.PAID, Payment.Status.SUCCEEDED)


def test_a_declined_card_fails_and_the_shopper_pays_on_a_second_try(client, stripe_settings):
    order = CardOrderFactory()
    pay_page(client, order)
    first = current_payment(order)
    pay_intent(first.provider_reference, card=CARD_DECLINED)

    declined = return_page(client, order, first.provider_reference)
    order_page = client.get(order.get_absolute_url(), {"key": order.access_key})
    retry = pay_page(client, order)
    second = current_payment(order)
    pay_intent(second.provider_reference)
    paid = return_page(client, order, second.provider_reference)

    first.refresh_from_db()
    second.refresh_from_db()
    order.refresh_from_db()
    assert "Your card was declined." in declined.content.decode()
    assert "Try again" in order_page.content.decode()
    assert retry.status_code == 200
    assert first.pk != second.pk
    assert first.status == Payment.Status.FAILED
    assert first.failure_message == "Your card was declined."
    assert second.status == Payment.Status.SUCCEEDED
    assert order.status == S.PAID
    assert "your payment went through" in paid.content.decode()


def test_a_paid_order_has_nothing_left_to_pay(client, stripe_settings):
    order = CardOrderFactory()
    pay_page(client, order)
    pay_intent(current_payment(order).provider_reference)
    return_page(client, order, current_payment(order).provider_reference)

    response = pay_page(client, order)

    assert response.status_code == 302
    assert response["Location"].startswith(order.get_absolute_url())
    assert order.payments.count() == 1


def test_an_intent_made_for_order_a_cannot_mark_order_b_paid(client, stripe_settings):
    order_a, order_b = CardOrderFactory(), CardOrderFactory()
    pay_page(client, order_a)
    intent_a = current_payment(order_a).provider_reference
    pay_intent(intent_a)
    # Order B's payment row pointing at A's intent, as a bug or a tampered row would.
    Payment.objects.filter(order=order_a).update(provider_reference=None)
    forged = PaymentFactory(order=order_b, provider_reference=intent_a)

    on_b_page = return_page(client, order_b, intent_a)

    order_b.refresh_from_db()
    forged.refresh_from_db()
    assert on_b_page.status_code == 200
    assert order_b.status == S.PENDING_PAYMENT
    assert forged.status == Payment.Status.PENDING
    assert "another order" in forged.flagged_reason
    assert order_a.number in forged.flagged_reason


def test_order_b_return_page_does_not_accept_order_a_intent(client, stripe_settings):
    order_a, order_b = CardOrderFactory(), CardOrderFactory()
    pay_page(client, order_a)
    pay_page(client, order_b)
    intent_a = current_payment(order_a).provider_reference
    pay_intent(intent_a)

    response = return_page(client, order_b, intent_a)

    order_b.refresh_from_db()
    assert response.status_code == 404
    assert order_b.status == S.PENDING_PAYMENT


def test_an_intent_asking_a_different_amount_is_flagged_and_pays_nothing(stripe_settings):
    order = CardOrderFactory(total=Decimal("42.50"), subtotal=Decimal("42.50"))
    intent = stripe.PaymentIntent.create(
        amount=100,
        currency="eur",
        payment_method_types=["card"],
        metadata={"order_id": str(order.pk), "order_number": order.number},
        api_key=SECRET_KEY,
    )
    payment = PaymentFactory(order=order, provider_reference=intent.id)
    pay_intent(intent.id)

    change = services.refresh_card_payment(payment=payment)

    order.refresh_from_db()
    assert change.status == Payment.Status.PENDING
    assert "not the order total" in change.flagged_reason
    assert order.status == S.PENDING_PAYMENT


def test_someone_elses_order_has_no_payment_page(client, stripe_settings):
    order = CardOrderFactory(user=UserFactory())
    client.force_login(UserFactory())

    response = client.get(reverse("payments:pay", args=[order.number]))

    assert response.status_code == 404
    assert not order.payments.exists()


def test_without_stripe_keys_there_is_no_card_payment(client, settings):
    settings.STRIPE_SECRET_KEY = ""
    order = CardOrderFactory()

    response = pay_page(client, order)

    assert response.status_code == 302
    assert not order.payments.exists()


def test_a_bank_transfer_order_is_not_paid_by_card(client, stripe_settings):
    order = CardOrderFactory(payment_method=Order.PaymentMethod.BANK_TRANSFER)

    response = pay_page(client, order)

    assert response.status_code == 302
    assert not order.payments.filter(provider=Payment.Provider.STRIPE).exists()
    assert not mail.outbox
