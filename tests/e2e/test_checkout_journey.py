import re
from decimal import Decimal

import pytest
from django.db import connections
from playwright.sync_api import expect

from orders.models import Order
from tests.orders.factories import stocked_variant
from tests.shipping.factories import ShippingMethodFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _close_the_tests_own_connection(page):
    """Close the connection the test's ORM calls opened while Playwright ran.

    Those calls run in Playwright's context and get a connection of their own, which would
    otherwise stay open and keep the test database from being dropped.
    """
    yield
    connections.close_all()


def test_guest_finds_a_product_and_pays_cash_on_delivery(page):
    variant = stocked_variant(
        units=5,
        price=Decimal("24.50"),
        product__title="Linen shirt",
        product__slug="linen-shirt",
    )
    ShippingMethodFactory(name="Standard", price=Decimal("4.90"))

    page.goto("/")
    page.get_by_role("searchbox").fill("linen")
    page.get_by_role("searchbox").press("Enter")
    page.get_by_role("link", name="Linen shirt").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Linen shirt")
    page.get_by_role("button", name=re.compile("add to cart", re.IGNORECASE)).click()

    expect(page.get_by_role("status")).to_contain_text("“Linen shirt” is in your cart.")
    expect(page.locator(".cart-count")).to_have_text("1")
    page.locator(".cart-link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")
    page.get_by_role("link", name="Check out").click()

    page.get_by_label("Email").fill("mei@example.com")
    page.get_by_label("Full name").fill("Mei Chen")
    page.get_by_label(re.compile("^Address:?$")).fill("Unter den Linden 1")
    page.get_by_label("Postal code").fill("10117")
    page.get_by_label("City").fill("Berlin")
    page.get_by_label("Country").select_option("DE")
    page.get_by_label("Cash on delivery").check()
    page.get_by_role("button", name="Review your order").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    expect(page.locator(".totals")).to_contain_text("29.40")
    page.get_by_role("button", name="Place order").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your order")
    order = Order.objects.get()
    expect(page.locator(".order-number")).to_have_text(order.number)
    expect(page.locator(".cart-count")).to_have_text("0")
    page.get_by_role("link", name="View your order").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    expect(page.locator(".order-meta")).to_contain_text("Confirmed, pay on delivery")
    expect(page.locator(".timeline")).to_contain_text("Order placed")
    expect(page.locator(".order-lines")).to_contain_text("Linen shirt")
    assert order.status == Order.Status.CONFIRMED
    assert order.total == Decimal("29.40")
    variant.refresh_from_db()
    assert variant.stock_available == 4
