"""What staff see of warehouses, stock, shipping methods, shipments and purchase orders.

Stock counts are never edited as fields: the stock level form takes the units received or a
count and hands them to the stock services, which lock the row and write the ledger. The
ledger itself can only be read.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import selectors, services
from .models import (
    Allocation,
    PurchaseOrder,
    PurchaseOrderLine,
    Shipment,
    ShipmentEvent,
    ShipmentLine,
    ShippingMethod,
    ShippingZone,
    StockLevel,
    StockMovement,
    Supplier,
    Warehouse,
    WeightBand,
)

# Far above any real delivery or count, far below the database's integer limit.
MAX_UNITS = 1_000_000


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "city", "country", "priority", "is_active", "stock"]
    list_filter = ["is_active", "country"]
    search_fields = ["name", "code", "city"]
    prepopulated_fields = {"code": ["name"]}

    @admin.display(description=_("stock"))
    def stock(self, warehouse):
        url = reverse("admin:shipping_stocklevel_changelist")
        query = urlencode({"warehouse__id__exact": warehouse.pk})
        return format_html('<a href="{}?{}">{}</a>', url, query, _("Stock levels"))


class StockStatusFilter(admin.SimpleListFilter):
    title = _("stock")
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("low", _("Low stock")), ("out", _("Sold out"))]

    def queryset(self, request, queryset):
        if self.value() == "low":
            return selectors.low_stock(queryset)
        if self.value() == "out":
            return queryset.filter(on_hand__lte=F("reserved"))
        return queryset


class StockLevelForm(forms.ModelForm):
    """Variant, warehouse and threshold as fields; the counts only through the services."""

    received = forms.IntegerField(
        label=_("Units received"),
        min_value=1,
        max_value=MAX_UNITS,
        required=False,
        help_text=_("Added to on hand and written to the ledger as a receipt."),
    )
    counted = forms.IntegerField(
        label=_("Counted on hand"),
        min_value=0,
        max_value=MAX_UNITS,
        required=False,
        help_text=_("Sets on hand to what a stocktake found; written as an adjustment."),
    )
    note = forms.CharField(
        label=_("Why"),
        max_length=255,
        required=False,
        help_text=_("Delivery note, stocktake, damage… Required with a count."),
    )

    class Meta:
        model = StockLevel
        fields = ["variant", "warehouse", "low_stock_threshold", "supplier"]

    def clean(self):
        cleaned = super().clean()
        received, counted = cleaned.get("received"), cleaned.get("counted")
        if received is not None and counted is not None:
            raise forms.ValidationError(_("Enter the units received or a count, not both."))
        if self.instance.pk is None and received is None and counted is None:
            raise forms.ValidationError(_("Enter the units received or a count."))
        if counted is not None:
            if not cleaned.get("note", "").strip():
                self.add_error("note", _("Say why the count changed."))
            if counted < self.instance.reserved:
                self.add_error(
                    "counted",
                    _("%(reserved)d units are reserved for orders: the count cannot be lower.")
                    % {"reserved": self.instance.reserved},
                )
        return cleaned


class AllocationInline(admin.TabularInline):
    """Which orders the reserved units are promised to."""

    model = Allocation
    fields = ["order", "order_line", "quantity"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line__order")

    @admin.display(description=_("order"))
    def order(self, allocation):
        return allocation.order_line.order

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    form = StockLevelForm
    list_display = [
        "sku",
        "product",
        "warehouse",
        "on_hand",
        "reserved",
        "available",
        "low_stock_threshold",
        "is_low",
    ]
    list_filter = ["warehouse", StockStatusFilter]
    list_select_related = ["variant__product", "warehouse"]
    search_fields = ["variant__sku", "variant__product__title"]
    raw_id_fields = ["variant"]
    inlines = [AllocationInline]
    COUNTS = ["sku", "variant", "warehouse", "on_hand", "reserved", "available", "ledger"]

    def get_queryset(self, request):
        return selectors.with_units_available(super().get_queryset(request))

    def get_fieldsets(self, request, obj=None):
        movement = (_("Receive or count"), {"fields": ["received", "counted", "note"]})
        if obj is None:
            fields = ["variant", "warehouse", "low_stock_threshold", "supplier"]
            return [(None, {"fields": fields}), movement]
        return [(None, {"fields": [*self.COUNTS, "low_stock_threshold", "supplier"]}), movement]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.COUNTS

    def has_delete_permission(self, request, obj=None):
        """A level carries its ledger; it stays, at zero if need be."""
        return False

    @admin.display(description=_("SKU"), ordering="variant__sku")
    def sku(self, level):
        return level.variant.sku

    @admin.display(description=_("product"), ordering="variant__product__title")
    def product(self, level):
        return level.variant.product

    @admin.display(description=_("available"), ordering="units_available")
    def available(self, level):
        return level.units_available

    @admin.display(description=_("low"), boolean=True)
    def is_low(self, level):
        return level.units_available <= level.low_stock_threshold

    @admin.display(description=_("ledger"))
    def ledger(self, level):
        url = reverse("admin:shipping_stockmovement_changelist")
        query = urlencode({"stock_level__id__exact": level.pk})
        return format_html('<a href="{}?{}">{}</a>', url, query, _("Every change to this level"))

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if data.get("received") is not None:
            level = services.receive_stock(
                variant=obj.variant,
                warehouse=obj.warehouse,
                quantity=data["received"],
                user=request.user,
                note=data["note"],
            )
        elif data.get("counted") is not None:
            level = services.adjust_stock(
                variant=obj.variant,
                warehouse=obj.warehouse,
                on_hand=data["counted"],
                user=request.user,
                note=data["note"],
            )
        else:
            level = obj
        # Only the threshold and supplier are written here; the service wrote the counts.
        StockLevel.objects.filter(pk=level.pk).update(
            low_stock_threshold=obj.low_stock_threshold, supplier=obj.supplier
        )
        obj.pk, obj.on_hand, obj.reserved = level.pk, level.on_hand, level.reserved

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """Show a stock rule broken by a concurrent change as a message, not an error page."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except services.StockError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    """The stock ledger: read by staff, written only by the stock services."""

    list_display = [
        "created_at",
        "kind",
        "sku",
        "warehouse",
        "on_hand_change",
        "reserved_change",
        "on_hand_after",
        "reserved_after",
        "order",
        "user",
        "note",
    ]
    list_filter = ["kind", "stock_level__warehouse", "created_at"]
    list_select_related = ["stock_level__variant", "stock_level__warehouse", "order", "user"]
    search_fields = ["stock_level__variant__sku", "order__number", "note"]
    date_hierarchy = "created_at"

    @admin.display(description=_("SKU"), ordering="stock_level__variant__sku")
    def sku(self, movement):
        return movement.stock_level.variant.sku

    @admin.display(description=_("warehouse"), ordering="stock_level__warehouse__name")
    def warehouse(self, movement):
        return movement.stock_level.warehouse

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ShippingZone)
class ShippingZoneAdmin(admin.ModelAdmin):
    list_display = ["name", "country_list"]
    search_fields = ["name"]

    @admin.display(description=_("countries"))
    def country_list(self, zone):
        return ", ".join(country.code for country in zone.countries)


class WeightBandInline(admin.TabularInline):
    model = WeightBand
    extra = 1


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "zone",
        "carrier",
        "rate",
        "price",
        "free_over",
        "min_days",
        "max_days",
        "position",
        "is_active",
    ]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "zone", "carrier", "rate"]
    list_select_related = ["zone"]
    search_fields = ["name"]
    inlines = [WeightBandInline]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ShipmentLineInline(ReadOnlyInline):
    model = ShipmentLine
    fields = readonly_fields = ["order_line", "quantity"]


class ShipmentEventInline(ReadOnlyInline):
    model = ShipmentEvent
    fields = readonly_fields = ["happened_at", "status", "note", "user"]


class ShipmentForm(forms.ModelForm):
    """A new parcel: the order, where from, and which units (blank: all still to ship)."""

    quantities = forms.CharField(
        label=_("Units to ship"),
        required=False,
        help_text=_("“SKU: units”, comma separated, e.g. “TEE-M: 2, MUG: 1”. Blank ships all."),
    )

    class Meta:
        model = Shipment
        fields = ["order", "warehouse", "carrier", "tracking_number"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "warehouse" in self.fields:
            self.fields["warehouse"].required = False
            self.fields["warehouse"].help_text = _("Blank: the warehouse holding the stock.")

    def clean_quantities(self):
        text = self.cleaned_data["quantities"].strip()
        order = self.cleaned_data.get("order")
        if not text or order is None:
            return None
        lines = {line.sku.upper(): line.pk for line in order.lines.all()}
        quantities = {}
        for part in filter(None, (piece.strip() for piece in text.split(","))):
            sku, _sep, units = part.rpartition(":")
            sku = sku.strip().upper()
            if sku not in lines:
                raise forms.ValidationError(
                    _("%(sku)s is not on this order.") % {"sku": sku or part}
                )
            try:
                quantities[lines[sku]] = int(units)
            except ValueError:
                raise forms.ValidationError(
                    _("Write the units of %(sku)s as a whole number.") % {"sku": sku}
                ) from None
        return quantities


STAFF_STEPS = [
    Shipment.Status.SHIPPED,
    Shipment.Status.IN_TRANSIT,
    Shipment.Status.OUT_FOR_DELIVERY,
    Shipment.Status.DELIVERED,
    Shipment.Status.EXCEPTION,
    Shipment.Status.RETURNED,
]


def _step_action(status):
    def action(modeladmin, request, queryset):
        moved = 0
        for shipment in queryset.order_by("pk"):
            try:
                services.advance_shipment(shipment=shipment, status=status, user=request.user)
                moved += 1
            except services.ShipmentError as error:
                modeladmin.message_user(request, f"{shipment}: {error}", messages.ERROR)
        if moved:
            modeladmin.message_user(
                request,
                _("%(count)d shipments are now “%(status)s”.")
                % {"count": moved, "status": status.label},
                messages.SUCCESS,
            )

    action.__name__ = f"mark_{status.value}"
    return admin.action(
        permissions=["change"], description=_("Mark as “%(status)s”") % {"status": status.label}
    )(action)


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    form = ShipmentForm
    list_display = [
        "pk",
        "order",
        "warehouse",
        "carrier",
        "tracking_number",
        "status",
        "created_at",
        "slip",
    ]
    list_filter = ["status", "carrier", "warehouse"]
    list_select_related = ["order", "warehouse"]
    search_fields = ["order__number", "tracking_number"]
    raw_id_fields = ["order"]
    inlines = [ShipmentLineInline, ShipmentEventInline]
    actions = [*(_step_action(status) for status in STAFF_STEPS), "ask_carrier"]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["order", "warehouse", "carrier", "tracking_number", "quantities"]
        return ["order", "warehouse", "carrier", "tracking_number", "status", "label", "slip"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["order", "warehouse", "carrier", "status", "label", "slip"]

    def has_delete_permission(self, request, obj=None):
        """A parcel that left stock stays on record."""
        return False

    @admin.display(description=_("packing slip"))
    def slip(self, shipment):
        if shipment.pk is None:
            return "—"
        url = reverse("shipping:packing_slip", args=[shipment.pk])
        return format_html('<a href="{}" target="_blank">{}</a>', url, _("Print"))

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.set_tracking_number(
                shipment=obj, tracking_number=data["tracking_number"], user=request.user
            )
            return
        shipment = services.create_shipment(
            order=data["order"],
            warehouse=data.get("warehouse"),
            quantities=data.get("quantities"),
            carrier=data["carrier"],
            tracking_number=data.get("tracking_number", ""),
            user=request.user,
        )
        obj.pk = shipment.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        """Lines and events are written by the services only."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A shipment rule broken shows as a message on the form, not an error page."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (services.ShipmentError, services.StockError) as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(permissions=["change"], description=_("Ask the carrier for news"))
    def ask_carrier(self, request, queryset):
        steps = sum(services.track_shipment(shipment=shipment) for shipment in queryset)
        self.message_user(request, _("%(count)d new steps recorded.") % {"count": steps})


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "lead_time_days", "review_days"]
    search_fields = ["name"]


