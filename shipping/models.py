"""Shipping: warehouses, stock and its ledger, zones and methods, shipments, replenishment."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField


class Warehouse(models.Model):
    name = models.CharField(_("name"), max_length=120)
    code = models.SlugField(_("code"), max_length=30, unique=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = CountryField(_("country"), blank=True)
    # Orders take stock from the warehouse with the highest priority first.
    priority = models.PositiveSmallIntegerField(_("priority"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        ordering = ["-priority", "name"]

    def __str__(self):
        return self.name


class StockLevel(models.Model):
    """Units of one variant in one warehouse: on hand, and how many of those are promised."""

    variant = models.ForeignKey(
        "catalog.Variant", on_delete=models.PROTECT, related_name="stock_levels"
    )
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock_levels")
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    low_stock_threshold = models.PositiveIntegerField(_("low-stock threshold"), default=5)
    # Who restocks this level; replenishment only plans levels that have one.
    supplier = models.ForeignKey(
        "Supplier",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="stock_levels",
        verbose_name=_("supplier"),
    )

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        ordering = ["variant", "-warehouse__priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["variant", "warehouse"], name="one_stock_level_per_place"
            ),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="reserved_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="reserved_within_on_hand"
            ),
        ]

    def __str__(self):
        return f"{self.variant.sku} @ {self.warehouse.code}"

    @property
    def available(self):
        return self.on_hand - self.reserved


class StockMovement(models.Model):
    """The stock ledger: one row for every change to a stock level, never edited."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        ADJUSTMENT = "adjustment", _("Adjustment")
        RESERVATION = "reservation", _("Reservation")
        RELEASE = "release", _("Release")
        SHIPMENT = "shipment", _("Shipment")
        RETURN = "return", _("Return")

    stock_level = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    on_hand_change = models.IntegerField(_("on-hand change"), default=0)
    reserved_change = models.IntegerField(_("reserved change"), default=0)
    on_hand_after = models.IntegerField(_("on hand after"))
    reserved_after = models.IntegerField(_("reserved after"))
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="stock_movements",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock ledger")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["stock_level", "kind", "created_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.on_hand_change:+}/{self.reserved_change:+}"


class Allocation(models.Model):
    """Units of an order line reserved in one warehouse, until shipped or released."""

    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.CASCADE, related_name="allocations"
    )
    stock_level = models.ForeignKey(
        StockLevel, on_delete=models.PROTECT, related_name="allocations"
    )
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")
        constraints = [
            models.UniqueConstraint(
                fields=["order_line", "stock_level"], name="one_allocation_per_line_and_place"
            )
        ]

    def __str__(self):
        return f"{self.quantity} of line {self.order_line_id}"


class ShippingZone(models.Model):
    """A set of countries that shipping methods serve."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    countries = CountryField(_("countries"), multiple=True)

    class Meta:
        verbose_name = _("shipping zone")
        verbose_name_plural = _("shipping zones")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Carrier(models.TextChoices):
    MANUAL = "manual", _("Manual (staff enter tracking)")
    SIMULATED = "simulated", _("Simulated (development)")


class ShippingMethod(models.Model):
    class Rate(models.TextChoices):
        FLAT = "flat", _("Flat rate")
        WEIGHT = "weight", _("By weight bands")

    name = models.CharField(_("name"), max_length=120)
    # No zone: the method serves every country.
    zone = models.ForeignKey(
        ShippingZone,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="methods",
        verbose_name=_("zone"),
    )
    carrier = models.CharField(
        _("carrier"), max_length=20, choices=Carrier.choices, default=Carrier.MANUAL
    )
    rate = models.CharField(_("rate"), max_length=10, choices=Rate.choices, default=Rate.FLAT)
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2)
    max_weight_grams = models.PositiveIntegerField(_("heaviest parcel (g)"), null=True, blank=True)
    free_over = models.DecimalField(
        _("free when the order reaches"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
    )
    min_days = models.PositiveSmallIntegerField(_("delivery from (days)"), default=2)
    max_days = models.PositiveSmallIntegerField(_("delivery to (days)"), default=5)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("shipping method")
        verbose_name_plural = _("shipping methods")
        ordering = ["position", "price"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="shipping_price_not_negative"),
        ]

    def __str__(self):
        return self.name


class WeightBand(models.Model):
    """A weight-rated method's price for parcels up to this weight."""

    method = models.ForeignKey(ShippingMethod, on_delete=models.CASCADE, related_name="bands")
    up_to_grams = models.PositiveIntegerField(_("up to (g)"))
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2)

    class Meta:
        verbose_name = _("weight band")
        verbose_name_plural = _("weight bands")
        ordering = ["method", "up_to_grams"]
        constraints = [
            models.UniqueConstraint(fields=["method", "up_to_grams"], name="one_band_per_weight"),
            models.CheckConstraint(condition=Q(price__gte=0), name="band_price_not_negative"),
        ]

    def __str__(self):
        return f"≤ {self.up_to_grams} g"


