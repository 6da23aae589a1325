import re
from decimal import Decimal

import pytest
from django.db import connections
from playwright.sync_api import expect

from catalog.models import Variant
from tests.orders.factories import stocked_variant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _close_the_tests_own_connection(page):
    """Close the connection the test's ORM calls opened while Playwright ran."""
    yield
    connections.close_all()


def test_a_guest_adds_to_cart_from_a_page_another_guest_had_cached(browser, live_server, page):
    variant = stocked_variant(
        units=5, price=Decimal("12.00"), product__title="Tin mug", product__slug="tin-mug"
    )
    first = browser.new_context(base_url=live_server.url, locale="en-US").new_page()
    first.goto("/products/tin-mug/")
    expect(first.locator(".price-now")).to_contain_text("12.00")
    first.context.close()
    # Behind the cache's back: a page drawn fresh would show this price, the cached one can't.
    Variant.objects.filter(pk=variant.pk).update(price=Decimal("99.00"))

    page.goto("/products/tin-mug/")
    expect(page.locator(".price-now")).to_contain_text("12.00")
    page.get_by_role("button", name=re.compile("add to cart", re.IGNORECASE)).click()

    expect(page.get_by_role("status")).to_contain_text("“Tin mug” is in your cart.")
    expect(page.locator(".cart-count")).to_have_text("1")
