import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connections
from playwright.sync_api import expect

from orders.models import Order
from payments.models import Payment
from tests.accounts.factories import PASSWORD, StaffFactory
from tests.orders.factories import stocked_variant
from tests.shipping.factories import ShippingMethodFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BANK_ACCOUNT = "Shop GmbH · IBAN DE89 3704 0044 0532 0130 00"


@pytest.fixture(autouse=True)
def _close_the_tests_own_connection(page):
    """Close the connection the test's ORM calls opened while Playwright ran.

    Those calls run in Playwright's context and get a connection of their own, which would
    otherwise stay open and keep the test database from being dropped.
    """
    yield
    connections.close_all()


@pytest.fixture
def staff_page(browser, live_server):
    """A second browser, for the member of staff who reads the bank statement."""
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def payments_clerk():
    staff = StaffFactory(email="clerk@example.com")
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="payments", codename__in=["view_payment", "change_payment"]
        )
    )
    return staff


def test_shopper_pays_by_bank_transfer_and_sees_it_paid_once_staff_mark_it_received(
    page, staff_page, settings
):
    settings.SHOP_BANK_ACCOUNT = BANK_ACCOUNT
    stocked_variant(
        units=5, price=Decimal("24.50"), product__title="Linen shirt", product__slug="linen-shirt"
    )
    ShippingMethodFactory(name="Standard", price=Decimal("4.90"))
    clerk = payments_clerk()

    page.goto("/products/linen-shirt/")
    page.get_by_role("button", name=re.compile("add to cart", re.IGNORECASE)).click()
    expect(page.locator(".cart-count")).to_have_text("1")
    page.locator(".cart-link").click()
    page.get_by_role("link", name="Check out").click()
    page.get_by_label("Email").fill("mei@example.com")
    page.get_by_label("Full name").fill("Mei Chen")
    page.get_by_label(re.compile("^Address:?$")).fill("Unter den Linden 1")
    page.get_by_label("Postal code").fill("10117")
    page.get_by_label("City").fill("Berlin")
    page.get_by_label("Country").select_option("DE")
    page.get_by_label("Bank transfer").check()
    page.get_by_role("button", name="Review your order").click()
    page.get_by_role("button", name="Place order").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your order")
    order = Order.objects.get()
    instructions = page.get_by_role("region", name="How to pay by bank transfer")
    expect(instructions).to_contain_text("29.40 EUR")
    expect(instructions.locator(".bank-account")).to_have_text(BANK_ACCOUNT)
    expect(instructions).to_contain_text(f"Use {order.number} as the payment reference")
    page.get_by_role("link", name="View your order").click()
    expect(page.locator(".order-meta")).to_contain_text("Awaiting payment")
    expect(page.get_by_role("region", name="How to pay by bank transfer")).to_be_visible()

    staff_page.goto("/admin/")
    staff_page.get_by_label("Email").fill(clerk.email)
    staff_page.get_by_label("Password").fill(PASSWORD)
    staff_page.get_by_role("button", name="Sign In").click()
    staff_page.get_by_role("rowheader", name="Payments", exact=True).get_by_role("link").click()
    search = staff_page.get_by_role("search").get_by_role("textbox", name="Search")
    search.fill(order.number)
    search.press("Enter")
    row = staff_page.get_by_role("row").filter(has_text=order.number)
    expect(row).to_contain_text("Bank transfer")
    row.get_by_role("checkbox").check()
    staff_page.get_by_role("combobox", name="Action").select_option(
        label="Mark bank transfer received"
    )
    staff_page.get_by_role("button", name="Go").click()
    expect(staff_page.locator(".messagelist")).to_contain_text("1 transfer marked received.")

    page.reload()
    expect(page.locator(".order-meta")).to_contain_text("Paid")
    expect(page.get_by_role("region", name="How to pay by bank transfer")).to_have_count(0)
    expect(page.locator(".timeline")).to_contain_text("Bank transfer received")
    order.refresh_from_db()
    payment = order.payments.get()
    assert order.status == Order.Status.PAID
    assert (payment.status, payment.provider_reference) == (Payment.Status.SUCCEEDED, order.number)
