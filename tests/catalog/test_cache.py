from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.services import set_products_active
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory
from tests.orders.factories import stocked_variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def mug():
    product = ProductFactory(title="Mug", slug="mug", category=CategoryFactory(slug="kitchen"))
    return VariantFactory(product=product, price=Decimal("8.00"))


def urls(product):
    return [
        reverse("catalog:home"),
        reverse("catalog:product_list"),
        product.category.get_absolute_url(),
        product.get_absolute_url(),
    ]


def test_guests_get_cached_pages_without_catalog_queries(client, mug, django_assert_num_queries):
    for url in urls(mug.product):
        client.get(url)

    for url in urls(mug.product):
        with django_assert_num_queries(0):
            assert client.get(url).status_code == 200


def test_a_price_change_shows_on_every_cached_page(client, mug, django_capture_on_commit_callbacks):
    for url in urls(mug.product):
        assert "8.00 EUR" in client.get(url).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        mug.price = Decimal("9.50")
        mug.save()

    for url in urls(mug.product):
        html = client.get(url).content.decode()
        assert "9.50 EUR" in html, url
        assert "8.00 EUR" not in html, url


def test_stock_arriving_shows_on_cached_pages(client, django_capture_on_commit_callbacks):
    product = ProductFactory(title="Teapot", slug="teapot")
    VariantFactory(product=product)
    assert "availability sold-out" in client.get(product.get_absolute_url()).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        stocked_variant(product=product, units=4)

    html = client.get(product.get_absolute_url()).content.decode()
    assert "availability in-stock" in html


def test_a_hidden_product_leaves_cached_listings(client, mug, django_capture_on_commit_callbacks):
    assert "Mug" in client.get(reverse("catalog:product_list")).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        set_products_active(product_ids=[mug.product_id], active=False)

    assert "Mug" not in client.get(reverse("catalog:product_list")).content.decode()
    assert client.get(mug.product.get_absolute_url()).status_code == 404


def test_the_cached_page_still_carries_a_fresh_csrf_token(client, mug):
    """Guests share the cached catalog data, never another guest's form token."""
    client.get(mug.product.get_absolute_url())
    other = type(client)()

    response = other.get(mug.product.get_absolute_url())

    assert response.cookies["csrftoken"].value
