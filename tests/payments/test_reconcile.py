"""reconcile_payments: what a missed webhook would have done, applied from Stripe's own records."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from orders.models import Order
from payments import services
from payments.models import Payment, Refund

from .factories import CARD_DECLINED, CardOrderFactory, PaymentFactory, RefundFactory, pay_intent

pytestmark = pytest.mark.django_db

S = Order.Status


@pytest.fixture
def webhooks_missed(stripe_settings):
    """Whatever localstripe delivers now fails the signature check: every webhook is missed."""
    stripe_settings.STRIPE_WEBHOOK_SECRET = "whsec_not_the_one_stripe_signs_with"
    return stripe_settings


def reconcile(*args):
    out = StringIO()
    call_command("reconcile_payments", *args, stdout=out, verbosity=0)
    return out.getvalue()


def paid_without_webhook(card=None):
    order = CardOrderFactory()
    payment = services.start_card_payment(order=order).payment
    pay_intent(payment.provider_reference, **({"card": card} if card else {}))
    return order, payment


def test_a_missed_webhook_is_put_right_by_reconcile_payments(webhooks_missed):
    order, payment = paid_without_webhook()
    before = Order.objects.get(pk=order.pk).status

    report = reconcile()
    again = reconcile()

    order.refresh_from_db()
    payment.refresh_from_db()
    assert before == S.PENDING_PAYMENT
    assert order.status == S.PAID
    assert payment.status == Payment.Status.SUCCEEDED
    assert (
        f"{order.number} {payment.provider_reference}: pending → succeeded (order paid)" in report
    )
    assert "1 card payments since" in report
    assert "1 changed, 0 to look at" in report
    assert "0 changed, 0 to look at" in again
    assert order.events.filter(to_status=S.PAID).count() == 1


def test_a_missed_decline_is_recorded_so_the_shopper_can_try_again(webhooks_missed):
    order, payment = paid_without_webhook(card=CARD_DECLINED)

    report = reconcile()

    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert "pending → failed" in report
    assert Order.objects.get(pk=order.pk).status == S.PENDING_PAYMENT


def test_a_payment_we_recorded_that_stripe_does_not_show_as_paid_is_flagged(webhooks_missed):
    order = CardOrderFactory()
    payment = services.start_card_payment(order=order).payment
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.SUCCEEDED)

    report = reconcile()

    payment.refresh_from_db()
    assert "Stripe says the intent is “requires_payment_method”" in payment.flagged_reason
    assert f"{order.number} {payment.provider_reference}: Recorded as paid" in report
    assert "0 changed, 1 to look at" in report


def test_card_refunds_left_pending_are_sent(webhooks_missed):
    _order, payment = paid_without_webhook()
    services.refresh_card_payment(payment=payment)
    refund = RefundFactory(payment=payment, amount="3.00")

    report = reconcile()

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert f"refund {refund.pk}: pending → succeeded" in report


def test_only_payments_made_since_the_date_are_checked(webhooks_missed):
    old_order, old_payment = paid_without_webhook()
    Payment.objects.filter(pk=old_payment.pk).update(created_at=timezone.now() - timedelta(days=30))
    since = (timezone.now() - timedelta(days=2)).date().isoformat()

    report = reconcile("--since", since)
    default = reconcile()
    everything = reconcile("--since", "2000-01-01")

    assert f"0 card payments since {since} checked" in report
    assert "0 card payments since" in default
    assert "1 changed" in everything
    assert Order.objects.get(pk=old_order.pk).status == S.PAID


@pytest.mark.parametrize("since", ["yesterday", "2026-02-30", "31.01.2026"])
def test_a_bad_date_is_refused_in_one_line(stripe_settings, since):
    with pytest.raises(CommandError, match="--since takes a date as YYYY-MM-DD"):
        reconcile("--since", since)


def test_without_stripe_keys_there_is_nothing_to_reconcile(settings):
    settings.STRIPE_SECRET_KEY = ""
    PaymentFactory(provider_reference="pi_1")

    with pytest.raises(CommandError, match="Stripe is not configured"):
        reconcile()