class PurchaseOrderLineInline(admin.TabularInline):
    model = PurchaseOrderLine
    fields = ["variant", "quantity", "quantity_received", "reorder_point"]
    readonly_fields = ["quantity_received", "reorder_point"]
    raw_id_fields = ["variant"]
    extra = 0

    def _editable(self, obj):
        return obj is None or obj.status == PurchaseOrder.Status.DRAFT

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


class ReceiveForm(forms.Form):
    """Units that arrived per line, at most what is still on order.

    Each line also carries, hidden, the units received when the form was shown, so a form
    sent twice is refused by the service instead of booking the delivery twice.
    """

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = [line for line in lines if line.outstanding]
        for line in lines:
            self.fields[f"seen_{line.pk}"] = forms.IntegerField(
                initial=line.quantity_received, widget=forms.HiddenInput
            )
        for line in self.lines:
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                label=line.variant.sku,
                min_value=0,
                max_value=line.outstanding,
                initial=line.outstanding,
            )

    def rows(self):
        return [(line, self[f"line_{line.pk}"]) for line in self.lines]

    def quantities(self):
        return {line.pk: self.cleaned_data[f"line_{line.pk}"] for line in self.lines}

    def received_so_far(self):
        return {
            int(name.removeprefix("seen_")): value
            for name, value in self.cleaned_data.items()
            if name.startswith("seen_")
        }


