"""In a real browser, the shop's pages and the admin run under the enforced policy without a
single violation, and the policy does refuse code injected inline."""

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from playwright.sync_api import expect

from tests.accounts.factories import UserFactory
from tests.orders.factories import stocked_variant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture(autouse=True)
def _close_the_tests_own_connection(page):
    """Close the connection the test's ORM calls opened while Playwright ran."""
    yield
    connections.close_all()


@pytest.fixture
def watched(page):
    """The page, with every CSP violation it reports (events and console errors) recorded."""
    console = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.console_errors = console
    return page


def violations(page):
    return page.evaluate("window.cspViolations") + page.console_errors


def visit(page, path):
    response = page.goto(path)
    assert (
        "'unsafe-inline'"
        not in re.search(r"script-src [^;]*", response.headers["content-security-policy"]).group()
    )
    page.wait_for_load_state("networkidle")


def sign_in_as_superuser(page, live_server):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def test_the_storefront_runs_without_a_policy_violation(watched):
    variant = stocked_variant(
        units=5, price=Decimal("12.00"), product__title="Tin mug", product__slug="tin-mug"
    )
    watched.set_viewport_size({"width": 400, "height": 800})

    visit(watched, "/")
    visit(watched, "/products/")
    # The listing's script ran: on a phone it folds the filters away.
    expect(watched.locator(".facets details").first).not_to_have_attribute("open", "")
    visit(watched, "/products/tin-mug/")
    watched.get_by_role("button", name=re.compile("add to cart", re.IGNORECASE)).click()
    expect(watched.locator(".cart-count")).to_have_text("1")
    visit(watched, "/cart/")
    expect(watched.get_by_text(variant.product.title).first).to_be_visible()

    assert violations(watched) == []


def test_the_admin_runs_without_a_policy_violation(watched, live_server):
    variant = stocked_variant(units=5, product__title="Tin mug")
    sign_in_as_superuser(watched, live_server)

    visit(watched, "/admin/")
    visit(watched, "/admin/orders/order/")
    visit(watched, "/admin/catalog/product/")
    visit(watched, f"/admin/catalog/product/{variant.product.pk}/change/")
    # Select2's autocomplete and the inline formsets draw their parts with script.
    watched.locator(".select2-selection").first.click()
    expect(watched.locator(".select2-dropdown")).to_be_visible()
    watched.keyboard.press("Escape")
    visit(watched, "/admin/catalog/product/add/")
    visit(watched, "/admin/sales/")

    assert violations(watched) == []


def test_code_injected_inline_is_refused_and_reported(watched):
    visit(watched, "/")

    watched.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.injected = true";
          document.body.append(script);
        }"""
    )

    watched.wait_for_function("window.cspViolations.length > 0")
    assert watched.evaluate("window.injected") is None
    assert any("script-src" in violation for violation in violations(watched))
