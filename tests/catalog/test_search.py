import pytest
from django.urls import reverse

from tests.catalog.factories import ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

LISTING = reverse("catalog:product_list")


def search(client, text, **params):
    response = client.get(LISTING, {"q": text, **params})
    assert response.status_code == 200
    return [product.title for product in response.context["listing"].page.object_list]


def test_a_title_match_ranks_above_a_description_match(client):
    ProductFactory(title="Phone case", description="Fits every lantern-shaped phone.")
    ProductFactory(title="Camping lantern", description="Bright and light.")
    ProductFactory(title="Tent", description="Sleeps two.")

    assert search(client, "lantern") == ["Camping lantern", "Phone case"]


def test_every_word_must_match(client):
    ProductFactory(title="Red wool scarf")
    ProductFactory(title="Red cotton shirt")

    assert search(client, "red wool") == ["Red wool scarf"]


def test_an_exact_sku_finds_its_product(client):
    VariantFactory(sku="TEE-RED-M", product=ProductFactory(title="Plain tee"))
    ProductFactory(title="Something else")

    assert search(client, "tee-red-m") == ["Plain tee"]
    assert search(client, "TEE-RED-M") == ["Plain tee"]


def test_the_search_box_sends_shoppers_to_the_listing(client):
    html = client.get(reverse("catalog:home")).content.decode()

    assert f'action="{LISTING}"' in html


def test_nothing_found_says_so(client):
    ProductFactory(title="Kettle")

    response = client.get(LISTING, {"q": "zeppelin"})

    assert "Nothing matches “zeppelin”" in response.content.decode()


@pytest.mark.postgres
def test_a_typo_still_finds_the_product(client):
    ProductFactory(title="Apple iPhone 15 Pro", description="A phone.")
    ProductFactory(title="Phone case for Samsung", description="Protects.")

    assert search(client, "iphnoe") == ["Apple iPhone 15 Pro"]


@pytest.mark.postgres
def test_words_match_as_prefixes_while_the_shopper_types(client):
    ProductFactory(title="Waterproof hiking boots")
    ProductFactory(title="Sandals")

    assert search(client, "waterpr hik") == ["Waterproof hiking boots"]


@pytest.mark.postgres
def test_plural_and_singular_find_each_other(client):
    ProductFactory(title="Wool socks")

    assert search(client, "sock") == ["Wool socks"]
    assert search(client, "wool socks") == ["Wool socks"]


@pytest.mark.postgres
def test_search_sees_titles_written_by_bulk_updates(client):
    """The search vector is kept by a database trigger, so queryset updates are found too."""
    product = ProductFactory(title="Old name")
    type(product).objects.filter(pk=product.pk).update(title="Espresso machine")

    assert search(client, "espresso") == ["Espresso machine"]
    assert search(client, "old name") == []


def test_search_and_filters_combine(client):
    cheap = ProductFactory(title="Desk lamp", min_price="15.00")
    ProductFactory(title="Floor lamp", min_price="150.00")

    assert search(client, "lamp", price_max="20") == [cheap.title]


def test_a_very_long_query_answers_quickly_and_plainly(client):
    ProductFactory(title="Kettle")

    assert search(client, "kettle " * 300) == ["Kettle"]
