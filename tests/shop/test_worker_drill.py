"""The outbox against a real Celery worker on Redis: killed, flushed, unreachable.

Runs on PostgreSQL and Redis only (CI has both); the worker is a separate process on the test
database and REDIS_URL (see tests/payments/conftest.py). Each drill ends with every follow-up
of the order done exactly once: one confirmation in the email log, one payment opened.
"""

import os
import time

import pytest
import redis
from django.core.management import call_command
from psycopg2 import sql

from orders.models import Order
from payments.models import Payment
from shop import outbox
from shop.celery import app
from shop.models import OutboxMessage, SentEmail
from tests.orders.factories import CartLineFactory, place, stocked_variant
from tests.payments.conftest import (  # noqa: F401 (the worker fixture)
    HeldTransaction,
    broker_unreachable,
    celery_worker_process,
    wait_until,
)
from tests.shipping.factories import ShippingMethodFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# A worker that takes over puts back what a dead one held this long (Redis visibility timeout).
VISIBILITY_TIMEOUT = 1


@pytest.fixture
def worker(request):
    return request.getfixturevalue("celery_worker_process")


def uncommitted_sent_email(key):
    """A log row for `key` inserted by a transaction of its own that has not committed yet.

    A task sending the same email stops at the unique key, waiting for this transaction:
    halfway through, holding its message unacknowledged, as a slow mail server would hold it.
    """
    query = sql.SQL(
        "INSERT INTO {} (key, recipient, subject, sent_at) "
        "VALUES (%s, 'held@example.com', 'held', now())"
    ).format(sql.Identifier(SentEmail._meta.db_table))
    return HeldTransaction(query, [key])


def placed_order():
    line = CartLineFactory(quantity=1, variant=stocked_variant())
    return place(
        line.cart,
        shipping_method=ShippingMethodFactory(),
        email="mei@example.com",
        payment_method=Order.PaymentMethod.BANK_TRANSFER,
    )


def all_done():
    return not OutboxMessage.objects.filter(done_at__isnull=True).exists()


def assert_followed_up_once(order):
    assert SentEmail.objects.filter(key=f"order:{order.pk}:placed").count() == 1
    assert Payment.objects.filter(order=order).count() == 1
    assert OutboxMessage.objects.done().count() == 2


def test_a_task_killed_with_its_worker_is_redelivered_and_done_once(worker):
    with broker_unreachable(app):
        order = placed_order()
    key = f"order:{order.pk}:placed"

    # The confirmation's log row is held, so the task stops halfway; then the worker dies.
    held = uncommitted_sent_email(key)
    try:
        assert outbox.dispatch() == 2
        wait_until(
            held.waiters,
            timeout=30,
            message=lambda: f"the task never reached the email log\n{worker.log()}",
        )
        taken_at = time.monotonic()
        worker.kill()
    finally:
        held.release()

    assert not SentEmail.objects.filter(key=key).exists()
    assert OutboxMessage.objects.get(key=key).done_at is None

    # Once the message has been out longer than the visibility timeout, a new worker takes it.
    time.sleep(max(0, taken_at + VISIBILITY_TIMEOUT + 0.5 - time.monotonic()))
    worker.env["CELERY_VISIBILITY_TIMEOUT"] = str(VISIBILITY_TIMEOUT)
    worker.start()
    wait_until(all_done, timeout=30, message=lambda: f"not redelivered\n{worker.log()}")

    assert_followed_up_once(order)
    assert outbox.dispatch() == 0


def test_messages_lost_with_a_flushed_broker_are_handed_over_again_and_done_once(worker):
    worker.kill()
    order = placed_order()
    assert not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()

    # Redis restarted empty: the two messages waiting for a worker are gone.
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    worker.start()
    time.sleep(1)
    assert not OutboxMessage.objects.done().exists()

    call_command("dispatch_outbox", stale_after=0)
    wait_until(all_done, timeout=30, message=lambda: f"not handed over again\n{worker.log()}")

    assert_followed_up_once(order)


def test_an_order_placed_while_the_broker_is_unreachable_is_followed_up_once_it_is_back(
    worker, capsys
):
    with broker_unreachable(app):
        order = placed_order()

    assert Order.objects.filter(pk=order.pk).exists()
    assert OutboxMessage.objects.pending().filter(dispatched_at__isnull=True).count() == 2

    call_command("dispatch_outbox")
    wait_until(all_done, timeout=30, message=lambda: f"not delivered\n{worker.log()}")
    call_command("dispatch_outbox")

    assert capsys.readouterr().out.splitlines() == [
        "2 outbox messages handed over.",
        "0 outbox messages handed over.",
    ]
    assert_followed_up_once(order)
