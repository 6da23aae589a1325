"""Pages are cached whole for guests and signed-in shoppers: no visitor sees another's parts."""

import re
from decimal import Decimal
from unittest import mock

import pytest
from django.core.cache import cache
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django.urls import reverse

from catalog import selectors
from shipping.models import Warehouse
from shipping.services import adjust_stock
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.orders.factories import OrderFactory, OrderLineFactory, stocked_variant

pytestmark = pytest.mark.django_db

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CART_COUNT = re.compile(r'class="cart-count"[^>]*>(\d+)<')


@pytest.fixture
def mug():
    product = ProductFactory(title="Mug", slug="mug", category=CategoryFactory(slug="kitchen"))
    return stocked_variant(product=product, price=Decimal("8.00"), units=3)


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<!--visitor:" not in html
    return html


def csrf_secrets(client, html):
    """The secrets behind every form token on the page, and the one in the visitor's cookie."""
    tokens = {_unmask_cipher_token(token) for token in CSRF_INPUT.findall(html)}
    return tokens, client.cookies["csrftoken"].value


def add_to_cart(client, variant, *, next_url):
    data = {"variant": variant.pk, "quantity": 2, "next": next_url}
    return client.post(reverse("orders:cart_add"), data)


def test_two_guests_never_see_each_others_cart_count_messages_or_csrf_token(mug):
    url = mug.product.get_absolute_url()
    alice, bob = Client(), Client()
    add_to_cart(alice, mug, next_url=url)

    alice_page = page(alice, url)
    bob_page = page(bob, url)

    assert CART_COUNT.search(alice_page)[1] == "2"
    assert CART_COUNT.search(bob_page)[1] == "0"
    assert "is in your cart" in alice_page
    assert "is in your cart" not in bob_page
    alice_tokens, alice_secret = csrf_secrets(alice, alice_page)
    bob_tokens, bob_secret = csrf_secrets(bob, bob_page)
    assert alice_tokens == {alice_secret}
    assert bob_tokens == {bob_secret}
    assert alice_secret != bob_secret
    assert "is in your cart" not in page(alice, url), "a message is shown once"


def test_two_signed_in_shoppers_never_see_each_others_name_cart_or_token(mug):
    url = reverse("catalog:product_list")
    alice, bob = Client(), Client()
    alice.force_login(UserFactory(first_name="Alicia", last_name="Quendel"))
    bob.force_login(UserFactory(first_name="Bartholomew", last_name="Ostrander"))
    add_to_cart(alice, mug, next_url=url)

    alice_page = page(alice, url)
    bob_page = page(bob, url)

    assert "My account" in bob_page
    assert CART_COUNT.search(alice_page)[1] == "2"
    assert CART_COUNT.search(bob_page)[1] == "0"
    assert "Quendel" not in bob_page
    assert "Ostrander" not in alice_page
    assert "is in your cart" not in bob_page
    assert csrf_secrets(bob, bob_page)[0] == {bob.cookies["csrftoken"].value}


def test_guests_and_signed_in_shoppers_get_their_own_header(mug):
    url = reverse("catalog:home")
    shopper = Client()
    shopper.force_login(UserFactory())

    assert "Sign out" in page(shopper, url)
    assert "Sign out" not in page(Client(), url)
    assert "Sign out" in page(shopper, url)


def test_a_staff_preview_of_a_hidden_product_never_reaches_guests(mug):
    product = mug.product
    type(product).objects.filter(pk=product.pk).update(is_active=False)
    staff = Client()
    staff.force_login(StaffFactory())

    preview = page(staff, product.get_absolute_url())

    assert "only staff can see this page" in preview
    assert Client().get(product.get_absolute_url()).status_code == 404
    shopper = Client()
    shopper.force_login(UserFactory())
    assert shopper.get(product.get_absolute_url()).status_code == 404


