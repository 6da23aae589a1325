from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from shop.audit import record

from .models import Address, User


def _permission_names(permissions):
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in permissions)


def _role(data):
    """A user's role as a user form holds it (initial: before saving; cleaned: after)."""
    return {
        "is_active": data.get("is_active"),
        "is_staff": data.get("is_staff"),
        "is_superuser": data.get("is_superuser"),
        "groups": sorted(group.name for group in data.get("groups", ())),
        "permissions": _permission_names(data.get("user_permissions", ())),
    }


def _group_role(data):
    """A group's name and permissions as a group form holds them."""
    return {"name": data.get("name"), "permissions": _permission_names(data.get("permissions", ()))}


def _record_deleted(request, group):
    before = _group_role({"name": group.name, "permissions": group.permissions.all()})
    record(actor=request.user, action="group.deleted", target=group, before=before)


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "first_name", "last_name"]
    inlines = [AddressInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["first_name", "last_name"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]}),
    ]

    def save_related(self, request, form, formsets, change):
        """Record a change of role (flags, groups, permissions) in the audit trail.

        Here rather than in a signal: the admin knows who made the change, and its groups and
        permissions are saved only now; the form's initial data is the role before.
        """
        super().save_related(request, form, formsets, change)
        if not change:
            return
        before, after = _role(form.initial), _role(form.cleaned_data)
        if before != after:
            record(
                actor=request.user,
                action="user.role_changed",
                target=form.instance,
                before=before,
                after=after,
            )


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin):
    """Django's group admin, with changes to a role's permissions in the audit trail."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        before = _group_role(form.initial) if change else None
        after = _group_role(form.cleaned_data)
        if before != after:
            record(
                actor=request.user,
                action="group.changed" if change else "group.created",
                target=form.instance,
                before=before,
                after=after,
            )

    def delete_model(self, request, obj):
        _record_deleted(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for group in queryset:
                _record_deleted(request, group)
            super().delete_queryset(request, queryset)
