"""Where a form sends the shopper back to: only a path on this site, never a URL name."""

import pytest
from django.urls import reverse

from orders.models import CartLine
from tests.orders.factories import stocked_variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def variant():
    return stocked_variant(units=5)


def add(client, variant, next_value):
    return client.post(
        reverse("orders:cart_add"), {"variant": variant.pk, "quantity": 1, "next": next_value}
    )


def test_adding_to_the_cart_returns_to_the_page_it_was_added_from(client, variant):
    page = f"{variant.product.get_absolute_url()}?colour=red"
    response = add(client, variant, page)
    assert response.status_code == 302 and response.url == page


@pytest.mark.parametrize(
    "next_value",
    [
        "-5",
        "abc",
        "' OR '1'='1",
        "orders:cart",
        "admin:index",
        "//evil.example/",
        "https://evil.example/",
        "javascript:alert(1)",
        "\\\\evil.example",
        "",
    ],
)
def test_a_made_up_next_goes_to_the_cart(client, variant, next_value):
    response = add(client, variant, next_value)
    assert response.status_code == 302 and response.url == reverse("orders:cart")
    assert CartLine.objects.get().quantity == 1
