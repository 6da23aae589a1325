"""Payment emails: received, failed, refund issued; each sent once, and none lost."""

from decimal import Decimal

import pytest
from django.core import mail

from payments import services
from payments.emails import queue_payment_email
from payments.models import Payment, Refund
from payments.tasks import send_payment_email
from shop import outbox
from tests.accounts.factories import UserFactory

from .factories import CardOrderFactory, PaymentFactory, RefundFactory

pytestmark = pytest.mark.django_db


def declined(payment):
    return services.apply_intent(
        intent={
            "id": payment.provider_reference,
            "object": "payment_intent",
            "status": "requires_payment_method",
            "amount": 4250,
            "currency": "eur",
            "metadata": {"order_id": str(payment.order_id), "order_number": payment.order.number},
            "last_payment_error": {"message": "Your card has insufficient funds."},
        }
    )


def test_a_failed_payment_email_says_why_and_links_to_paying_again(
    django_capture_on_commit_callbacks,
):
    payment = PaymentFactory(provider_reference="pi_declined")

    with django_capture_on_commit_callbacks(execute=True):
        declined(payment)

    [message] = mail.outbox
    order = payment.order
    assert message.to == [order.email]
    assert f"Your payment for order {order.number} did not go through" in message.subject
    assert "Your card has insufficient funds." in message.body
    assert f"/payments/orders/{order.number}/pay/?key={order.access_key}" in message.body
    html = message.alternatives[0][0]
    assert "Try again" in html


def test_a_shopper_with_an_account_gets_a_link_without_the_secret_key(
    django_capture_on_commit_callbacks,
):
    order = CardOrderFactory(user=UserFactory())
    payment = PaymentFactory(order=order, provider_reference="pi_declined")

    with django_capture_on_commit_callbacks(execute=True):
        declined(payment)

    assert f"/payments/orders/{order.number}/pay/\n" in mail.outbox[0].body
    assert order.access_key not in mail.outbox[0].body


def test_each_email_goes_once_however_often_its_task_runs():
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)

    results = [send_payment_email("received", payment.pk) for _run in range(3)]

    assert results == [True, False, False]
    assert len(mail.outbox) == 1


def test_an_email_that_no_longer_applies_is_not_sent():
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)

    assert send_payment_email("failed", payment.pk) is False
    assert not mail.outbox


def test_a_refund_email_never_handed_over_is_sent_once_by_the_outbox():
    refund = RefundFactory(status=Refund.Status.SUCCEEDED, amount=Decimal("2.00"))
    queue_payment_email(kind="refunded", pk=refund.pk)

    assert outbox.dispatch() == 1
    assert outbox.dispatch() == 0

    [message] = mail.outbox
    assert "Refund for order" in message.subject
    assert "2.00 EUR" in message.body
    assert message.to == [refund.payment.order.email]
