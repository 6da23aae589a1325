"""Unpaid bank transfers: a reminder halfway to the deadline, then cancelled with stock released."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.test import TestCase

from orders import services
from orders.models import Order, Voucher
from orders.tasks import expire_unpaid_orders, send_order_email
from payments.models import Payment
from payments.services import mark_order_transfer_received
from shipping.models import StockLevel, StockMovement
from tests.accounts.factories import StaffFactory
from tests.shipping.factories import ShippingMethodFactory

from .factories import CartLineFactory, VoucherFactory, place, stocked_variant

pytestmark = pytest.mark.django_db

S = Order.Status
M = Order.PaymentMethod
PLACED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
IBAN = "IBAN DE89 3704 0044 0532 0130 00"


@pytest.fixture(autouse=True)
def transfer_settings(settings):
    settings.ORDER_BANK_TRANSFER_DAYS = 6
    settings.ORDER_UNPAID_MINUTES = 30
    settings.SHOP_BANK_ACCOUNT = IBAN
    settings.STRIPE_SECRET_KEY = "sk_test_123"
    return settings


@pytest.fixture
def variant():
    return stocked_variant(units=10, price=Decimal("19.99"))


def committed(action, *args, **kwargs):
    """Do `action`, then what the shop does once it commits (open payments, send emails)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return action(*args, **kwargs)


def placed(variant, *, at=PLACED, method=M.BANK_TRANSFER, **overrides):
    """Two units at 19.99 plus 5.00 shipping (44.98), placed at `at`."""
    with time_machine.travel(at, tick=False):
        return committed(
            place,
            cart=CartLineFactory(variant=variant, quantity=2).cart,
            shipping_method=ShippingMethodFactory(price=Decimal("5.00"), free_over=None),
            payment_method=method,
            **overrides,
        )


def run_at(moment, service):
    with time_machine.travel(moment, tick=False):
        return committed(service)


def reminders():
    return [
        message for message in mail.outbox if "waiting for your bank transfer" in message.subject
    ]


# Expiry


def test_an_unpaid_transfer_is_kept_until_its_days_are_up(variant):
    order = placed(variant)

    assert run_at(PLACED + timedelta(days=6, minutes=-1), services.cancel_unpaid_orders) == []

    assert Order.objects.get(pk=order.pk).status == S.PENDING_PAYMENT
    assert StockLevel.objects.get(variant=variant).reserved == 2


def test_an_unpaid_transfer_is_cancelled_after_its_days_and_its_stock_released(variant):
    VoucherFactory(code="TEN", max_uses=1)
    order = placed(variant, voucher_code="TEN")

    assert run_at(PLACED + timedelta(days=6, minutes=1), services.cancel_unpaid_orders) == [order]

    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert order.events.last().note == "The bank transfer did not arrive within 6 days."
    assert StockLevel.objects.get(variant=variant).reserved == 0
    release = StockMovement.objects.get(order=order, kind=StockMovement.Kind.RELEASE)
    assert release.reserved_change == -2
    assert Voucher.objects.get(code="TEN").times_used == 0
    assert order.payments.get().status == Payment.Status.CANCELLED
    assert f"[Shop] Order {order.number} cancelled" in [m.subject for m in mail.outbox]


def test_cancelling_expired_orders_twice_cancels_them_once(variant):
    order = placed(variant)
    later = PLACED + timedelta(days=7)

    assert committed(services.cancel_unpaid_orders, now=later) == [order]
    assert committed(services.cancel_unpaid_orders, now=later) == []

    assert order.events.filter(to_status=S.CANCELLED).count() == 1
    assert StockMovement.objects.filter(order=order, kind=StockMovement.Kind.RELEASE).count() == 1


def test_card_orders_still_expire_after_minutes_while_transfers_wait_days(variant):
    card = placed(variant, method=M.CARD)
    transfer = placed(variant)

    cancelled = run_at(PLACED + timedelta(minutes=31), services.cancel_unpaid_orders)

    assert cancelled == [card]
    assert Order.objects.get(pk=card.pk).events.last().note == "Not paid within 30 minutes."
    assert Order.objects.get(pk=transfer.pk).status == S.PENDING_PAYMENT


