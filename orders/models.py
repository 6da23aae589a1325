"""Orders: carts, vouchers, and orders with their lines and status history."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

MONEY = {"max_digits": 12, "decimal_places": 2}


class Cart(models.Model):
    """A shopper's cart: a signed-in shopper's by account, a guest's by session."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="cart",
    )
    session_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(session_key__isnull=False),
                name="cart_has_an_owner",
            )
        ]

    def __str__(self):
        return f"Cart {self.pk}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey("catalog.Variant", on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    # The unit price the shopper last saw, to tell them when it changed.
    price_seen = models.DecimalField(**MONEY)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "variant"], name="one_cart_line_per_variant"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="cart_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.variant_id}"


class Voucher(models.Model):
    class Kind(models.TextChoices):
        PERCENTAGE = "percentage", _("Percentage")
        FIXED = "fixed", _("Fixed amount")

    class Combination(models.TextChoices):
        WITH_PROMOTIONS = "with_promotions", _("All items, on top of promotions")
        FULL_PRICE_ONLY = "full_price_only", _("Only items not on promotion")

    code = models.CharField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    combination = models.CharField(
        _("applies to"),
        max_length=20,
        choices=Combination.choices,
        default=Combination.WITH_PROMOTIONS,
        help_text=_("How the voucher combines with sale prices and category promotions."),
    )
    value = models.DecimalField(_("value"), **MONEY)
    min_subtotal = models.DecimalField(_("minimum subtotal"), default=0, **MONEY)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    max_uses = models.PositiveIntegerField(_("maximum uses"), null=True, blank=True)
    max_uses_per_customer = models.PositiveIntegerField(
        _("maximum uses per customer"), null=True, blank=True
    )
    times_used = models.PositiveIntegerField(_("times used"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="voucher_value_positive"),
            models.CheckConstraint(
                condition=~Q(kind="percentage") | Q(value__lte=100),
                name="voucher_percentage_at_most_100",
            ),
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(times_used__lte=F("max_uses")),
                name="voucher_used_within_limit",
            ),
        ]

    def __str__(self):
        return self.code


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
        CONFIRMED = "confirmed", _("Confirmed, pay on delivery")
        PAID = "paid", _("Paid")
        PARTIALLY_SHIPPED = "partially_shipped", _("Partially shipped")
        SHIPPED = "shipped", _("Shipped")
        DELIVERED = "delivered", _("Delivered")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")

    class PaymentMethod(models.TextChoices):
        CARD = "card", _("Card")
        CASH_ON_DELIVERY = "cash_on_delivery", _("Cash on delivery")
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")

    number = models.CharField(_("number"), max_length=20, unique=True)
    # A secret for the guest's link to the order page, and the one-time checkout token
    # that makes a double submit place a single order.
    access_key = models.CharField(max_length=64, unique=True, editable=False)
    checkout_token = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders",
    )
    email = models.EmailField(_("email"))
    status = models.CharField(_("status"), max_length=30, choices=Status.choices, db_index=True)
    payment_method = models.CharField(
        _("payment method"), max_length=30, choices=PaymentMethod.choices
    )
    currency = models.CharField(_("currency"), max_length=3)
    language = models.CharField(max_length=10, default="en")

    full_name = models.CharField(_("full name"), max_length=200)
    line1 = models.CharField(_("address"), max_length=200)
    line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100)
    postal_code = models.CharField(_("postal code"), max_length=20)
    country = CountryField(_("country"))
    phone = models.CharField(_("phone"), max_length=30, blank=True)

    shipping_method = models.ForeignKey(
        "shipping.ShippingMethod",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    shipping_method_name = models.CharField(_("shipping method"), max_length=120)
    voucher = models.ForeignKey(
        Voucher, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    voucher_code = models.CharField(_("voucher"), max_length=40, blank=True)

    subtotal = models.DecimalField(_("subtotal"), **MONEY)
    discount_total = models.DecimalField(_("discount"), default=0, **MONEY)
    shipping_total = models.DecimalField(_("shipping"), default=0, **MONEY)
    total = models.DecimalField(_("total"), **MONEY)
    tax_rate = models.DecimalField(_("tax rate"), max_digits=5, decimal_places=4)
    tax_total = models.DecimalField(_("included tax"), **MONEY)

    created_at = models.DateTimeField(_("placed"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "payment_method", "created_at"]),
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["email"]),
        ]
        constraints = [
            # Rounded because SQLite computes in binary floating point (39.98 + 4.90 is
            # 44.879999…); on PostgreSQL's numeric the rounding changes nothing.
            models.CheckConstraint(
                condition=Q(
                    total=Round(F("subtotal") - F("discount_total") + F("shipping_total"), 2)
                ),
                name="order_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(total__gte=0) & Q(discount_total__gte=0) & Q(shipping_total__gte=0),
                name="order_amounts_not_negative",
            ),
        ]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("orders:order_detail", args=[self.number])


class StaffAction(models.TextChoices):
    """What staff do to an order by hand; orders.services.STAFF_ACTIONS says when."""

    MARK_PAID = "mark_paid", _("Mark paid (bank transfer received)")
    SHIP = "ship", _("Pack and ship what is left")
    DELIVER = "deliver", _("Mark the parcels delivered")
    COMPLETE = "complete", _("Mark completed")
    CANCEL = "cancel", _("Cancel (releases the stock)")
    REFUND = "refund", _("Refund")


class OrderLine(models.Model):
    """What was bought, frozen at checkout: later catalog changes don't touch it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(
        "catalog.Variant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    product_title = models.CharField(_("product"), max_length=200)
    variant_name = models.CharField(_("variant"), max_length=120, blank=True)
    sku = models.CharField(_("SKU"), max_length=64)
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    quantity = models.PositiveIntegerField(_("quantity"))
    line_total = models.DecimalField(_("line total"), **MONEY)
    # The line's share of the order's voucher discount, allocated when the order is placed
    # (the shares add up to the order's discount to the cent): what the shopper paid for the
    # line is line_total - discount, and no refund of its units gives back more.
    discount = models.DecimalField(_("discount"), default=0, **MONEY)
    tax_amount = models.DecimalField(_("included tax"), **MONEY)
    quantity_shipped = models.PositiveIntegerField(_("shipped"), default=0)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=F("quantity")), name="shipped_within_ordered"
            ),
            models.CheckConstraint(
                condition=Q(line_total=Round(F("unit_price") * F("quantity"), 2)),
                name="order_line_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(discount__gte=0) & Q(discount__lte=F("line_total")),
                name="line_discount_within_line_total",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.sku}"

    @property
    def paid_total(self):
        """What the shopper paid for the line's units, after its share of the voucher."""
        return self.line_total - self.discount


class OrderEvent(models.Model):
    """One step in an order's history: who moved it from which status to which, and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=30, choices=Order.Status.choices, blank=True)
    to_status = models.CharField(max_length=30, choices=Order.Status.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["order", "created_at", "pk"]

    def __str__(self):
        return f"{self.from_status or '—'} → {self.to_status}"


class VoucherRedemption(models.Model):
    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="redemptions")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="redemption")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    email = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["voucher", "email"])]

    def __str__(self):
        return f"{self.voucher_id} on {self.order_id}"
