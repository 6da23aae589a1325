"""The Stripe webhook: verified, stored once by event id, processed once by a Celery task."""

import json
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderEvent
from payments import services
from payments.models import Payment, WebhookEvent
from shop import outbox
from tests.orders.factories import CartLineFactory, place, stocked_variant
from tests.shipping.factories import ShippingMethodFactory

from .conftest import stripe_event, stripe_signature, wait_until
from .factories import CARD_DECLINED, CardOrderFactory, PaymentFactory, intent_dict, pay_intent

S = Order.Status
WEBHOOK_URL = reverse("payments:stripe_webhook")
# Where a webhook registration is pointed once its test is over: nothing listens there.
NOWHERE = "http://127.0.0.1:9/"


@pytest.fixture
def localstripe_webhooks(live_server, register_localstripe_webhook, stripe_settings):
    """localstripe delivers its events to the running test server for the test's duration."""
    webhook_id = register_localstripe_webhook(live_server.url + WEBHOOK_URL)
    yield live_server
    register_localstripe_webhook(NOWHERE, webhook_id=webhook_id)


def place_card_order(client):
    """A card order placed through checkout's service, and its payment page opened."""
    cart = CartLineFactory(variant=stocked_variant(units=5), quantity=2).cart
    order = place(
        cart,
        shipping_method=ShippingMethodFactory(),
        payment_method=Order.PaymentMethod.CARD,
    )
    response = client.get(reverse("payments:pay", args=[order.number]), {"key": order.access_key})
    assert response.status_code == 200
    return order, order.payments.get()


def events_of(payment):
    """The stored events about this payment's intent (localstripe may also deliver events
    left over from earlier tests)."""
    return WebhookEvent.objects.filter(payload__data__object__id=payment.provider_reference)


def status_of(order):
    return Order.objects.get(pk=order.pk).status


@pytest.mark.django_db(transaction=True)
def test_an_order_is_paid_end_to_end_by_the_webhook_stripe_delivers(client, localstripe_webhooks):
    order, payment = place_card_order(client)

    pay_intent(payment.provider_reference)
    wait_until(lambda: status_of(order) == S.PAID, timeout=20, message="the order was not paid")

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.paid_at is not None
    event = events_of(payment).get(type="payment_intent.succeeded")
    assert event.processed_at is not None
    assert OrderEvent.objects.get(order=order, to_status=S.PAID).note == "Card payment received."
    wait_until(
        lambda: any("Payment received" in message.subject for message in mail.outbox),
        timeout=5,
        message="no payment received email",
    )


@pytest.mark.django_db(transaction=True)
def test_a_declined_card_is_reported_by_webhook_and_the_retry_is_paid(client, localstripe_webhooks):
    order, first = place_card_order(client)

    pay_intent(first.provider_reference, card=CARD_DECLINED)
    wait_until(
        lambda: Payment.objects.get(pk=first.pk).status == Payment.Status.FAILED,
        timeout=20,
        message="the declined payment was not marked failed",
    )
    assert status_of(order) == S.PENDING_PAYMENT
    retry = client.get(reverse("payments:pay", args=[order.number]), {"key": order.access_key})
    second = order.payments.exclude(pk=first.pk).get()
    pay_intent(second.provider_reference)
    wait_until(lambda: status_of(order) == S.PAID, timeout=20, message="the retry did not pay")

    assert retry.status_code == 200
    assert Payment.objects.get(pk=first.pk).failure_message == "Your card was declined."
    assert Payment.objects.get(pk=second.pk).status == Payment.Status.SUCCEEDED
    subjects = [message.subject for message in mail.outbox]
    assert any("did not go through" in subject for subject in subjects)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_on_redis_processes_the_delivered_webhook(
    client, localstripe_webhooks, celery_worker_process
):
    order, payment = place_card_order(client)

    pay_intent(payment.provider_reference)
    wait_until(lambda: status_of(order) == S.PAID, timeout=30, message="the worker did not pay it")

    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
    assert events_of(payment).get(type="payment_intent.succeeded").processed_at is not None


# Events posted by the test itself, signed like Stripe signs them


@pytest.fixture
def paid_intent(stripe_settings):
    """A payment whose intent localstripe has taken the money for; no webhook has come."""
    payment = PaymentFactory()
    intent = services.stripe_gateway().create_intent(payment=payment)
    Payment.objects.filter(pk=payment.pk).update(provider_reference=intent["id"])
    pay_intent(intent["id"])
    payment.refresh_from_db()
    return payment, intent_dict(intent["id"])


