"""STAFF_REQUIRE_MFA: a staff account without an authenticator app sets one up before anything."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal import auth as totp_auth
from django.test import override_settings
from django.urls import reverse

from tests.orders.factories import OrderFactory
from tests.support.factories import TicketFactory

from .factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

SETUP = reverse("mfa_activate_totp")

STAFF_PAGES = {
    "admin": lambda: reverse("admin:index"),
    "an admin list": lambda: reverse("admin:orders_order_changelist"),
    "the ticket desk": lambda: reverse("support:desk_ticket", args=[TicketFactory().number]),
    "a staff page": lambda: reverse("shipping:low_stock"),
    "a customer's order": lambda: OrderFactory().get_absolute_url(),
}


def totp_code(secret):
    counter = next(iter(totp_auth.yield_hotp_counters_from_time()))
    return totp_auth.format_hotp_value(totp_auth.hotp_value(secret, counter))


def sign_in(client, user):
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return response


@pytest.fixture
def staff():
    return StaffFactory(is_superuser=True)


@override_settings(STAFF_REQUIRE_MFA=True)
@pytest.mark.parametrize("where", STAFF_PAGES)
def test_staff_without_an_authenticator_are_sent_to_set_one_up(client, staff, where):
    url = STAFF_PAGES[where]()
    sign_in(client, staff)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == SETUP


@override_settings(STAFF_REQUIRE_MFA=True)
def test_staff_set_up_totp_and_then_reach_admin(client, staff):
    sign_in(client, staff)
    sent_to = client.get(reverse("admin:index")).url
    # allauth asks for the password again before adding an authenticator.
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    setup = client.get(sent_to)
    assert setup.status_code == 200

    secret = setup.context["form"].secret
    client.post(SETUP, {"code": totp_code(secret)})

    assert Authenticator.objects.filter(user=staff, type=Authenticator.Type.TOTP).exists()
    assert client.get(reverse("admin:index")).status_code == 200


@override_settings(STAFF_REQUIRE_MFA=True)
def test_staff_without_an_authenticator_can_still_sign_out(client, staff):
    sign_in(client, staff)

    client.post(reverse("account_logout"))

    assert "_auth_user_id" not in client.session


@override_settings(STAFF_REQUIRE_MFA=True)
def test_shoppers_are_not_asked_for_a_second_factor(client):
    sign_in(client, UserFactory())

    assert client.get(reverse("accounts:profile")).status_code == 200
    assert client.get(reverse("orders:cart")).status_code == 200


@override_settings(STAFF_REQUIRE_MFA=False)
def test_without_the_setting_staff_reach_admin_with_a_password_alone(client, staff):
    sign_in(client, staff)

    assert client.get(reverse("admin:index")).status_code == 200
