import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Address

from .factories import AddressFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_ADDRESS = {
    "full_name": "Mei Chen",
    "line1": "Unter den Linden 1",
    "line2": "",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
    "phone": "",
}


def test_address_book_needs_sign_in(client):
    response = client.get(reverse("accounts:address_list"))
    assert response.status_code == 302
    assert reverse("account_login") in response.url


def test_shopper_adds_edits_and_deletes_an_address(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(reverse("accounts:address_create"), NEW_ADDRESS)
    assert response.status_code == 302
    address = user.addresses.get()
    assert address.is_default_shipping and address.is_default_billing, "the first one is default"

    client.post(
        reverse("accounts:address_update", args=[address.pk]), {**NEW_ADDRESS, "city": "Potsdam"}
    )
    address.refresh_from_db()
    assert address.city == "Potsdam"

    assert "Potsdam" in client.get(reverse("accounts:address_list")).content.decode()
    client.post(reverse("accounts:address_delete", args=[address.pk]))
    assert not user.addresses.exists()


def test_another_users_address_is_not_found(client):
    theirs = AddressFactory(city="Hamburg")
    client.force_login(UserFactory())
    edit = reverse("accounts:address_update", args=[theirs.pk])
    assert client.get(edit).status_code == 404
    assert client.post(edit, NEW_ADDRESS).status_code == 404
    delete = reverse("accounts:address_delete", args=[theirs.pk])
    assert client.post(delete).status_code == 404
    theirs.refresh_from_db()
    assert theirs.city == "Hamburg"


def test_another_users_addresses_are_not_listed(client):
    theirs = AddressFactory(city="Hamburg")
    client.force_login(UserFactory())
    assert "Hamburg" not in client.get(reverse("accounts:address_list")).content.decode()
    assert Address.objects.filter(pk=theirs.pk).exists()


def test_a_new_default_takes_the_flag_from_the_old_one():
    user = UserFactory()
    first = services.create_address(user=user, **NEW_ADDRESS)
    second = services.create_address(user=user, is_default_shipping=True, **NEW_ADDRESS)
    first.refresh_from_db()
    assert second.is_default_shipping and not first.is_default_shipping
    assert first.is_default_billing and not second.is_default_billing


def test_deleting_the_default_passes_it_to_another_address():
    user = UserFactory()
    first = services.create_address(user=user, **NEW_ADDRESS)
    second = services.create_address(user=user, **NEW_ADDRESS)
    services.delete_address(address=first)
    second.refresh_from_db()
    assert second.is_default_shipping and second.is_default_billing


def test_a_missing_required_field_is_shown_not_saved(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("accounts:address_create"), {**NEW_ADDRESS, "city": ""})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not user.addresses.exists()