class Shipment(models.Model):
    """A parcel leaving a warehouse with some or all of an order's units."""

    class Status(models.TextChoices):
        PACKED = "packed", _("Packed")
        SHIPPED = "shipped", _("Shipped")
        IN_TRANSIT = "in_transit", _("In transit")
        OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
        DELIVERED = "delivered", _("Delivered")
        EXCEPTION = "exception", _("Delivery problem")
        RETURNED = "returned", _("Returned to sender")

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="shipments")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="shipments")
    carrier = models.CharField(
        _("carrier"), max_length=20, choices=Carrier.choices, default=Carrier.MANUAL
    )
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    label = models.TextField(_("label"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PACKED, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("packed"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.tracking_number or self.pk} ({self.get_status_display()})"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="shipment_lines"
    )
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("shipment line")
        verbose_name_plural = _("shipment lines")
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "order_line"], name="one_shipment_line_per_order_line"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="shipped_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.order_line_id}"


class ShipmentEvent(models.Model):
    """One step of a parcel's journey, from staff or the carrier; never edited."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(_("status"), max_length=20, choices=Shipment.Status.choices)
    note = models.CharField(_("note"), max_length=255, blank=True)
    # The carrier's id for the event, so polling twice records it once.
    reference = models.CharField(max_length=100, blank=True)
    happened_at = models.DateTimeField(_("when"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("shipment event")
        verbose_name_plural = _("shipment events")
        ordering = ["happened_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "reference"],
                condition=~Q(reference=""),
                name="one_event_per_carrier_reference",
            )
        ]

    def __str__(self):
        return self.get_status_display()


class Supplier(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    email = models.EmailField(_("email"), blank=True)
    lead_time_days = models.PositiveSmallIntegerField(_("lead time (days)"), default=7)
    # How often orders are placed with this supplier: stock must last until the next one.
    review_days = models.PositiveSmallIntegerField(_("days between orders"), default=7)

    class Meta:
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")
        ordering = ["name"]

    def __str__(self):
        return self.name


class PurchaseOrder(models.Model):
    """Units asked of a supplier for one warehouse; they may arrive in several deliveries."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENT = "sent", _("Sent to supplier")
        PARTIALLY_RECEIVED = "partially_received", _("Partly received")
        RECEIVED = "received", _("Received")

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="orders")
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="purchase_orders"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # When the last units arrived and the order was closed.
    received_at = models.DateTimeField(_("received"), null=True, blank=True)

    class Meta:
        verbose_name = _("purchase order")
        verbose_name_plural = _("purchase orders")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # Replenishment collects a supplier's lines for a warehouse on one draft.
            models.UniqueConstraint(
                fields=["supplier", "warehouse"],
                condition=Q(status="draft"),
                name="one_draft_per_supplier_and_warehouse",
            )
        ]

    def __str__(self):
        return f"PO-{self.pk:05d}" if self.pk else "PO"


class PurchaseOrderLine(models.Model):
    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="lines"
    )
    variant = models.ForeignKey("catalog.Variant", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    # Units booked into stock so far; only the rest is still on order.
    quantity_received = models.PositiveIntegerField(_("received"), default=0)
    reorder_point = models.PositiveIntegerField(_("reorder point"), default=0)

    class Meta:
        verbose_name = _("purchase order line")
        verbose_name_plural = _("purchase order lines")
        constraints = [
            models.UniqueConstraint(
                fields=["purchase_order", "variant"], name="one_po_line_per_variant"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="po_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity")),
                name="po_received_within_quantity",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.variant_id}"

    @property
    def outstanding(self):
        """Units ordered that have not arrived yet."""
        return self.quantity - self.quantity_received
