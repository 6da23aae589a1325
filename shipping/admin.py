"""What staff see of warehouses, stock and shipping methods in Django admin.

Stock counts are never edited as fields: the stock level form takes the units received or a
count and hands them to the stock services, which lock the row and write the ledger. The
ledger itself can only be read.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import F
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from . import selectors, services
from .models import Allocation, ShippingMethod, StockLevel, StockMovement, Warehouse

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
        fields = ["variant", "warehouse", "low_stock_threshold"]

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
            return [(None, {"fields": ["variant", "warehouse", "low_stock_threshold"]}), movement]
        return [(None, {"fields": [*self.COUNTS, "low_stock_threshold"]}), movement]

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
        # Only the threshold is written here; the counts were written by the service.
        StockLevel.objects.filter(pk=level.pk).update(low_stock_threshold=obj.low_stock_threshold)
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


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = ["name", "price", "free_over", "min_days", "max_days", "position", "is_active"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]
