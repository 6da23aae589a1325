"""Admin pieces every app may use, the log of sent emails, the audit trail and the outbox."""

from django.contrib import admin, messages
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import outbox
from .models import AuditEntry, OutboxMessage, SentEmail


class RecordAdminMixin:
    """A record staff look at and act on through admin actions, never add, edit or delete.

    Change permission stays, so the actions (which call services) are offered; the change
    form only shows the record, without save buttons.
    """

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        nothing_to_save = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(
            request, object_id, form_url, {**nothing_to_save, **(extra_context or {})}
        )


@admin.register(SentEmail)
class SentEmailAdmin(admin.ModelAdmin):
    list_display = ["sent_at", "recipient", "subject", "key"]
    search_fields = ["recipient", "key"]
    date_hierarchy = "sent_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail: superusers read it; nobody, superusers included, adds, edits or deletes.

    Staff roles never see it, whatever permissions they hold: it records what they did.
    """

    list_display = ["created_at", "actor", "action", "target_type", "object_link"]
    list_filter = ["action", "target_type"]
    list_select_related = ["actor"]
    search_fields = ["actor__email", "target_label", "target_id", "note"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "actor",
        "action",
        "target_type",
        "target_id",
        "object_link",
        "before",
        "after",
        "note",
    ]
    readonly_fields = fields

    @admin.display(description=_("object"))
    def object_link(self, entry):
        app_label, model_name = entry.target_type.split(".", 1)
        try:
            url = reverse(f"admin:{app_label}_{model_name}_change", args=[entry.target_id])
        except NoReverseMatch:
            return entry.target_label
        return format_html('<a href="{}">{}</a>', url, entry.target_label)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OutboxStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", _("Pending")), ("failed", _("Failed")), ("done", _("Done"))]

    def queryset(self, request, queryset):
        if self.value() in ("pending", "failed", "done"):
            return getattr(queryset, self.value())()
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """The outbox: the work queued by business changes, its backlog and its failures.

    Read-only. Whoever may manage orders (order managers, superusers) sees it, since most of
    what it carries follows an order, and may hand chosen rows to the workers at once.
    """

    list_display = [
        "created_at",
        "task",
        "key",
        "attempts",
        "dispatched_at",
        "done_at",
        "short_error",
    ]
    list_filter = [OutboxStateFilter, "task"]
    search_fields = ["key", "task"]
    date_hierarchy = "created_at"
    fields = [
        "task",
        "args",
        "key",
        "created_at",
        "available_at",
        "dispatched_at",
        "done_at",
        "attempts",
        "last_error",
    ]
    readonly_fields = fields
    actions = ["dispatch_now"]

    @admin.display(description=_("last error"))
    def short_error(self, message):
        return message.last_error[:80]

    @admin.action(permissions=["dispatch"], description=_("Dispatch now"))
    def dispatch_now(self, request, queryset):
        handed = outbox.dispatch(only=list(queryset.values_list("pk", flat=True)))
        message = ngettext(
            "%(count)d message handed to the workers.",
            "%(count)d messages handed to the workers.",
            handed,
        )
        self.message_user(request, message % {"count": handed}, messages.SUCCESS)

    def _manages_orders(self, request):
        return request.user.is_active and request.user.has_perm("orders.change_order")

    def has_module_permission(self, request):
        return self._manages_orders(request)

    def has_view_permission(self, request, obj=None):
        return self._manages_orders(request)

    def has_dispatch_permission(self, request):
        return self._manages_orders(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
