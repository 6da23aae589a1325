"""The transactional outbox: written with the change, handed over after commit, done once."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.services import setup_roles
from orders.services import cancel_order
from payments import services as payment_services
from payments.models import Payment
from shop import outbox
from shop.celery import app
from shop.models import OutboxMessage, SentEmail
from tests.accounts.factories import StaffFactory
from tests.orders.factories import CartLineFactory, place, stocked_variant
from tests.payments.conftest import free_port
from tests.shipping.factories import ShippingMethodFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:shop_outboxmessage_changelist")
EMAIL_TASK = "orders.tasks.send_order_email"


def placed_order(**fields):
    line = CartLineFactory(quantity=1, variant=stocked_variant())
    return place(line.cart, shipping_method=ShippingMethodFactory(), **fields)


@contextmanager
def broker_unreachable():
    """Tasks go to a broker on a port where nothing listens, as when Redis is down."""
    saved = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager, app.conf.broker_url = False, f"redis://127.0.0.1:{free_port()}/0"
    app._pool = app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.broker_url = saved
        app._pool = app.amqp._producer_pool = None


def row(key):
    return OutboxMessage.objects.get(key=key)


def role(name):
    staff = StaffFactory()
    staff.groups.add(next(group for group in setup_roles() if group.name == name))
    return staff


def test_placing_an_order_writes_its_follow_ups_in_the_same_transaction():
    order = placed_order(email="mei@example.com")

    rows = OutboxMessage.objects.order_by("pk")
    assert [(message.task, message.args) for message in rows] == [
        (EMAIL_TASK, [order.pk, "placed"]),
        ("orders.tasks.announce_order_placed", [order.pk]),
    ]
    assert all(message.dispatched_at is None and message.done_at is None for message in rows)


def test_a_change_rolled_back_leaves_no_outbox_row():
    order = placed_order()
    OutboxMessage.objects.all().delete()

    with pytest.raises(RuntimeError), transaction.atomic():
        cancel_order(order=order)
        raise RuntimeError("the request failed after cancelling")

    assert not OutboxMessage.objects.exists()


def test_the_same_key_enqueued_twice_is_one_row():
    order = placed_order()

    outbox.enqueue(EMAIL_TASK, order.pk, "placed", key=f"order:{order.pk}:placed")

    assert OutboxMessage.objects.filter(key=f"order:{order.pk}:placed").count() == 1


def test_a_key_enqueued_again_after_its_task_failed_waits_for_its_backoff(
    django_capture_on_commit_callbacks,
):
    order = placed_order()
    key = f"order:{order.pk}:placed"
    OutboxMessage.objects.filter(key=key).update(
        attempts=1,
        last_error="OSError: no SMTP",
        available_at=timezone.now() + timedelta(minutes=2),
    )

    with django_capture_on_commit_callbacks(execute=True):
        outbox.enqueue(EMAIL_TASK, order.pk, "placed", key=key)

    assert mail.outbox == []
    assert row(key).attempts == 1


def test_after_commit_the_task_runs_at_once_and_its_row_is_done(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        order = placed_order(email="mei@example.com")

    message = row(f"order:{order.pk}:placed")
    assert (message.attempts, message.last_error) == (1, "")
    assert message.dispatched_at is not None and message.done_at is not None
    assert [sent.to for sent in mail.outbox] == [["mei@example.com"]]
    assert Payment.objects.filter(order=order).count() == 1
    assert outbox.dispatch() == 0


def test_a_failing_follow_up_never_reaches_the_shopper_and_is_retried_later(
    django_capture_on_commit_callbacks, monkeypatch
):
    with django_capture_on_commit_callbacks(execute=True):
        order = placed_order(payment_method="bank_transfer")
    payment = Payment.objects.get(order=order)

    def settling_fails(**kwargs):
        raise ConnectionError("payments database went away")

    real_settle = payment_services.settle_cancelled_order
    monkeypatch.setattr(payment_services, "settle_cancelled_order", settling_fails)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order=order)

    message = row(f"order:{order.pk}:cancelled-signal")
    assert "payments database went away" in message.last_error
    assert message.done_at is None
    assert message.available_at > timezone.now()
    assert outbox.dispatch() == 0
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING

    monkeypatch.setattr(payment_services, "settle_cancelled_order", real_settle)
    assert outbox.dispatch(now=timezone.now() + timedelta(hours=1)) == 1

    payment.refresh_from_db()
    message.refresh_from_db()
    assert payment.status == Payment.Status.CANCELLED
    assert (message.attempts, message.done_at is not None) == (2, True)


def test_a_row_handed_over_long_ago_and_not_done_is_handed_over_again():
    order = placed_order()
    handed_at = timezone.now() - outbox.REDISPATCH_AFTER - timedelta(minutes=1)
    OutboxMessage.objects.update(dispatched_at=handed_at, attempts=1)
    OutboxMessage.objects.filter(key=f"order:{order.pk}:placed-signal").update(
        dispatched_at=timezone.now()
    )

    assert outbox.dispatch() == 1

    assert row(f"order:{order.pk}:placed").attempts == 2
    assert SentEmail.objects.filter(key=f"order:{order.pk}:placed").count() == 1


def test_a_row_that_failed_every_attempt_waits_for_staff():
    order = placed_order()
    OutboxMessage.objects.update(attempts=outbox.MAX_ATTEMPTS, last_error="OSError: no SMTP")

    assert outbox.dispatch() == 0
    assert OutboxMessage.objects.failed().count() == 2

    assert outbox.dispatch(only=[row(f"order:{order.pk}:placed").pk]) == 1
    assert len(mail.outbox) == 1


def test_the_dispatcher_hands_over_in_batches():
    orders = [placed_order() for _ in range(3)]

    assert outbox.dispatch(batch_size=2) == 6

    assert OutboxMessage.objects.done().count() == 6
    assert SentEmail.objects.count() == len(orders)


def test_rows_done_a_week_ago_are_purged():
    placed_order()
    outbox.dispatch()
    OutboxMessage.objects.filter(task=EMAIL_TASK).update(
        done_at=timezone.now() - outbox.KEEP_DONE - timedelta(hours=1)
    )

    assert outbox.purge_done() == 1
    assert list(OutboxMessage.objects.values_list("task", flat=True)) == [
        "orders.tasks.announce_order_placed"
    ]


def test_dispatch_outbox_command_hands_over_what_is_due(capsys):
    placed_order()

    call_command("dispatch_outbox")

    assert "2 outbox messages handed over." in capsys.readouterr().out
    assert OutboxMessage.objects.done().count() == 2


def test_dispatch_outbox_command_fails_while_the_broker_is_unreachable():
    placed_order()

    with broker_unreachable(), pytest.raises(CommandError, match="2 outbox messages still due"):
        call_command("dispatch_outbox")

    assert OutboxMessage.objects.pending().count() == 2
    assert not OutboxMessage.objects.filter(dispatched_at__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_unreachable_an_order_waits_for_it_once_not_once_per_follow_up(caplog):
    with broker_unreachable():
        order = placed_order()

    assert OutboxMessage.objects.pending().filter(dispatched_at__isnull=True).count() == 2
    assert [r.getMessage() for r in caplog.records if r.name == "shop.outbox"] == [
        f"Broker unreachable: outbox message order:{order.pk}:placed stays due."
    ]


def test_order_managers_see_the_backlog_and_failures_and_dispatch_now(client):
    order = placed_order()
    OutboxMessage.objects.filter(key=f"order:{order.pk}:placed").update(
        attempts=outbox.MAX_ATTEMPTS, last_error="SMTPRecipientsRefused"
    )
    client.force_login(role("Order managers"))

    failed = client.get(CHANGELIST, {"state": "failed"})
    pending = client.get(CHANGELIST, {"state": "pending"})
    assert [m.key for m in failed.context["cl"].result_list] == [f"order:{order.pk}:placed"]
    assert [m.key for m in pending.context["cl"].result_list] == [f"order:{order.pk}:placed-signal"]

    response = client.post(
        CHANGELIST,
        {"action": "dispatch_now", "_selected_action": [row(f"order:{order.pk}:placed").pk]},
        follow=True,
    )

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "1 message handed to the workers."
    ]
    assert row(f"order:{order.pk}:placed").done_at is not None
    assert len(mail.outbox) == 1


def test_the_outbox_is_read_only_and_hidden_from_other_staff(client):
    order = placed_order()
    client.force_login(role("Order managers"))
    change = reverse("admin:shop_outboxmessage_change", args=[row(f"order:{order.pk}:placed").pk])

    assert client.get(change).status_code == 200
    assert client.post(change, {"task": "x"}).status_code == 403
    assert client.get(reverse("admin:shop_outboxmessage_add")).status_code == 403

    client.force_login(role("Customer service"))
    assert client.get(CHANGELIST).status_code == 403
