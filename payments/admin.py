"""What staff see of payments in Django admin: payments, refunds and webhook events, read-only.

Staff change nothing by hand; the actions (refund, bank transfer received, cash collected,
refund paid back) call the payment services. The order admin gets its "mark paid" action
from here, because a bank transfer is marked received through the payment, not the order.
"""

import logging
import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from kombu.exceptions import OperationalError as BrokerUnreachable

from orders.models import Order
from orders.services import InvalidTransition
from shop.admin import RecordAdminMixin

from . import selectors, services
from .gateways import gateway_for
from .models import Payment, Refund, RefundToPayBack, WebhookEvent
from .tasks import process_webhook_event

logger = logging.getLogger(__name__)


class ReadOnlyAdmin(RecordAdminMixin, admin.ModelAdmin):
    """Records of money and of what providers said: looked at, never edited or deleted."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields] + list(self.readonly_fields)


def _order_link(order):
    url = reverse("admin:orders_order_change", args=[order.pk])
    return format_html('<a href="{}">{}</a>', url, order.number)


class FlaggedFilter(admin.SimpleListFilter):
    title = _("flagged for staff")
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(flagged_reason="")
        if self.value() == "no":
            return queryset.filter(flagged_reason="")
        return queryset


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ["created_at", "amount", "status", "is_manual", "reason", "requested_by"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "order_number",
        "method",
        "amount_with_currency",
        "amount_refunded",
        "status",
        "is_flagged",
        "provider_reference",
    ]
    list_filter = ["status", "method", FlaggedFilter, "provider", "created_at"]
    search_fields = ["order__number", "order__email", "provider_reference"]
    list_select_related = ["order"]
    date_hierarchy = "created_at"
    readonly_fields = ["order_number", "refund_link"]
    inlines = [RefundInline]
    actions = ["refund", "mark_transfer_received", "mark_cash_collected"]

    @admin.display(description=_("order"), ordering="order__number")
    def order_number(self, payment):
        return _order_link(payment.order)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_with_currency(self, payment):
        return f"{payment.amount} {payment.currency}"

    @admin.display(description=_("flagged"), boolean=True)
    def is_flagged(self, payment):
        return bool(payment.flagged_reason)

    @admin.display(description=_("refund"))
    def refund_link(self, payment):
        left = selectors.refundable_amount(payment)
        if not left:
            return "—"
        url = reverse("admin:payments_payment_refund", args=[payment.pk])
        label = gettext("Refund (up to %(left)s %(currency)s)") % {
            "left": left,
            "currency": payment.currency,
        }
        return format_html('<a class="button" href="{}">{}</a>', url, label)

    def get_urls(self):
        refund = path(
            "<int:payment_id>/refund/",
            self.admin_site.admin_view(self.refund_view),
            name="payments_payment_refund",
        )
        return [refund, *super().get_urls()]

    @admin.action(permissions=["change"], description=_("Refund the selected payment…"))
    def refund(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, gettext("Choose one payment to refund at a time."), messages.ERROR
            )
            return None
        return redirect("admin:payments_payment_refund", queryset.get().pk)

    def refund_view(self, request, payment_id):
        if not self.has_change_permission(request):
            raise PermissionDenied
        payment = get_object_or_404(Payment.objects.select_related("order"), pk=payment_id)
        left = selectors.refundable_amount(payment)
        form = RefundForm(
            request.POST if request.method == "POST" else None,
            left=left,
            currency=payment.currency,
            by_hand=gateway_for(payment.method).paid_by_hand,
        )
        if request.method == "POST" and form.is_valid():
            try:
                refund = services.refund_payment(
                    payment=payment,
                    user=request.user,
                    **form.cleaned_data,
                )
            except services.PaymentError as error:
                form.add_error(None, str(error))
            else:
                self._report_refund(request, refund)
                return redirect("admin:payments_payment_change", payment.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Refund a payment of order %(number)s")
            % {"number": payment.order.number},
            "payment": payment,
            "left": left,
            "form": form,
        }
        status = 400 if form.errors else 200
        return TemplateResponse(
            request, "admin/payments/payment/refund.html", context, status=status
        )

    def _report_refund(self, request, refund):
        values = {
            "amount": refund.amount,
            "currency": refund.payment.currency,
            "number": refund.payment.order.number,
        }
        if refund.status == Refund.Status.SUCCEEDED:
            message = gettext("Refunded %(amount)s %(currency)s of order %(number)s.")
            self.message_user(request, message % values, messages.SUCCESS)
        elif refund.is_manual:
            message = gettext(
                "%(amount)s %(currency)s of order %(number)s is to pay back by hand: it waits "
                "in “Refunds to pay back” until you mark it paid back."
            )
            self.message_user(request, message % values, messages.WARNING)
        else:
            message = gettext(
                "The refund of %(amount)s %(currency)s of order %(number)s is pending with Stripe."
            )
            self.message_user(request, message % values, messages.WARNING)

    def _each(self, request, queryset, apply, done):
        changed = 0
        for payment in queryset.select_related("order").order_by("pk"):
            try:
                apply(payment)
            except (services.PaymentError, InvalidTransition) as error:
                self.message_user(request, f"{payment.order.number}: {error}", messages.ERROR)
            else:
                changed += 1
        if changed:
            self.message_user(request, done(changed) % {"count": changed}, messages.SUCCESS)

    @admin.action(permissions=["change"], description=_("Mark bank transfer received"))
    def mark_transfer_received(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda payment: services.mark_transfer_received(payment=payment, user=request.user),
            lambda n: ngettext(
                "%(count)d transfer marked received.", "%(count)d transfers marked received.", n
            ),
        )

    @admin.action(permissions=["change"], description=_("Mark cash collected on delivery"))
    def mark_cash_collected(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda payment: services.mark_cash_collected(payment=payment, user=request.user),
            lambda n: ngettext(
                "%(count)d payment marked collected.", "%(count)d payments marked collected.", n
            ),
        )


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount"), max_digits=12, decimal_places=2, min_value=Decimal("0.01")
    )
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)
    pay_back_to = forms.CharField(
        label=_("Pay back to"),
        max_length=255,
        required=False,
        help_text=_("For cash and bank transfers: the account (IBAN and holder) staff pay it to."),
    )
    # One key per form: a double-submitted form refunds once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, left, currency, by_hand, **kwargs):
        super().__init__(*args, **kwargs)
        if not by_hand:
            del self.fields["pay_back_to"]
        self.fields["amount"].initial = left
        self.fields["amount"].help_text = _("At most %(left)s %(currency)s.") % {
            "left": left,
            "currency": currency,
        }
        self.fields["idempotency_key"].initial = uuid.uuid4().hex


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "order_number",
        "amount",
        "status",
        "is_manual",
        "requested_by",
        "completed_at",
        "provider_reference",
    ]
    list_filter = ["status", "is_manual", "created_at"]
    search_fields = ["payment__order__number", "provider_reference"]
    list_select_related = ["payment__order", "requested_by"]
    readonly_fields = ["order_number"]
    actions = ["mark_paid_back"]

    @admin.display(description=_("order"), ordering="payment__order__number")
    def order_number(self, refund):
        return _order_link(refund.payment.order)

    @admin.action(permissions=["change"], description=_("Mark paid back by hand"))
    def mark_paid_back(self, request, queryset):
        done = 0
        for refund in queryset.select_related("payment__order").order_by("pk"):
            try:
                services.mark_refund_paid_back(refund=refund, user=request.user)
            except services.PaymentError as error:
                number = refund.payment.order.number
                self.message_user(request, f"{number}: {error}", messages.ERROR)
            else:
                done += 1
        if done:
            message = ngettext(
                "%(count)d refund marked paid back.", "%(count)d refunds marked paid back.", done
            )
            self.message_user(request, message % {"count": done}, messages.SUCCESS)


@admin.register(RefundToPayBack)
class RefundToPayBackAdmin(RefundAdmin):
    """What staff owe shoppers by hand, oldest first, with where the money goes."""

    list_display = [
        "created_at",
        "order_number",
        "customer",
        "amount_with_currency",
        "pay_back_to_or_ask",
        "reason",
    ]
    list_filter = ["created_at", "payment__method"]
    search_fields = ["payment__order__number", "payment__order__email", "pay_back_to"]
    ordering = ["created_at", "pk"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("payment__order")

    @admin.display(description=_("customer"), ordering="payment__order__full_name")
    def customer(self, refund):
        order = refund.payment.order
        return f"{order.full_name} <{order.email}>"

    @admin.display(description=_("amount"), ordering="amount")
    def amount_with_currency(self, refund):
        return f"{refund.amount} {refund.payment.currency}"

    @admin.display(description=_("pay back to"), ordering="pay_back_to")
    def pay_back_to_or_ask(self, refund):
        return refund.pay_back_to or gettext("Not given yet: ask the customer")


class ProcessedFilter(admin.SimpleListFilter):
    title = _("processed")
    parameter_name = "processed"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(processed_at__isnull=self.value() == "no")
        return queryset


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "type", "event_id", "processed_at", "error"]
    list_filter = [ProcessedFilter, "type", "received_at"]
    search_fields = ["event_id"]
    actions = ["process_now"]

    @admin.action(permissions=["change"], description=_("Process now"))
    def process_now(self, request, queryset):
        pending = list(queryset.filter(processed_at__isnull=True).values_list("pk", flat=True))
        try:
            for event_pk in pending:
                process_webhook_event.delay(event_pk)
        except BrokerUnreachable:
            # Redis down: say so rather than fail the page; the stored events stay pending.
            logger.warning("Broker unreachable: webhook events not queued", exc_info=True)
            message = _(
                "The task queue can't be reached right now; the events stay pending and are "
                "processed once it is back."
            )
            self.message_user(request, message, messages.ERROR)
            return
        message = ngettext(
            "%(count)d event queued for processing.",
            "%(count)d events queued for processing.",
            len(pending),
        )
        self.message_user(request, message % {"count": len(pending)}, messages.SUCCESS)


# The order admin's "mark paid": a bank transfer is received through its payment.


@admin.action(permissions=["mark_paid"], description=_("Mark paid (bank transfer received)"))
def mark_paid(modeladmin, request, queryset):
    paid = 0
    for order in queryset.order_by("pk"):
        if order.payment_method != Order.PaymentMethod.BANK_TRANSFER:
            message = gettext(
                "Order %(number)s was not changed: only bank transfers are marked paid by hand."
            )
            modeladmin.message_user(request, message % {"number": order.number}, messages.ERROR)
            continue
        try:
            services.mark_order_transfer_received(order=order, user=request.user)
        except services.PaymentError as error:
            modeladmin.message_user(request, f"{order.number}: {error}", messages.ERROR)
        except InvalidTransition:
            message = gettext(
                "Order %(number)s was not changed: it cannot go from “%(from)s” to “%(to)s”."
            ) % {
                "number": order.number,
                "from": order.get_status_display(),
                "to": Order.Status.PAID.label,
            }
            modeladmin.message_user(request, message, messages.ERROR)
        else:
            order.refresh_from_db(fields=["status"])
            if order.status == Order.Status.CANCELLED:
                message = gettext(
                    "Order %(number)s was cancelled before the transfer arrived: it stays "
                    "cancelled, the transfer is recorded and all of it is to be paid back."
                ) % {"number": order.number}
                modeladmin.message_user(request, message, messages.WARNING)
            else:
                paid += 1
    if paid:
        message = ngettext("%(count)d order marked paid.", "%(count)d orders marked paid.", paid)
        modeladmin.message_user(request, message % {"count": paid}, messages.SUCCESS)


def has_mark_paid_permission(request):
    """Marking paid records money received: the payment permission as well as the order's."""
    return request.user.has_perms(["orders.change_order", "payments.change_payment"])


order_admin = admin.site.get_model_admin(Order)
order_admin.actions = [mark_paid, *order_admin.actions]
order_admin.has_mark_paid_permission = has_mark_paid_permission
