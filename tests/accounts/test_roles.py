from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from accounts.roles import ROLES

pytestmark = pytest.mark.django_db


def snapshot():
    return {
        group.name: sorted(group.permissions.values_list("codename", flat=True))
        for group in Group.objects.prefetch_related("permissions")
    }


def test_setup_roles_creates_each_staff_group_with_its_permissions():
    call_command("setup_roles", stdout=StringIO())
    groups = snapshot()
    assert set(groups) == set(ROLES)
    assert "view_user" in groups["Customer service"]
    assert "change_user" not in groups["Customer service"]
    assert "delete_user" not in groups["Order managers"]


def test_setup_roles_twice_changes_nothing():
    call_command("setup_roles", stdout=StringIO())
    first = snapshot()
    call_command("setup_roles", stdout=StringIO())
    assert snapshot() == first
    assert Group.objects.count() == len(ROLES)


def test_setup_roles_restores_a_permission_removed_by_hand():
    call_command("setup_roles", stdout=StringIO())
    group = Group.objects.get(name="Customer service")
    group.permissions.clear()
    call_command("setup_roles", stdout=StringIO())
    assert group.permissions.filter(codename="view_user").exists()


def test_no_role_can_add_change_or_delete_price_history():
    call_command("setup_roles", stdout=StringIO())
    groups = snapshot()

    assert "view_pricehistory" in groups["Catalog managers"]
    assert "change_pricerule" in groups["Catalog managers"]
    for permissions in groups.values():
        for action in ("add", "change", "delete"):
            assert f"{action}_pricehistory" not in permissions
