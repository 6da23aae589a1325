import smtplib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.test import override_settings
from django.utils import timezone

from orders.emails import queue_order_email
from orders.models import Order, OrderEvent
from orders.tasks import expire_unpaid_orders, send_order_email
from shop import outbox
from shop.models import OutboxMessage, SentEmail
from tests.accounts.factories import UserFactory
from tests.shipping.factories import ShippingMethodFactory

from .factories import CartLineFactory, OrderFactory, OrderLineFactory, place, stocked_variant

pytestmark = pytest.mark.django_db

S = Order.Status
BASE_URL = "https://shop.example.com"


class FailingOnceBackend(LocmemBackend):
    """A mail server that drops the first connection, as a flaky SMTP relay does."""

    failures_left = 0

    def send_messages(self, messages):
        if FailingOnceBackend.failures_left:
            FailingOnceBackend.failures_left -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


class RefusingRecipientBackend(LocmemBackend):
    attempts = 0

    def send_messages(self, messages):
        RefusingRecipientBackend.attempts += 1
        raise smtplib.SMTPRecipientsRefused({"nobody@example.com": (550, b"No such user")})


def mug_order(**fields):
    """Two mugs at 19.99 shipped to Berlin for 5.00: 44.98 with 7.18 VAT included."""
    order = OrderFactory(
        number="B7K2M9QX",
        subtotal=Decimal("39.98"),
        shipping_total=Decimal("5.00"),
        total=Decimal("44.98"),
        tax_total=Decimal("7.18"),
        full_name="Mei Chen",
        line1="Unter den Linden 1",
        postal_code="10117",
        city="Berlin",
        country="DE",
        **fields,
    )
    OrderLineFactory(
        order=order,
        variant=None,
        product_title="Enamel mug",
        variant_name="Blue",
        sku="MUG-BLUE",
        unit_price=Decimal("19.99"),
        quantity=2,
        line_total=Decimal("39.98"),
        tax_amount=Decimal("6.38"),
    )
    return order


def html_of(message):
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def test_the_email_is_sent_once_even_if_the_task_runs_twice():
    order = mug_order()

    send_order_email.delay(order.pk, "placed")
    send_order_email.delay(order.pk, "placed")

    assert len(mail.outbox) == 1
    assert SentEmail.objects.filter(key=f"order:{order.pk}:placed").count() == 1


def test_the_email_is_queued_only_when_the_transaction_commits(
    django_capture_on_commit_callbacks,
):
    order = mug_order()

    with django_capture_on_commit_callbacks() as callbacks:
        queue_order_email(order=order, kind="placed")
        assert mail.outbox == []
    for callback in callbacks:
        callback()

    assert [message.to for message in mail.outbox] == [[order.email]]


@override_settings(SHOP_BASE_URL=BASE_URL)
def test_a_guest_checkout_sends_the_confirmation_with_the_secret_link(
    django_capture_on_commit_callbacks,
):
    line = CartLineFactory(quantity=2, variant=stocked_variant(price=Decimal("19.99")))
    method = ShippingMethodFactory(price=Decimal("5.00"), free_over=None)

    with django_capture_on_commit_callbacks(execute=True):
        order = place(line.cart, shipping_method=method, email="guest@example.com")

    [message] = mail.outbox
    assert message.to == ["guest@example.com"]
    assert f"{BASE_URL}/orders/{order.number}/?key={order.access_key}" in message.body
    assert f"{order.total} EUR" in message.body


def test_an_unknown_kind_of_email_is_refused():
    with pytest.raises(ValueError, match="shipped"):
        queue_order_email(order=mug_order(), kind="shipped")


@override_settings(SHOP_BASE_URL=BASE_URL)
def test_placed_email_has_text_and_html_with_lines_totals_tax_and_address():
    order = mug_order()

    send_order_email.delay(order.pk, "placed")

    [message] = mail.outbox
    assert message.to == [order.email]
    assert message.subject == "[Shop] Order B7K2M9QX received"
    for part in (message.body, html_of(message)):
        assert "Thank you for your order." in part
        assert "Enamel mug" in part
        assert "MUG-BLUE" in part
        assert "44.98 EUR" in part
        assert "Included VAT (19%): 7.18 EUR" in part
        assert "Unter den Linden 1" in part
        assert "10117 Berlin" in part


@override_settings(SHOP_BASE_URL=BASE_URL)
def test_a_guest_gets_the_secret_link_to_the_order():
    order = mug_order(user=None)

    send_order_email.delay(order.pk, "placed")

    link = f"{BASE_URL}/orders/B7K2M9QX/?key={order.access_key}"
    [message] = mail.outbox
    assert link in message.body
    assert f'href="{link}"' in html_of(message)


@override_settings(SHOP_BASE_URL=BASE_URL)
def test_a_signed_in_shopper_gets_the_plain_link_without_the_secret():
    order = mug_order(user=UserFactory())

    send_order_email.delay(order.pk, "placed")

    [message] = mail.outbox
    assert f"{BASE_URL}/orders/B7K2M9QX/\n" in message.body
    assert order.access_key not in message.body
    assert order.access_key not in html_of(message)


@override_settings(SHOP_BANK_ACCOUNT="IBAN DE89 3704 0044 0532 0130 00")
def test_bank_transfer_instructions_give_the_order_number_as_reference():
    order = mug_order(payment_method=Order.PaymentMethod.BANK_TRANSFER, status=S.PENDING_PAYMENT)

    send_order_email.delay(order.pk, "placed")

    body = mail.outbox[0].body
    assert "Please transfer 44.98 EUR and give B7K2M9QX as the reference." in body
    assert "Reference: B7K2M9QX" in body
    assert "IBAN DE89 3704 0044 0532 0130 00" in body