def test_a_transfer_received_in_time_is_never_cancelled(variant):
    order = placed(variant)
    committed(mark_order_transfer_received, order=order, user=StaffFactory())

    assert committed(services.cancel_unpaid_orders, now=PLACED + timedelta(days=30)) == []

    assert Order.objects.get(pk=order.pk).status == S.PAID


# The reminder halfway


def test_the_shopper_is_reminded_halfway_once_with_how_to_pay_and_the_deadline(variant):
    order = placed(variant)
    mail.outbox.clear()

    assert run_at(PLACED + timedelta(days=3, minutes=-1), expire_unpaid_orders.delay).get() == 0
    assert reminders() == []
    assert run_at(PLACED + timedelta(days=3, minutes=1), expire_unpaid_orders.delay).get() == 0
    assert run_at(PLACED + timedelta(days=3, minutes=6), expire_unpaid_orders.delay).get() == 0

    [reminder] = reminders()
    assert reminder.to == ["guest@example.com"]
    assert reminder.subject == f"[Shop] Order {order.number} is waiting for your bank transfer"
    [(html, _mimetype)] = reminder.alternatives
    for part in (reminder.body, html):
        assert f"Please transfer 44.98 EUR and give {order.number} as the reference." in part
        assert IBAN in part
        assert "the order is cancelled on March 8, 2026." in part
    assert f"Reference: {order.number}" in reminder.body
    assert Order.objects.get(pk=order.pk).status == S.PENDING_PAYMENT


def test_the_reminder_is_in_the_language_the_order_was_placed_in(variant):
    placed(variant, language="zh-hans")
    mail.outbox.clear()

    run_at(PLACED + timedelta(days=4), services.remind_unpaid_transfers)

    [message] = mail.outbox
    assert "2026年3月8日" in message.body
    assert '<html lang="zh-hans">' in message.alternatives[0][0]


def test_no_reminder_for_paid_or_cancelled_transfers(variant):
    paid = placed(variant)
    committed(mark_order_transfer_received, order=paid, user=StaffFactory())
    cancelled = placed(variant)
    committed(services.cancel_order, order=cancelled, note="Changed my mind.")
    mail.outbox.clear()

    assert run_at(PLACED + timedelta(days=4), services.remind_unpaid_transfers) == []

    assert mail.outbox == []


def test_an_order_past_its_deadline_is_cancelled_not_reminded(variant):
    order = placed(variant)
    mail.outbox.clear()

    assert run_at(PLACED + timedelta(days=6, minutes=1), expire_unpaid_orders.delay).get() == 1

    assert [message.subject for message in mail.outbox] == [
        f"[Shop] Order {order.number} cancelled"
    ]


def test_a_reminder_that_arrives_after_the_order_was_paid_is_not_sent(variant):
    order = placed(variant)
    committed(mark_order_transfer_received, order=order, user=StaffFactory())
    mail.outbox.clear()

    assert send_order_email.delay(order.pk, "transfer_reminder").get() is False

    assert mail.outbox == []


def test_the_placed_email_tells_a_transfer_shopper_the_deadline(variant):
    order = placed(variant)

    [message] = mail.outbox
    assert message.subject == f"[Shop] Order {order.number} received"
    assert "the order is cancelled on March 8, 2026." in message.body


def test_the_command_cancels_and_reminds_and_can_run_twice(variant):
    overdue = placed(variant, at=PLACED - timedelta(days=7))
    halfway = placed(variant, at=PLACED - timedelta(days=4))
    first, second = StringIO(), StringIO()

    with time_machine.travel(PLACED, tick=False):
        committed(call_command, "cancel_unpaid_orders", stdout=first)
        committed(call_command, "cancel_unpaid_orders", stdout=second)

    assert f"Cancelled {overdue.number}" in first.getvalue()
    assert f"Reminded {halfway.number}" in first.getvalue()
    assert "1 unpaid order cancelled" in first.getvalue()
    assert "1 bank transfer reminder queued" in first.getvalue()
    assert "0 unpaid orders cancelled" in second.getvalue()
    assert "0 bank transfer reminders queued" in second.getvalue()
    assert len(reminders()) == 1
