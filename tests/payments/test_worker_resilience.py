"""A paid order's webhook against a real Celery worker on Redis, when things break.

Runs on PostgreSQL and Redis only (CI has both): the worker is a separate process, so it must
see the same database and broker as the test.
"""

import time

import pytest

from orders.models import Order, OrderEvent
from payments import services
from payments.models import Payment, WebhookEvent
from shop import outbox
from shop.celery import app

from .conftest import broker_unreachable, row_lock, stripe_event, wait_until
from .factories import CardOrderFactory, intent_dict, pay_intent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# A worker that takes over puts back what a dead one held this long (Redis visibility timeout).
VISIBILITY_TIMEOUT = 1


def paid_at_stripe(order):
    """The order's card payment, paid at (local)Stripe, and its PaymentIntent as Stripe sends it."""
    payment = services.start_card_payment(order=order).payment
    assert pay_intent(payment.provider_reference).status == "succeeded"
    return payment, intent_dict(payment.provider_reference)


def processed(event):
    event.refresh_from_db()
    return event.processed_at is not None


def times_marked_paid(order):
    return OrderEvent.objects.filter(order=order, to_status=Order.Status.PAID).count()


def test_webhook_task_killed_with_its_worker_is_redelivered_and_pays_once(
    stripe_settings, post_stripe_event, celery_worker_process
):
    worker = celery_worker_process
    order = CardOrderFactory()
    payment, intent = paid_at_stripe(order)

    # The payment row is held, so the task stops halfway: event row locked, nothing written.
    lock = row_lock(Payment._meta.db_table, payment.pk)
    try:
        assert (
            post_stripe_event(stripe_event("payment_intent.succeeded", intent)).status_code == 200
        )
        wait_until(
            lock.waiters,
            timeout=30,
            message=lambda: f"the task never reached the payment row\n{worker.log()}",
        )
        taken_at = time.monotonic()
        worker.kill()
    finally:
        lock.release()

    event = WebhookEvent.objects.get()
    payment.refresh_from_db()
    assert (event.processed_at, payment.status) == (None, Payment.Status.PENDING)

    # Once the message has been out longer than the visibility timeout, a new worker takes it.
    time.sleep(max(0, taken_at + VISIBILITY_TIMEOUT + 0.5 - time.monotonic()))
    worker.env["CELERY_VISIBILITY_TIMEOUT"] = str(VISIBILITY_TIMEOUT)
    worker.start()
    wait_until(
        lambda: processed(event),
        timeout=30,
        message=lambda: f"the task was not redelivered\n{worker.log()}",
    )

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert order.status == Order.Status.PAID
    assert times_marked_paid(order) == 1


def test_webhook_received_while_redis_is_down_is_processed_once_redis_is_back(
    stripe_settings, post_stripe_event, celery_worker_process
):
    order = CardOrderFactory()
    payment, intent = paid_at_stripe(order)

    with broker_unreachable(app):
        response = post_stripe_event(stripe_event("payment_intent.succeeded", intent))

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.processed_at is None

    assert outbox.dispatch() == 1
    wait_until(
        lambda: processed(event),
        timeout=30,
        message=lambda: f"the dispatched event was not processed\n{celery_worker_process.log()}",
    )
    assert outbox.dispatch() == 0

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert order.status == Order.Status.PAID
    assert times_marked_paid(order) == 1