def test_cash_on_delivery_tells_the_shopper_to_pay_the_courier():
    order = mug_order(payment_method=Order.PaymentMethod.CASH_ON_DELIVERY, status=S.CONFIRMED)

    send_order_email.delay(order.pk, "placed")

    body = mail.outbox[0].body
    assert "Please pay 44.98 EUR in cash to the courier" in body
    assert "Please transfer" not in body


def test_an_english_order_gets_an_english_email():
    order = mug_order(language="en")

    send_order_email.delay(order.pk, "placed")

    message = mail.outbox[0]
    assert "Germany" in message.body
    assert f"{order.created_at.year}年" not in message.body
    assert '<html lang="en">' in html_of(message)


def test_an_order_placed_in_chinese_gets_its_email_in_chinese():
    order = mug_order(language="zh-hans")

    send_order_email.delay(order.pk, "placed")

    message = mail.outbox[0]
    placed_on = timezone.localtime(order.created_at)
    chinese_date = f"{placed_on.year}年{placed_on.month}月{placed_on.day}日"
    assert chinese_date in message.body
    assert "德国" in message.body
    assert '<html lang="zh-hans">' in html_of(message)


def test_cancelled_email_gives_the_reason_and_the_refund_when_paid():
    order = mug_order(status=S.CANCELLED)
    OrderEvent.objects.create(
        order=order, from_status=S.PAID, to_status=S.CANCELLED, note="Out of stock at the supplier"
    )

    send_order_email.delay(order.pk, "cancelled")

    [message] = mail.outbox
    assert message.subject == "[Shop] Order B7K2M9QX cancelled"
    for part in (message.body, html_of(message)):
        assert "has been cancelled" in part
        assert "Out of stock at the supplier" in part
        assert "the full amount is being refunded to you" in part


def test_cancelled_email_promises_no_refund_for_an_unpaid_order():
    order = mug_order(status=S.CANCELLED)
    OrderEvent.objects.create(order=order, from_status=S.PENDING_PAYMENT, to_status=S.CANCELLED)

    send_order_email.delay(order.pk, "cancelled")

    assert "refunded" not in mail.outbox[0].body


def test_placed_and_cancelled_are_two_emails():
    order = mug_order()

    send_order_email.delay(order.pk, "placed")
    send_order_email.delay(order.pk, "cancelled")

    assert len(mail.outbox) == 2


@override_settings(EMAIL_BACKEND="tests.orders.test_emails.FailingOnceBackend")
def test_an_smtp_failure_is_retried_and_the_email_sent_once(monkeypatch):
    monkeypatch.setattr(FailingOnceBackend, "failures_left", 1)
    order = mug_order()

    # As a worker runs it: the Retry is caught and the task runs again, not raised to us.
    result = send_order_email.apply((order.pk, "placed"), throw=False)

    assert result.get() is True
    assert FailingOnceBackend.failures_left == 0
    assert len(mail.outbox) == 1
    assert SentEmail.objects.filter(key=f"order:{order.pk}:placed").exists()


@override_settings(EMAIL_BACKEND="tests.orders.test_emails.RefusingRecipientBackend")
def test_an_address_the_mail_server_refuses_is_not_retried(monkeypatch):
    monkeypatch.setattr(RefusingRecipientBackend, "attempts", 0)
    order = mug_order()

    result = send_order_email.apply((order.pk, "placed"), throw=False)

    assert result.failed()
    assert RefusingRecipientBackend.attempts == 1
    assert not SentEmail.objects.exists()


def test_the_task_for_an_order_deleted_since_sends_nothing():
    assert send_order_email.delay(987654, "placed").get() is False
    assert mail.outbox == []


def placed_minutes_ago(order, minutes):
    when = timezone.now() - timedelta(minutes=minutes)
    Order.objects.filter(pk=order.pk).update(created_at=when)
    return order


def test_an_order_email_never_handed_to_the_broker_is_sent_once_by_the_outbox():
    line = CartLineFactory(quantity=1, variant=stocked_variant())

    order = place(line.cart, shipping_method=ShippingMethodFactory(), email="lost@example.com")
    assert mail.outbox == []

    outbox.dispatch()
    outbox.dispatch()

    assert [message.to for message in mail.outbox] == [["lost@example.com"]]
    assert OutboxMessage.objects.get(key=f"order:{order.pk}:placed").done_at is not None


def test_a_cancellation_email_goes_through_the_outbox_once(django_capture_on_commit_callbacks):
    order = mug_order(status=S.CANCELLED)

    with django_capture_on_commit_callbacks(execute=True):
        queue_order_email(order=order, kind="cancelled")
    outbox.dispatch(only=list(OutboxMessage.objects.values_list("pk", flat=True)))

    assert [message.subject for message in mail.outbox] == ["[Shop] Order B7K2M9QX cancelled"]


def test_the_beat_task_cancels_card_orders_left_unpaid_and_tells_the_shopper(
    settings, django_capture_on_commit_callbacks
):
    overdue = placed_minutes_ago(
        mug_order(payment_method=Order.PaymentMethod.CARD, status=S.PENDING_PAYMENT),
        settings.ORDER_UNPAID_MINUTES + 1,
    )
    fresh = OrderFactory(payment_method=Order.PaymentMethod.CARD, status=S.PENDING_PAYMENT)

    with django_capture_on_commit_callbacks(execute=True):
        assert expire_unpaid_orders.delay().get() == 1

    assert Order.objects.get(pk=overdue.pk).status == S.CANCELLED
    assert Order.objects.get(pk=fresh.pk).status == S.PENDING_PAYMENT
    assert [message.subject for message in mail.outbox] == ["[Shop] Order B7K2M9QX cancelled"]
