"""What staff see of orders and vouchers in Django admin, and the sales page.

Orders are records of what was sold: staff read them and move them along with the actions,
which call the order services; nothing on an order is edited by hand.
"""

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from shop.admin import RecordAdminMixin

from . import reports, services
from .models import Order, OrderEvent, OrderLine, Voucher, VoucherRedemption

SALES_DEFAULT_DAYS = 30
SALES_MAX_DAYS = 366
CHART_WIDTH = 720
CHART_HEIGHT = 200
PIXEL = Decimal("0.1")


class OrderPartInline(admin.TabularInline):
    """Rows that belong to an order: shown to whoever may see the order, never edited."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("orders.view_order")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderLineInline(OrderPartInline):
    model = OrderLine
    fields = [
        "product_title",
        "variant_name",
        "sku",
        "unit_price",
        "quantity",
        "line_total",
        "tax_amount",
        "quantity_shipped",
    ]


class OrderEventInline(OrderPartInline):
    model = OrderEvent
    fields = ["created_at", "from_status", "to_status", "user", "note"]
    verbose_name_plural = _("history")


class VoucherRedemptionInline(OrderPartInline):
    model = VoucherRedemption
    fields = ["voucher", "email", "user", "created_at"]


@admin.register(Order)
class OrderAdmin(RecordAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "created_at",
        "full_name",
        "email",
        "status",
        "payment_method",
        "total_with_currency",
    ]
    list_filter = ["status", "created_at", "payment_method"]
    search_fields = ["number", "email", "full_name"]
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False
    inlines = [OrderLineInline, VoucherRedemptionInline, OrderEventInline]
    # payments adds "mark paid" for bank transfers: it goes through the payment services.
    actions = ["mark_shipped", "mark_delivered", "mark_completed", "cancel"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "status",
                    "payment_method",
                    "created_at",
                    "updated_at",
                    "user",
                    "email",
                    "phone",
                    "language",
                ]
            },
        ),
        (
            _("Shipping address"),
            {
                "fields": [
                    "full_name",
                    "line1",
                    "line2",
                    "postal_code",
                    "city",
                    "country",
                    "shipping_method_name",
                ]
            },
        ),
        (
            _("Totals"),
            {
                "fields": [
                    "currency",
                    "subtotal",
                    "voucher_code",
                    "discount_total",
                    "shipping_total",
                    "total",
                    "tax_rate",
                    "tax_total",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [field for _name, options in self.fieldsets for field in options["fields"]]

    @admin.display(description=_("total"), ordering="total")
    def total_with_currency(self, order):
        return f"{order.total} {order.currency}"

    def _move(self, request, queryset, *, to_status, apply, done):
        """Apply `apply` to each order; a refused order gets its own message, the rest go on."""
        moved = 0
        for order in queryset.order_by("pk"):
            try:
                apply(order)
            except services.InvalidTransition:
                self.message_user(request, self._not_allowed(order, to_status), messages.ERROR)
            else:
                moved += 1
        if moved:
            self.message_user(request, done(moved) % {"count": moved}, messages.SUCCESS)

    @staticmethod
    def _not_allowed(order, to_status):
        message = gettext(
            "Order %(number)s was not changed: it cannot go from “%(from)s” to “%(to)s”."
        )
        return message % {
            "number": order.number,
            "from": order.get_status_display(),
            "to": Order.Status(to_status).label,
        }

    def _change_status(self, request, queryset, to_status, done):
        self._move(
            request,
            queryset,
            to_status=to_status,
            apply=lambda order: services.change_status(
                order=order, to_status=to_status, user=request.user
            ),
            done=done,
        )

    @admin.action(permissions=["change"], description=_("Mark shipped"))
    def mark_shipped(self, request, queryset):
        self._change_status(
            request,
            queryset,
            Order.Status.SHIPPED,
            lambda n: ngettext(
                "%(count)d order marked shipped.", "%(count)d orders marked shipped.", n
            ),
        )

    @admin.action(permissions=["change"], description=_("Mark delivered"))
    def mark_delivered(self, request, queryset):
        self._change_status(
            request,
            queryset,
            Order.Status.DELIVERED,
            lambda n: ngettext(
                "%(count)d order marked delivered.", "%(count)d orders marked delivered.", n
            ),
        )

    @admin.action(permissions=["change"], description=_("Mark completed"))
    def mark_completed(self, request, queryset):
        self._change_status(
            request,
            queryset,
            Order.Status.COMPLETED,
            lambda n: ngettext(
                "%(count)d order marked completed.", "%(count)d orders marked completed.", n
            ),
        )

    @admin.action(permissions=["change"], description=_("Cancel (releases the stock)"))
    def cancel(self, request, queryset):
        self._move(
            request,
            queryset,
            to_status=Order.Status.CANCELLED,
            apply=lambda order: services.cancel_order(
                order=order, user=request.user, note=gettext("Cancelled by staff")
            ),
            done=lambda n: ngettext("%(count)d order cancelled.", "%(count)d orders cancelled.", n),
        )

    def get_urls(self):
        sales = path(
            "sales/", self.admin_site.admin_view(self.sales_view), name="orders_order_sales"
        )
        return [sales, *super().get_urls()]

    def sales_view(self, request):
        if not request.user.has_perm("orders.view_order"):
            raise PermissionDenied
        form = SalesPeriodForm(request.GET or SalesPeriodForm.default_data())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Sales"),
            "form": form,
        }
        if not form.is_valid():
            return TemplateResponse(request, "admin/orders/order/sales.html", context, status=400)
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        rank_by = form.cleaned_data["rank_by"] or "units"
        days = reports.daily_sales(start=start, end=end)
        context |= {
            "days": days,
            "summary": reports.summarize(days),
            "products": reports.top_products(start=start, end=end, rank_by=rank_by),
            "chart": revenue_chart(days),
            "currency": settings.SHOP_CURRENCY,
        }
        return TemplateResponse(request, "admin/orders/order/sales.html", context)


class SalesPeriodForm(forms.Form):
    start = forms.DateField(
        label=_("From"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    rank_by = forms.ChoiceField(
        label=_("Top products by"),
        choices=[("units", _("units sold")), ("revenue", _("revenue"))],
        required=False,
    )

    @staticmethod
    def default_data():
        today = timezone.localdate()
        return {
            "start": today - timedelta(days=SALES_DEFAULT_DAYS - 1),
            "end": today,
            "rank_by": "units",
        }

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The start date must not be after the end date."))
            if (end - start).days >= SALES_MAX_DAYS:
                raise forms.ValidationError(
                    _("Choose at most %(days)d days.") % {"days": SALES_MAX_DAYS}
                )
        return cleaned


def revenue_chart(days):
    """Bar geometry for revenue per day, computed here so the page is plain inline SVG.

    Coordinates are strings, so number localisation can never put a comma in the SVG.
    """
    peak = max((day.revenue for day in days), default=Decimal(0))
    slot = Decimal(CHART_WIDTH) / len(days)
    bars = []
    for index, day in enumerate(days):
        height = (day.revenue / peak * CHART_HEIGHT).quantize(PIXEL) if peak else Decimal(0)
        bars.append(
            {
                "day": day,
                "x": str((slot * index + slot / 10).quantize(PIXEL)),
                "y": str(CHART_HEIGHT - height),
                "width": str((slot * 8 / 10).quantize(PIXEL)),
                "height": str(height),
            }
        )
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "peak": peak, "bars": bars}


@admin.register(Voucher)
class VoucherAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "kind",
        "value",
        "combination",
        "min_subtotal",
        "valid_from",
        "valid_until",
        "usage",
        "is_active",
    ]
    list_filter = ["is_active", "kind", "combination"]
    search_fields = ["code"]
    readonly_fields = ["usage"]
    fields = [
        "code",
        "kind",
        "value",
        "combination",
        "min_subtotal",
        "valid_from",
        "valid_until",
        "max_uses",
        "max_uses_per_customer",
        "is_active",
        "usage",
    ]

    @admin.display(description=_("used"), ordering="times_used")
    def usage(self, voucher):
        if not voucher.pk:
            return "—"
        limit = voucher.max_uses if voucher.max_uses is not None else "∞"
        orders = reverse("admin:orders_order_changelist") + f"?voucher__id__exact={voucher.pk}"
        return format_html('<a href="{}">{} / {}</a>', orders, voucher.times_used, limit)
