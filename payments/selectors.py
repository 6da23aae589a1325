"""Reads for payment pages, admin, tasks and reconciliation."""

from decimal import Decimal

from django.db.models import Sum

from .models import Payment, Refund


def card_payment(*, order, reference):
    """The order's Stripe payment with this PaymentIntent id, or None: an intent made for
    another order never shows on this order's pages."""
    if not reference:
        return None
    return Payment.objects.filter(
        order=order, provider=Payment.Provider.STRIPE, provider_reference=reference
    ).first()


def refundable_amount(payment) -> Decimal:
    """What is left to refund: refunds on their way count as given back already."""
    if payment.status != Payment.Status.SUCCEEDED:
        return Decimal("0.00")
    committed = payment.refunds.filter(
        status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED]
    ).aggregate(total=Sum("amount"))["total"]
    return payment.amount - (committed or 0)


def stripe_payments_since(since):
    return (
        Payment.objects.filter(
            provider=Payment.Provider.STRIPE,
            provider_reference__isnull=False,
            created_at__gte=since,
        )
        .select_related("order")
        .order_by("created_at", "pk")
    )


def pending_stripe_refunds():
    refunds = Refund.objects.filter(status=Refund.Status.PENDING, is_manual=False)
    return refunds.select_related("payment__order").order_by("created_at", "pk")