def test_a_staff_visit_leaves_no_admin_link_in_cached_pages(mug):
    staff = Client()
    staff.force_login(StaffFactory())
    for url in (reverse("catalog:home"), mug.product.get_absolute_url()):
        assert 'href="/admin/"' in page(staff, url)
        assert 'href="/admin/"' not in page(Client(), url)


def test_english_and_chinese_pages_never_mix(mug):
    url = reverse("catalog:product_list")
    english, chinese = Client(), Client(HTTP_ACCEPT_LANGUAGE="zh-hans")

    for _twice in range(2):
        english_page = page(english, url)
        chinese_page = page(chinese, url)
        assert '<html lang="en">' in english_page
        assert "All products" in english_page
        assert '<html lang="zh-hans">' in chinese_page
        assert "All products" not in chinese_page


def test_selling_out_shows_at_once_on_the_product_page_and_listings(
    client, mug, django_capture_on_commit_callbacks
):
    url, listing = mug.product.get_absolute_url(), reverse("catalog:product_list")
    assert "Only 3 left" in page(client, url)
    assert "Sold out" not in page(client, listing)

    with django_capture_on_commit_callbacks(execute=True):
        adjust_stock(variant=mug, warehouse=Warehouse.objects.get(), on_hand=0, note="Broken")

    assert "availability sold-out" in page(client, url)
    assert "Sold out" in page(client, listing)


def test_a_price_change_shows_at_once_to_signed_in_shoppers(
    client, mug, django_capture_on_commit_callbacks
):
    client.force_login(UserFactory())
    assert "8.00 EUR" in page(client, mug.product.get_absolute_url())

    with django_capture_on_commit_callbacks(execute=True):
        mug.price = Decimal("9.50")
        mug.save()

    assert "9.50 EUR" in page(client, mug.product.get_absolute_url())


def test_signed_in_shoppers_get_cached_pages_with_few_queries(
    client, mug, django_assert_max_num_queries
):
    """The user, the cart count, and on product pages the review state: never the catalog."""
    client.force_login(UserFactory())
    listing, product = reverse("catalog:product_list"), mug.product.get_absolute_url()
    page(client, listing)
    page(client, product)

    with django_assert_max_num_queries(3):
        page(client, listing)
    with django_assert_max_num_queries(4):
        page(client, product)


def test_a_buyer_and_another_shopper_each_get_their_own_review_offer(mug):
    url = mug.product.get_absolute_url()
    buyer, other = UserFactory(), UserFactory()
    OrderLineFactory(order=OrderFactory(user=buyer, email=buyer.email, status="paid"), variant=mug)
    buyer_client, other_client = Client(), Client()
    buyer_client.force_login(buyer)
    other_client.force_login(other)

    for _twice in range(2):
        assert "Write a review" in page(buyer_client, url)
        other_page = page(other_client, url)
        assert "Write a review" not in other_page
        assert "Only shoppers who bought this product can review it." in other_page


def test_a_cached_page_is_one_cache_read_and_no_query(client, mug, django_assert_num_queries):
    url = reverse("catalog:product_list")
    page(client, url)

    with (
        mock.patch.object(cache, "get_many", wraps=cache.get_many) as get_many,
        django_assert_num_queries(0),
    ):
        page(client, url)

    assert get_many.call_count == 1


def test_drawing_a_listing_reads_the_category_tree_once(client, mug):
    for _number in range(5):
        stocked_variant(product=ProductFactory(category=mug.product.category), units=1)

    with mock.patch.object(selectors, "cached", wraps=selectors.cached) as cached:
        page(client, reverse("catalog:product_list"))

    assert [call.args[0] for call in cached.call_args_list].count("tree") == 1


def test_a_request_refused_for_its_host_gets_the_shops_400_page():
    """Refused before any middleware ran, so there is no visitor: the cart link shows 0."""
    response = Client(HTTP_HOST="evil.example", raise_request_exception=False).get("/")

    assert response.status_code == 400
    assert CART_COUNT.search(response.content.decode())[1] == "0"
