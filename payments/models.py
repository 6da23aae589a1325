"""Payments: what was paid for each order and how, refunds, and provider webhooks as received."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from orders.models import Order

MONEY = {"max_digits": 12, "decimal_places": 2}


class Payment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        REQUIRES_ACTION = "requires_action", _("Needs the shopper's action")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    class Provider(models.TextChoices):
        STRIPE = "stripe", _("Stripe")
        MANUAL = "manual", _("Manual")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(_("method"), max_length=30, choices=Order.PaymentMethod.choices)
    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    # The Stripe PaymentIntent id, or the bank transfer reference.
    provider_reference = models.CharField(
        _("provider reference"), max_length=255, null=True, blank=True, unique=True
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    amount_refunded = models.DecimalField(_("refunded"), default=0, **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    failure_message = models.CharField(_("failure"), max_length=255, blank=True)
    # Set when the provider reported something that does not match the order (amount,
    # currency, order number): staff must look, and the order is not marked paid.
    flagged_reason = models.CharField(_("flagged"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_refunded__lte=F("amount")),
                name="refunded_within_paid",
            ),
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status="succeeded"),
                name="one_successful_payment_per_order",
            ),
        ]

    def __str__(self):
        return f"{self.get_method_display()} {self.amount} {self.currency} ({self.status})"

    @property
    def refundable(self):
        return self.amount - self.amount_refunded if self.status == self.Status.SUCCEEDED else 0


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    # Manual refunds (cash, bank transfer) are paid out by staff; Stripe ones by Stripe.
    is_manual = models.BooleanField(_("manual"), default=False)
    provider_reference = models.CharField(_("provider reference"), max_length=255, blank=True)
    failure_message = models.CharField(_("failure"), max_length=255, blank=True)
    # Where staff pay a manual refund back to (the shopper's bank account), as the shopper gave it.
    pay_back_to = models.CharField(_("pay back to"), max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # When the money actually went back: Stripe confirmed it, or staff marked it paid back.
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="succeeded", completed_at__isnull=False)
                | (~Q(status="succeeded") & Q(completed_at__isnull=True)),
                name="refund_completed_when_succeeded",
            ),
        ]

    def __str__(self):
        return f"{self.amount} ({self.status})"


class RefundsToPayBack(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(is_manual=True, status=Refund.Status.PENDING)


class RefundToPayBack(Refund):
    """A refund staff still owe by hand (cash, bank transfer): the list they work through."""

    objects = RefundsToPayBack()

    class Meta:
        proxy = True
        verbose_name = _("refund to pay back")
        verbose_name_plural = _("refunds to pay back")


class WebhookEvent(models.Model):
    """A provider event stored by its id before it is processed: a replay changes nothing."""

    provider = models.CharField(max_length=20, choices=Payment.Provider.choices)
    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.type} {self.event_id}"