@pytest.mark.django_db
def test_the_same_event_delivered_five_times_changes_the_order_once(
    paid_intent, post_stripe_event, django_capture_on_commit_callbacks
):
    payment, intent = paid_intent
    event = stripe_event("payment_intent.succeeded", intent)

    with django_capture_on_commit_callbacks(execute=True):
        answers = [post_stripe_event(event).status_code for _delivery in range(5)]

    assert answers == [200] * 5
    assert WebhookEvent.objects.count() == 1
    assert OrderEvent.objects.filter(order=payment.order, to_status=S.PAID).count() == 1
    assert status_of(payment.order) == S.PAID
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_replayed_event_with_a_new_id_changes_nothing_either(
    paid_intent, post_stripe_event, django_capture_on_commit_callbacks
):
    payment, intent = paid_intent

    with django_capture_on_commit_callbacks(execute=True):
        for _delivery in range(3):
            post_stripe_event(stripe_event("payment_intent.succeeded", intent))

    assert WebhookEvent.objects.filter(processed_at__isnull=False).count() == 3
    assert OrderEvent.objects.filter(order=payment.order, to_status=S.PAID).count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_late_failure_event_does_not_undo_a_payment(
    paid_intent, post_stripe_event, django_capture_on_commit_callbacks
):
    payment, intent = paid_intent
    failed = {
        **intent,
        "status": "requires_payment_method",
        "last_payment_error": {"message": "Your card was declined."},
    }

    with django_capture_on_commit_callbacks(execute=True):
        post_stripe_event(stripe_event("payment_intent.succeeded", intent))
        post_stripe_event(stripe_event("payment_intent.payment_failed", failed))

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert status_of(payment.order) == S.PAID


@pytest.mark.django_db
@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="missing"),
        pytest.param("t=1,v1=00", id="wrong"),
        pytest.param("garbage", id="garbage"),
    ],
)
def test_a_bad_or_missing_signature_gets_400_and_nothing_is_stored(
    paid_intent, post_stripe_event, signature
):
    _payment, intent = paid_intent

    response = post_stripe_event(
        stripe_event("payment_intent.succeeded", intent), signature=signature
    )

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_an_event_signed_with_another_secret_gets_400(paid_intent, post_stripe_event):
    _payment, intent = paid_intent

    response = post_stripe_event(
        stripe_event("payment_intent.succeeded", intent), secret="whsec_someone_else"
    )

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_an_old_signed_event_replayed_later_gets_400(paid_intent, post_stripe_event):
    _payment, intent = paid_intent
    payload = json.dumps(stripe_event("payment_intent.succeeded", intent))

    response = post_stripe_event(
        payload, signature=stripe_signature(payload, timestamp=int(time.time()) - 3600)
    )

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    ["not json", "[1, 2]", '{"id": "evt_1"}', '{"id": "evt_1", "type": "x", "data": 3}', "NaN"],
)
def test_signed_garbage_gets_400_not_500(post_stripe_event, body):
    response = post_stripe_event(body)

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_the_webhook_only_takes_posts(client):
    assert client.get(WEBHOOK_URL).status_code == 405


@pytest.mark.django_db
def test_an_event_the_shop_does_not_act_on_is_answered_and_not_stored(post_stripe_event):
    response = post_stripe_event(stripe_event("balance.available", {"object": "balance"}))

    assert response.status_code == 200
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_an_event_for_an_intent_we_never_made_changes_nothing(
    post_stripe_event, django_capture_on_commit_callbacks
):
    order = CardOrderFactory()
    stranger = {
        "id": "pi_not_ours",
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 4250,
        "currency": "eur",
        "metadata": {"order_id": str(order.pk), "order_number": order.number},
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = post_stripe_event(stripe_event("payment_intent.succeeded", stranger))

    assert response.status_code == 200
    assert WebhookEvent.objects.get().processed_at is not None
    assert status_of(order) == S.PENDING_PAYMENT


@pytest.mark.django_db
def test_an_event_that_failed_to_process_keeps_its_error_and_the_outbox_processes_it_later(
    paid_intent, post_stripe_event, django_capture_on_commit_callbacks, monkeypatch
):
    payment, intent = paid_intent
    real_apply = services.apply_intent

    def database_gone(**kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(services, "apply_intent", database_gone)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_stripe_event(stripe_event("payment_intent.succeeded", intent))
    stored = WebhookEvent.objects.get()
    monkeypatch.setattr(services, "apply_intent", real_apply)

    assert outbox.dispatch() == 0
    swept = outbox.dispatch(now=timezone.now() + timedelta(minutes=5))

    assert response.status_code == 200
    assert "database went away" in stored.error
    assert stored.processed_at is None
    assert swept == 1
    stored.refresh_from_db()
    assert stored.processed_at is not None
    assert stored.error == ""
    assert status_of(payment.order) == S.PAID
