"""A paid order's webhook against a real Celery worker on Redis, when things break.

Runs on PostgreSQL and Redis only (CI has both): the worker is a separate process, so it must
see the same database and broker as the test.
"""

import time

import psycopg2
import pytest
from django.db import connection
from psycopg2 import sql

from orders.models import Order, OrderEvent
from payments import services
from payments.models import Payment, WebhookEvent
from shop import outbox
from shop.celery import app

from .conftest import broker_unreachable, stripe_event, wait_until
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


class RowLock:
    """A row held FOR UPDATE by a connection of its own, as a slow transaction would hold it."""

    def __init__(self, table, pk):
        db = connection.settings_dict
        self.connection = psycopg2.connect(
            dbname=db["NAME"],
            user=db["USER"],
            password=db["PASSWORD"],
            host=db["HOST"] or None,
            port=db["PORT"] or None,
        )
        with self.connection.cursor() as cursor:
            query = sql.SQL("SELECT id FROM {} WHERE id = %s FOR UPDATE").format(
                sql.Identifier(table)
            )
            cursor.execute(query, [pk])
            cursor.execute("SELECT pg_backend_pid()")
            self.pid = cursor.fetchone()[0]

    def waiters(self):
        """The database sessions waiting for this lock.

        Asked on the test's own connection: within the lock's transaction pg_stat_activity
        would keep answering from the snapshot it took first.
        """
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [self.pid],
            )
            return [row[0] for row in cursor.fetchall()]

    def release(self):
        self.connection.rollback()
        self.connection.close()


def test_webhook_task_killed_with_its_worker_is_redelivered_and_pays_once(
    stripe_settings, post_stripe_event, celery_worker_process
):
    worker = celery_worker_process
    order = CardOrderFactory()
    payment, intent = paid_at_stripe(order)

    # The payment row is held, so the task stops halfway: event row locked, nothing written.
    lock = RowLock(Payment._meta.db_table, payment.pk)
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