class PurchaseOrderForm(forms.ModelForm):
    class Meta:
        model = PurchaseOrder
        fields = ["supplier", "warehouse"]

    def clean(self):
        """One draft per supplier and warehouse (the database insists): point to it instead."""
        cleaned = super().clean()
        if self.instance.status != PurchaseOrder.Status.DRAFT:
            return cleaned
        existing = (
            PurchaseOrder.objects.filter(
                status=PurchaseOrder.Status.DRAFT,
                supplier=cleaned.get("supplier"),
                warehouse=cleaned.get("warehouse"),
            )
            .exclude(pk=self.instance.pk)
            .first()
        )
        if existing is not None:
            raise forms.ValidationError(
                gettext("%(po)s is already the draft for this supplier and warehouse: add to it.")
                % {"po": existing}
            )
        return cleaned


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    form = PurchaseOrderForm
    list_display = [
        "__str__",
        "supplier",
        "warehouse",
        "status",
        "created_at",
        "sent_at",
        "receive_link",
    ]
    list_filter = ["status", "supplier", "warehouse"]
    list_select_related = ["supplier", "warehouse"]
    inlines = [PurchaseOrderLineInline]
    readonly_fields = ["status", "created_at", "sent_at", "received_at", "receive_link"]
    actions = ["send", "receive"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != PurchaseOrder.Status.DRAFT:
            return [*self.readonly_fields, "supplier", "warehouse"]
        return self.readonly_fields

    def has_receive_permission(self, request):
        """Receiving books stock: the warehouse's work, not only the purchase order's."""
        return request.user.has_perms(
            ["shipping.change_purchaseorder", "shipping.change_stocklevel"]
        )

    @admin.display(description=_("delivery"))
    def receive_link(self, purchase_order):
        if purchase_order.status not in services.RECEIVABLE_PURCHASE_ORDERS:
            return "—"
        url = reverse("admin:shipping_purchaseorder_receive", args=[purchase_order.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Receive a delivery"))

    def get_urls(self):
        receive = path(
            "<int:purchase_order_id>/receive/",
            self.admin_site.admin_view(self.receive_view),
            name="shipping_purchaseorder_receive",
        )
        return [receive, *super().get_urls()]

    def receive_view(self, request, purchase_order_id):
        """Book what arrived, line by line; what did not arrive stays on order."""
        if not self.has_receive_permission(request):
            raise PermissionDenied
        purchase_order = get_object_or_404(
            PurchaseOrder.objects.select_related("supplier", "warehouse"), pk=purchase_order_id
        )
        lines = list(purchase_order.lines.select_related("variant__product").order_by("pk"))
        posted = request.method == "POST"
        form = ReceiveForm(request.POST if posted else None, lines=lines)
        if posted and form.is_valid():
            try:
                services.receive_purchase_order(
                    purchase_order=purchase_order,
                    quantities=form.quantities(),
                    received_so_far=form.received_so_far(),
                    user=request.user,
                )
            except (services.PurchaseOrderError, services.StockError) as error:
                self.message_user(request, str(error), messages.ERROR)
                return redirect("admin:shipping_purchaseorder_receive", purchase_order.pk)
            purchase_order.refresh_from_db()
            self.message_user(
                request,
                gettext("The delivery was booked into stock; %(po)s is “%(status)s”.")
                % {"po": purchase_order, "status": purchase_order.get_status_display()},
                messages.SUCCESS,
            )
            return redirect("admin:shipping_purchaseorder_change", purchase_order.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Receive a delivery for %(po)s") % {"po": purchase_order},
            "purchase_order": purchase_order,
            "receivable": purchase_order.status in services.RECEIVABLE_PURCHASE_ORDERS,
            "lines": lines,
            "form": form,
        }
        status = 400 if form.errors else 200
        return TemplateResponse(
            request, "admin/shipping/purchaseorder/receive.html", context, status=status
        )

    def _run(self, request, queryset, service, done):
        for purchase_order in queryset.order_by("pk"):
            try:
                service(purchase_order=purchase_order, user=request.user)
            except (services.PurchaseOrderError, services.StockError) as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, done % {"po": purchase_order}, messages.SUCCESS)

    @admin.action(permissions=["change"], description=_("Send to the supplier"))
    def send(self, request, queryset):
        self._run(request, queryset, services.send_purchase_order, _("%(po)s was sent."))

    @admin.action(permissions=["receive"], description=_("Receive everything still on order"))
    def receive(self, request, queryset):
        self._run(
            request,
            queryset,
            services.receive_purchase_order,
            _("%(po)s was received into stock."),
        )
