"""Account actions: users, a shopper's address book and the staff roles."""

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from .models import Address, User
from .roles import ROLES, granted

ADDRESS_FIELDS = ("full_name", "line1", "line2", "city", "postal_code", "country", "phone")


def _claim_defaults(*, address, shipping, billing):
    """Make this address the user's default; the previous default gives the flag up first."""
    others = Address.objects.filter(user_id=address.user_id).exclude(pk=address.pk)
    if shipping:
        others.filter(is_default_shipping=True).update(is_default_shipping=False)
    if billing:
        others.filter(is_default_billing=True).update(is_default_billing=False)


@transaction.atomic
def create_address(*, user, is_default_shipping=False, is_default_billing=False, **fields):
    first = not Address.objects.filter(user=user).exists()
    address = Address(
        user=user,
        is_default_shipping=is_default_shipping or first,
        is_default_billing=is_default_billing or first,
        **{name: fields[name] for name in ADDRESS_FIELDS if name in fields},
    )
    _claim_defaults(
        address=address, shipping=address.is_default_shipping, billing=address.is_default_billing
    )
    address.full_clean()
    address.save()
    return address


@transaction.atomic
def update_address(*, address, is_default_shipping=None, is_default_billing=None, **fields):
    for name in ADDRESS_FIELDS:
        if name in fields:
            setattr(address, name, fields[name])
    if is_default_shipping is not None:
        address.is_default_shipping = is_default_shipping
    if is_default_billing is not None:
        address.is_default_billing = is_default_billing
    _claim_defaults(
        address=address, shipping=address.is_default_shipping, billing=address.is_default_billing
    )
    address.full_clean()
    address.save()
    return address


@transaction.atomic
def delete_address(*, address):
    """Delete an address; if it was a default, the newest remaining address takes over."""
    user_id = address.user_id
    was_shipping, was_billing = address.is_default_shipping, address.is_default_billing
    address.delete()
    successor = Address.objects.filter(user_id=user_id).order_by("-created_at").first()
    if successor and (was_shipping or was_billing):
        successor.is_default_shipping |= was_shipping
        successor.is_default_billing |= was_billing
        successor.save(update_fields=["is_default_shipping", "is_default_billing"])


@transaction.atomic
def setup_roles():
    """Create or update the staff groups so they hold exactly the permissions in ROLES."""
    groups = []
    for name, apps in ROLES.items():
        group, _created = Group.objects.get_or_create(name=name)
        permissions = [
            permission
            for permission in Permission.objects.filter(content_type__app_label__in=apps)
            .select_related("content_type")
            .order_by("content_type__app_label", "codename")
            if permission.codename.split("_", 1)[0]
            in granted(name, permission.content_type.app_label, permission.content_type.model)
        ]
        group.permissions.set(permissions)
        groups.append(group)
    return groups


@transaction.atomic
def create_user(
    *,
    email,
    password,
    first_name="",
    last_name="",
    is_staff=False,
    is_superuser=False,
    email_verified=False,
    groups=(),
):
    """Create a user whose email is recorded for allauth (verified when we vouch for it)."""
    user = User.objects.create_user(
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
        is_staff=is_staff or is_superuser,
        is_superuser=is_superuser,
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=email_verified, primary=True)
    user.groups.set(groups)
    return user
