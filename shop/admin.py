"""The log of sent emails, for staff answering "did my confirmation go out?"."""

from django.contrib import admin

from .models import SentEmail


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
