import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.accounts.factories import StaffFactory
from tests.catalog.factories import (
    AttributeFactory,
    AttributeValueFactory,
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    VariantFactory,
)
from tests.orders.factories import stocked_variant

pytestmark = pytest.mark.django_db


def page(client, product, **params):
    response = client.get(product.get_absolute_url(), params)
    assert response.status_code == 200
    return response.content.decode()


def json_ld(html):
    markup = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return json.loads(markup.group(1))


@pytest.fixture
def lamp():
    house = CategoryFactory(name="House", slug="house")
    lighting = CategoryFactory(name="Lighting", slug="lighting", parent=house)
    return ProductFactory(
        title="Desk lamp",
        slug="desk-lamp",
        category=lighting,
        description="A <b>bright</b> lamp for late nights. " * 10,
    )


def test_the_page_shows_price_with_the_struck_through_compare_at_price(client, lamp):
    VariantFactory(product=lamp, price=Decimal("39.00"), compare_at_price=Decimal("49.00"))

    html = page(client, lamp)

    assert '<span class="price-now on-sale">39.00 EUR</span>' in html
    assert re.search(r'<s class="price-was">.*49.00 EUR</s>', html)


def test_the_variant_picker_offers_what_can_be_bought(client, lamp):
    colour = AttributeFactory()
    white = AttributeValueFactory(attribute=colour, value="White")
    black = AttributeValueFactory(attribute=colour, value="Black")
    in_stock = stocked_variant(product=lamp, units=3, price=Decimal("39.00"))
    in_stock.options.set([white])
    sold_out = VariantFactory(product=lamp, price=Decimal("42.00"))
    sold_out.options.set([black])

    html = page(client, lamp)

    assert re.search(
        rf'value="{in_stock.pk}" required checked>\s*<span class="variant-label">White', html
    )
    assert re.search(
        rf'value="{sold_out.pk}" required disabled>\s*<span class="variant-label">Black', html
    )
    assert "Only 3 left" in html
    assert "from</span>" in html


def test_availability_comes_from_the_variants_stock(
    client, lamp, django_capture_on_commit_callbacks
):
    VariantFactory(product=lamp)
    assert "Sold out" in page(client, lamp)

    with django_capture_on_commit_callbacks(execute=True):
        stocked_variant(product=lamp, units=20)
    html = page(client, lamp)
    assert '<p class="availability in-stock">In stock</p>' in html


def test_the_add_to_cart_form_puts_the_variant_in_the_cart(client, lamp):
    variant = stocked_variant(product=lamp, units=5)
    html = page(client, lamp)
    form = re.search(r'<form class="add-to-cart" method="post" action="([^"]+)">', html)

    assert form.group(1) == reverse("orders:cart_add")
    response = client.post(form.group(1), {"variant": variant.pk, "quantity": 2}, follow=True)
    assert response.status_code == 200
    assert client.get(reverse("orders:cart")).context["cart"].rows[0].line.quantity == 2


def test_breadcrumbs_canonical_url_and_meta_description(client, lamp):
    html = page(client, lamp, utm_source="newsletter")

    crumbs = re.search(r'<nav class="breadcrumbs".*?</nav>', html, re.S).group(0)
    assert [*re.findall(r'<a href="[^"]*">([^<]+)</a>', crumbs)] == ["Home", "House", "Lighting"]
    assert '<link rel="canonical" href="http://testserver/products/desk-lamp/">' in html
    description = re.search(r'<meta name="description" content="([^"]*)">', html).group(1)
    assert description.startswith("A bright lamp for late nights.")
    assert len(description) <= 160


def test_json_ld_describes_the_product_offers_and_rating(client, lamp):
    ProductImageFactory(product=lamp)
    stocked_variant(product=lamp, units=2, price=Decimal("39.00"), sku="LAMP-W")
    VariantFactory(product=lamp, price=Decimal("45.00"), sku="LAMP-B")
    lamp.refresh_from_db()
    type(lamp).objects.filter(pk=lamp.pk).update(rating_average=Decimal("4.50"), rating_count=2)

    data = json_ld(page(client, lamp))

    assert data["@type"] == "Product"
    assert data["name"] == "Desk lamp"
    assert data["url"] == "http://testserver/products/desk-lamp/"
    assert data["image"][0].startswith("http://testserver/media/products/")
    assert data["offers"]["@type"] == "AggregateOffer"
    assert (data["offers"]["lowPrice"], data["offers"]["highPrice"]) == ("39.00", "45.00")
    assert data["offers"]["availability"] == "https://schema.org/InStock"
    assert {offer["sku"] for offer in data["offers"]["offers"]} == {"LAMP-W", "LAMP-B"}
    assert data["aggregateRating"]["ratingValue"] == "4.50"


def test_json_ld_cannot_close_its_script_element(client):
    product = ProductFactory(title="</script><script>alert(1)</script>")

    html = page(client, product)

    assert "<script>alert(1)" not in html
    assert json_ld(html)["name"] == "</script><script>alert(1)</script>"


def test_a_gallery_shows_every_image_in_order(client, lamp):
    second = ProductImageFactory(product=lamp, position=2, alt="Side view")
    first = ProductImageFactory(product=lamp, position=1, alt="Front view")

    html = page(client, lamp)

    assert html.index(first.image.url) < html.index(second.image.url)
    assert 'href="#image-2"' in html


def test_inactive_or_unknown_products_are_404_for_shoppers_but_staff_can_preview(client, lamp):
    lamp.is_active = False
    lamp.save()

    assert client.get(lamp.get_absolute_url()).status_code == 404
    assert client.get("/products/no-such-product/").status_code == 404
    assert "We couldn't find that page" in client.get("/products/nope/").content.decode()

    client.force_login(StaffFactory())
    html = page(client, lamp)
    assert "only staff can see this page" in html
    assert '<meta name="robots" content="noindex">' in html


def test_a_product_without_variants_cannot_be_ordered(client, lamp):
    html = page(client, lamp)

    assert "can't be ordered at the moment" in html
    assert "add-to-cart" not in html


def make_product(variants, images):
    product = ProductFactory()
    colour = AttributeFactory()
    for variant in VariantFactory.create_batch(variants, product=product):
        variant.options.set(AttributeValueFactory.create_batch(2, attribute=colour))
    ProductImageFactory.create_batch(images, product=product)
    product.attributes.set(AttributeValueFactory.create_batch(3, attribute=colour))
    return product


@pytest.mark.parametrize("size", [1, 10])
def test_the_product_page_runs_the_same_queries_for_1_and_10_variants_and_images(
    client, size, django_assert_max_num_queries
):
    product = make_product(variants=size, images=size)

    with django_assert_max_num_queries(8):
        html = page(client, product)

    assert html.count('name="variant"') == size
    assert html.count('class="gallery-slide"') == size
