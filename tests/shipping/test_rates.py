"""Shipping zones and rate rules, and checkout offering and accepting only what fits."""

from decimal import Decimal

import pytest
from django.urls import reverse

from orders import services as order_services
from orders.models import Order
from shipping.models import ShippingMethod
from shipping.services import shipping_options, shipping_price
from tests.orders.factories import CartFactory, CartLineFactory, place, stocked_variant

from .factories import ShippingMethodFactory, ShippingZoneFactory, WeightBandFactory

pytestmark = pytest.mark.django_db

WEIGHT = ShippingMethod.Rate.WEIGHT


@pytest.fixture
def parcel_post():
    """Up to 1 kg 4.00, up to 5 kg 7.50, up to 20 kg 15.00; nothing heavier."""
    method = ShippingMethodFactory(name="Parcel post", rate=WEIGHT, price=Decimal("0.00"))
    for grams, price in ((1000, "4.00"), (5000, "7.50"), (20000, "15.00")):
        WeightBandFactory(method=method, up_to_grams=grams, price=Decimal(price))
    return method


def test_a_flat_rate_ignores_the_weight():
    flat = ShippingMethodFactory(price=Decimal("4.90"))
    for grams in (0, 900, 30000):
        assert shipping_price(method=flat, subtotal=Decimal("10"), weight_grams=grams) == Decimal(
            "4.90"
        )


@pytest.mark.parametrize(
    ("grams", "price"),
    [(0, "4.00"), (1000, "4.00"), (1001, "7.50"), (5000, "7.50"), (19999, "15.00")],
)
def test_weight_bands_charge_the_lightest_band_the_parcel_fits(parcel_post, grams, price):
    assert shipping_price(
        method=parcel_post, subtotal=Decimal("10"), weight_grams=grams
    ) == Decimal(price)


def test_free_over_beats_the_weight_band(parcel_post):
    parcel_post.free_over = Decimal("60.00")
    parcel_post.save()
    assert shipping_price(
        method=parcel_post, subtotal=Decimal("60.00"), weight_grams=4000
    ) == Decimal("0.00")
    assert shipping_price(
        method=parcel_post, subtotal=Decimal("59.99"), weight_grams=4000
    ) == Decimal("7.50")


def test_a_parcel_heavier_than_every_band_gets_no_such_option(parcel_post):
    assert shipping_options(subtotal=Decimal("10"), weight_grams=20000) != []
    assert shipping_options(subtotal=Decimal("10"), weight_grams=20001) == []


def test_a_flat_method_with_a_weight_limit_is_hidden_for_heavier_parcels():
    letter = ShippingMethodFactory(name="Letter", max_weight_grams=500)
    assert [o.method for o in shipping_options(subtotal=Decimal("5"), weight_grams=500)] == [letter]
    assert shipping_options(subtotal=Decimal("5"), weight_grams=501) == []


def test_methods_not_serving_the_country_are_hidden():
    europe = ShippingZoneFactory(name="Europe", countries=["DE", "FR", "NL"])
    china = ShippingZoneFactory(name="China", countries=["CN"])
    eu_post = ShippingMethodFactory(name="EU post", zone=europe, position=1)
    sf = ShippingMethodFactory(name="SF Express", zone=china, position=2)
    pickup = ShippingMethodFactory(name="Anywhere courier", zone=None, position=3)

    def offered(country):
        return [o.method for o in shipping_options(subtotal=Decimal("10"), country=country)]

    assert offered("DE") == [eu_post, pickup]
    assert offered("CN") == [sf, pickup]
    assert offered("US") == [pickup]


def test_the_checkout_page_offers_only_what_fits_a_saved_address(client):
    china = ShippingZoneFactory(name="China", countries=["CN"])
    ShippingMethodFactory(name="SF Express", zone=china)
    ShippingMethodFactory(name="Standard")
    variant = stocked_variant(units=5, price=Decimal("10.00"))
    client.post(reverse("orders:cart_add"), {"variant": variant.pk, "quantity": 1})
    session = client.session
    session["checkout"] = {
        "email": "mei@example.com",
        "saved_address_id": None,
        "address": {"country": "DE"},
        "shipping_method_id": 0,
        "payment_method": "cash_on_delivery",
        "voucher_code": "",
    }
    session.save()

    response = client.get(reverse("orders:checkout"))

    choices = [
        label for _value, label in response.context["form"].fields["shipping_method"].choices
    ]
    assert len(choices) == 1 and choices[0].startswith("Standard")


def _checkout(client, method, **overrides):
    variant = stocked_variant(units=5, price=Decimal("10.00"), weight_grams=2000)
    client.post(reverse("orders:cart_add"), {"variant": variant.pk, "quantity": 1})
    details = {
        "email": "mei@example.com",
        "full_name": "Mei Chen",
        "line1": "Unter den Linden 1",
        "postal_code": "10117",
        "city": "Berlin",
        "country": "DE",
        "shipping_method": method.pk,
        "payment_method": "cash_on_delivery",
        **overrides,
    }
    return client.post(reverse("orders:checkout"), details)


def test_a_method_for_another_country_is_refused_at_checkout_with_a_reason(client):
    china = ShippingZoneFactory(name="China", countries=["CN"])
    sf = ShippingMethodFactory(name="SF Express", zone=china)

    response = _checkout(client, sf)

    assert response.status_code == 400
    assert "“SF Express” does not deliver to Germany" in response.content.decode()


def test_a_made_up_method_id_is_refused_at_checkout(client):
    ShippingMethodFactory(name="Standard")

    response = _checkout(client, ShippingMethod(pk=987654))

    assert response.status_code == 400
    assert "This shipping method can&#x27;t deliver this order." in response.content.decode()


def test_the_checkout_total_uses_the_weight_band(client, parcel_post):
    response = _checkout(client, parcel_post)
    assert response.status_code == 302

    review = client.get(reverse("orders:checkout_review"))

    assert review.context["quote"].shipping == Decimal("7.50")


def test_place_order_refuses_a_tampered_method_and_writes_nothing():
    china = ShippingZoneFactory(name="China", countries=["CN"])
    sf = ShippingMethodFactory(name="SF Express", zone=china)
    cart = CartFactory()
    CartLineFactory(cart=cart, variant=stocked_variant(units=3, price=Decimal("10.00")))

    with pytest.raises(order_services.CheckoutError, match="does not deliver to Germany"):
        place(cart, shipping_method=sf)

    assert not Order.objects.exists()
    assert cart.lines.count() == 1


def test_place_order_refuses_a_parcel_too_heavy_for_the_method(parcel_post):
    cart = CartFactory()
    heavy = stocked_variant(units=3, price=Decimal("10.00"), weight_grams=15000)
    CartLineFactory(cart=cart, variant=heavy, quantity=2)

    with pytest.raises(order_services.CheckoutError, match="too heavy"):
        place(cart, shipping_method=parcel_post)


def test_a_placed_order_pays_the_weight_band_price(parcel_post):
    cart = CartFactory()
    variant = stocked_variant(units=3, price=Decimal("10.00"), weight_grams=600)
    CartLineFactory(cart=cart, variant=variant, quantity=2)

    order = place(cart, shipping_method=parcel_post)

    assert order.shipping_total == Decimal("7.50")
    assert order.total == Decimal("27.50")
