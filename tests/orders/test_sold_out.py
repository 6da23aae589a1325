"""When the last unit goes to another shopper mid-checkout, the message says so by name."""

from decimal import Decimal

import pytest
from django.urls import reverse

from orders.models import CartLine, Order
from tests.shipping.factories import ShippingMethodFactory

from .factories import CartLineFactory, place, stocked_variant
from .test_checkout import fill_cart, guest_details, review

pytestmark = pytest.mark.django_db


@pytest.fixture
def method():
    return ShippingMethodFactory(name="Standard", price=Decimal("4.90"))


@pytest.fixture
def last_shirt():
    return stocked_variant(
        units=1, sku="SHIRT-LIN-M", name="M", product__title="Linen shirt", price=Decimal("19.00")
    )


def shown_messages(client, response):
    page = client.get(response.url)
    return [str(message) for message in page.context["messages"]]


def test_the_last_unit_bought_by_someone_else_is_named_sold_out(client, last_shirt, method):
    fill_cart(client, last_shirt, 1)
    client.post(reverse("orders:checkout"), guest_details(method))
    token = review(client)
    place(CartLineFactory(variant=last_shirt, quantity=1).cart, shipping_method=method)

    response = client.post(reverse("orders:checkout_review"), {"checkout_token": token})

    assert response.status_code == 302 and response.url == reverse("orders:cart")
    assert shown_messages(client, response) == ["Sorry, “Linen shirt – M” is sold out."]
    assert Order.objects.count() == 1
    assert CartLine.objects.get(variant=last_shirt).quantity == 1


def test_a_shortage_says_how_many_are_left_without_the_sku(client, method):
    shirt = stocked_variant(units=3, sku="SHIRT-LIN-L", name="L", product__title="Linen shirt")
    fill_cart(client, shirt, 3)
    client.post(reverse("orders:checkout"), guest_details(method))
    token = review(client)
    place(CartLineFactory(variant=shirt, quantity=2).cart, shipping_method=method)

    response = client.post(reverse("orders:checkout_review"), {"checkout_token": token})

    [message] = shown_messages(client, response)
    assert message == "Only 1 of “Linen shirt – L” left; your cart asks for 3."
    assert "SHIRT-LIN-L" not in message
