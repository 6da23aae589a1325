"""What staff see of orders and vouchers in Django admin.

Orders are records of what was sold: staff read them and move them along with the actions,
which call the order services; nothing on an order is edited by hand.
"""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.roles import CUSTOMER_DETAILS
from shipping.services import ShipmentError, StockError, deliver_shipments, ship_what_is_left
from shop.admin import RecordAdminMixin

from . import services
from .models import Order, OrderEvent, OrderLine, StaffAction, Voucher, VoucherRedemption


class OrderPartInline(admin.TabularInline):
    """Rows that belong to an order: shown to whoever may see the order, never edited."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_view_permission(self, request, obj=None):
        """Each part by its own permission: warehouse staff see the lines, not the history."""
        return request.user.has_perms(["orders.view_order", f"orders.view_{self.opts.model_name}"])

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


def hidden_order_fields(request):
    """What of an order this member of staff may not see: who the customer is (email and
    account, which lead to their other orders) without the customer permission, and the
    voucher code without the voucher one. Packing needs neither."""
    hidden = set()
    if not request.user.has_perm(CUSTOMER_DETAILS):
        hidden |= {"user", "email"}
    if not request.user.has_perm("orders.view_voucher"):
        hidden.add("voucher_code")
    return hidden


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
    actions = ["ship", "deliver", "complete", "cancel"]
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

    def get_fieldsets(self, request, obj=None):
        hidden = hidden_order_fields(request)
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for name, options in self.fieldsets
        ]

    def get_list_display(self, request):
        hidden = hidden_order_fields(request)
        return [field for field in self.list_display if field not in hidden]

    def get_search_fields(self, request):
        hidden = hidden_order_fields(request)
        return [field for field in self.search_fields if field not in hidden]

    @admin.display(description=_("total"), ordering="total")
    def total_with_currency(self, order):
        return f"{order.total} {order.currency}"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        offered = self.get_actions(request)
        buttons = [
            (action.value, action.label)
            for action in (services.staff_actions(order) if order else [])
            if action.value in offered
        ]
        return super().change_view(
            request, object_id, form_url, {"staff_actions": buttons, **(extra_context or {})}
        )

    def _act(self, request, queryset, action, apply, done):
        """Apply a staff action to each order STAFF_ACTIONS allows it for; name the others.

        One refused order does not stop the rest.
        """
        changed = 0
        for order in queryset.order_by("pk"):
            if action not in services.staff_actions(order):
                self.message_user(request, self._not_offered(order, action), messages.ERROR)
                continue
            try:
                apply(order)
            except (services.InvalidTransition, ShipmentError, StockError) as error:
                self.message_user(request, f"{order.number}: {error}", messages.ERROR)
            else:
                changed += 1
        if changed:
            self.message_user(request, done(changed) % {"count": changed}, messages.SUCCESS)

    @staticmethod
    def _not_offered(order, action):
        message = gettext(
            "Order %(number)s was not changed: “%(action)s” is not possible for an order "
            "that is “%(status)s”."
        )
        return message % {
            "number": order.number,
            "action": action.label,
            "status": order.get_status_display(),
        }

    # Packing and delivering are the warehouse's work: they need the shipment permissions.
    def has_ship_permission(self, request):
        return request.user.has_perm("shipping.add_shipment")

    def has_deliver_permission(self, request):
        return request.user.has_perm("shipping.change_shipment")

    @admin.action(permissions=["ship"], description=StaffAction.SHIP.label)
    def ship(self, request, queryset):
        """Packs through the shipping services: the units leave stock in parcels, never by a
        status change alone."""
        self._act(
            request,
            queryset,
            StaffAction.SHIP,
            lambda order: ship_what_is_left(order=order, user=request.user),
            lambda n: ngettext("%(count)d order shipped.", "%(count)d orders shipped.", n),
        )

    @admin.action(permissions=["deliver"], description=StaffAction.DELIVER.label)
    def deliver(self, request, queryset):
        self._act(
            request,
            queryset,
            StaffAction.DELIVER,
            lambda order: deliver_shipments(order=order, user=request.user),
            lambda n: ngettext(
                "%(count)d order's parcels delivered.", "%(count)d orders' parcels delivered.", n
            ),
        )

    @admin.action(permissions=["change"], description=StaffAction.COMPLETE.label)
    def complete(self, request, queryset):
        self._act(
            request,
            queryset,
            StaffAction.COMPLETE,
            lambda order: services.change_status(
                order=order, to_status=Order.Status.COMPLETED, user=request.user
            ),
            lambda n: ngettext(
                "%(count)d order marked completed.", "%(count)d orders marked completed.", n
            ),
        )

    @admin.action(permissions=["change"], description=StaffAction.CANCEL.label)
    def cancel(self, request, queryset):
        self._act(
            request,
            queryset,
            StaffAction.CANCEL,
            lambda order: services.cancel_order(
                order=order, user=request.user, note=gettext("Cancelled by staff")
            ),
            lambda n: ngettext("%(count)d order cancelled.", "%(count)d orders cancelled.", n),
        )


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
