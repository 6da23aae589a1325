from decimal import Decimal

import pytest
from django.urls import reverse

from orders.models import Cart, CartLine
from tests.accounts.factories import PASSWORD, UserFactory
from tests.catalog.factories import VariantFactory

from .factories import CartFactory, CartLineFactory, stocked_variant

pytestmark = pytest.mark.django_db


def add(client, variant, quantity=1, **extra):
    return client.post(
        reverse("orders:cart_add"), {"variant": variant.pk, "quantity": quantity, **extra}
    )


def guest_cart(client):
    return Cart.objects.get(session_key=client.session["cart_key"])


def test_guest_adds_to_cart_and_sees_it_with_the_count_in_the_header(client):
    variant = stocked_variant(product__title="Linen shirt")

    response = add(client, variant, 2)

    assert response.status_code == 302
    assert response.url == reverse("orders:cart")
    page = client.get(reverse("orders:cart")).content.decode()
    assert "Linen shirt" in page
    assert "39.98" in page
    assert '<span class="cart-count"' in page and ">2</span>" in page
    assert guest_cart(client).lines.get().quantity == 2


def test_adding_the_same_variant_again_raises_the_quantity(client):
    variant = stocked_variant()
    add(client, variant, 2)
    add(client, variant, 3)
    assert guest_cart(client).lines.get().quantity == 5


def test_shopper_changes_the_quantity_and_removes_a_line(client):
    variant = stocked_variant()
    add(client, variant, 1)
    line = guest_cart(client).lines.get()

    client.post(reverse("orders:cart_update", args=[line.pk]), {"quantity": 4})
    line.refresh_from_db()
    assert line.quantity == 4

    client.post(reverse("orders:cart_remove", args=[line.pk]))
    assert not CartLine.objects.exists()
    assert "Your cart is empty." in client.get(reverse("orders:cart")).content.decode()


def test_cart_cannot_hold_more_than_the_stock(client):
    variant = stocked_variant(units=3, sku="MUG-1")
    response = add(client, variant, 4)
    assert response.status_code == 400
    assert "Only 3 of" in response.content.decode()
    assert not CartLine.objects.exists()

    add(client, variant, 3)
    line = guest_cart(client).lines.get()
    response = client.post(reverse("orders:cart_update", args=[line.pk]), {"quantity": 4})
    assert response.status_code == 400
    line.refresh_from_db()
    assert line.quantity == 3


def test_cart_line_cannot_exceed_the_per_line_maximum(client, settings):
    assert settings.CART_MAX_QUANTITY == 10
    variant = stocked_variant(units=50)
    add(client, variant, 6)
    response = add(client, variant, 5)
    assert response.status_code == 400
    assert "at most 10" in response.content.decode()
    assert guest_cart(client).lines.get().quantity == 6


def test_sold_out_and_withdrawn_variants_cannot_be_added(client):
    sold_out = VariantFactory()
    withdrawn = stocked_variant(is_active=False)

    for variant, message in [(sold_out, "is sold out"), (withdrawn, "not available")]:
        response = add(client, variant)
        assert response.status_code == 400
        assert message in response.content.decode()
    assert not CartLine.objects.exists()


@pytest.mark.parametrize("quantity", ["-1", "0", "11", "99999999999999999999999", "abc", "1.5"])
def test_bad_quantities_are_refused_and_nothing_is_written(client, quantity):
    variant = stocked_variant(units=50)
    response = add(client, variant, quantity)
    assert response.status_code == 400
    assert response.context["messages"]
    assert not CartLine.objects.exists()


@pytest.mark.parametrize("variant_id", ["999999", "abc", "-3", "9" * 40, ""])
def test_unknown_variants_are_refused_and_nothing_is_written(client, variant_id):
    response = client.post(reverse("orders:cart_add"), {"variant": variant_id, "quantity": 1})
    assert response.status_code == 400
    assert not CartLine.objects.exists()


