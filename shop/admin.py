"""Admin pieces every app may use, and the log of sent emails."""

from django.contrib import admin

from .models import SentEmail


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