@pytest.mark.parametrize("quantity", ["-1", "0", "99999999999999999999999", "abc"])
def test_bad_quantity_changes_are_refused(client, quantity):
    variant = stocked_variant()
    add(client, variant, 2)
    line = guest_cart(client).lines.get()
    response = client.post(reverse("orders:cart_update", args=[line.pk]), {"quantity": quantity})
    assert response.status_code == 400
    line.refresh_from_db()
    assert line.quantity == 2


def test_another_shoppers_cart_line_cannot_be_changed_or_removed(client):
    theirs = CartLineFactory(variant=stocked_variant(), quantity=2)
    add(client, stocked_variant())

    update = client.post(reverse("orders:cart_update", args=[theirs.pk]), {"quantity": 5})
    remove = client.post(reverse("orders:cart_remove", args=[theirs.pk]))

    assert update.status_code == 400 and remove.status_code == 400
    theirs.refresh_from_db()
    assert theirs.quantity == 2


def test_a_posted_price_is_ignored(client):
    variant = stocked_variant(price=Decimal("19.99"))
    add(client, variant, 1, price="0.01", price_seen="0.01")
    assert guest_cart(client).lines.get().price_seen == Decimal("19.99")


def test_cart_add_only_accepts_posts(client):
    assert client.get(reverse("orders:cart_add")).status_code == 405


def test_cart_tells_the_shopper_once_when_a_price_changed(client):
    variant = stocked_variant(product__title="Teapot", price=Decimal("30.00"))
    add(client, variant)
    variant.price = Decimal("27.50")
    variant.save()

    page = client.get(reverse("orders:cart")).content.decode()
    assert "The price of “Teapot” changed from 30.00 to 27.50." in page
    assert "27.50" in page
    assert guest_cart(client).lines.get().price_seen == Decimal("27.50")
    assert "changed from" not in client.get(reverse("orders:cart")).content.decode()


def test_cart_flags_lines_that_cannot_be_bought_as_they_are(client):
    gone = stocked_variant(product__title="Old lamp")
    scarce = stocked_variant(product__title="Rare vase", units=5)
    add(client, gone)
    add(client, scarce, 4)
    gone.is_active = False
    gone.save()
    scarce.stock_available = 1
    scarce.save()

    page = client.get(reverse("orders:cart")).content.decode()

    assert "No longer available." in page
    assert "Only 1 left." in page
    assert reverse("orders:checkout") not in page
    response = client.get(reverse("orders:checkout"))
    assert response.status_code == 302 and response.url == reverse("orders:cart")


def test_signed_in_shoppers_cart_follows_their_account(client):
    user = UserFactory()
    variant = stocked_variant()
    client.force_login(user)
    add(client, variant, 2)

    client.logout()
    client.force_login(user)

    assert Cart.objects.get(user=user).lines.get().quantity == 2
    assert ">2</span>" in client.get(reverse("orders:cart")).content.decode()


def test_guest_cart_merges_into_the_account_cart_on_sign_in(client):
    user = UserFactory()
    both, guest_only, account_only = stocked_variant(), stocked_variant(), stocked_variant()
    account_cart = CartFactory(user=user)
    CartLineFactory(cart=account_cart, variant=both, quantity=1)
    CartLineFactory(cart=account_cart, variant=account_only, quantity=1)
    add(client, both, 2)
    add(client, guest_only, 1)

    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})

    assert response.status_code == 302
    quantities = dict(account_cart.lines.values_list("variant_id", "quantity"))
    assert quantities == {both.pk: 3, guest_only.pk: 1, account_only.pk: 1}
    assert Cart.objects.count() == 1
    assert ">5</span>" in client.get(reverse("orders:cart")).content.decode()


def test_guest_cart_becomes_the_account_cart_when_there_is_none(client):
    user = UserFactory()
    variant = stocked_variant()
    add(client, variant, 2)

    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})

    cart = Cart.objects.get()
    assert cart.user == user and cart.session_key is None
    assert cart.lines.get().quantity == 2


def test_merging_keeps_lines_within_the_per_line_maximum(client):
    user = UserFactory()
    variant = stocked_variant(units=50)
    CartLineFactory(cart=CartFactory(user=user), variant=variant, quantity=8)
    add(client, variant, 7)

    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})

    assert Cart.objects.get(user=user).lines.get().quantity == 10
