from decimal import Decimal

import pytest
from django.db import connections
from django.urls import reverse
from playwright.sync_api import expect

from orders.models import Order
from payments.models import Payment
from shipping.models import Shipment
from tests.accounts.factories import PASSWORD, StaffFactory
from tests.orders.factories import CartFactory, CartLineFactory, place, stocked_variant
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


@pytest.fixture
def staff_page(browser, live_server):
    """A second browser, for the member of staff who packs and ships the order."""
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def cash_on_delivery_order():
    cart = CartFactory()
    shirt = stocked_variant(
        units=5, price=Decimal("24.50"), sku="LINEN-M", product__title="Linen shirt"
    )
    CartLineFactory(cart=cart, variant=shirt, quantity=2)
    return place(cart, shipping_method=ShippingMethodFactory(name="Standard"))


def mark_shipment(staff_page, tracking_number, status):
    row = staff_page.get_by_role("row").filter(has_text=tracking_number)
    row.get_by_role("checkbox").check()
    staff_page.get_by_role("combobox", name="Action").select_option(label=f"Mark as “{status}”")
    staff_page.get_by_role("button", name="Go").click()
    expect(staff_page.locator(".messagelist")).to_contain_text(f"1 shipments are now “{status}”.")


def test_staff_ship_an_order_in_admin_and_the_shopper_follows_it_to_delivery(page, staff_page):
    order = cash_on_delivery_order()
    staff = StaffFactory(email="packer@example.com", is_superuser=True)
    order_url = f"{reverse('orders:order_detail', args=[order.number])}?key={order.access_key}"

    page.goto(order_url)
    expect(page.locator(".order-meta")).to_contain_text("Confirmed, pay on delivery")
    expect(page.locator(".tracking")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel this order")).to_be_visible()

    staff_page.goto("/admin/")
    staff_page.get_by_label("Email").fill(staff.email)
    staff_page.get_by_label("Password").fill(PASSWORD)
    staff_page.get_by_role("button", name="Sign In").click()
    staff_page.goto(reverse("admin:shipping_shipment_add"))
    staff_page.locator("#id_order").fill(str(order.pk))
    staff_page.locator("#id_tracking_number").fill("TRK-4711")
    staff_page.get_by_role("button", name="Save", exact=True).click()
    expect(staff_page.locator(".messagelist")).to_contain_text("was added successfully")
    expect(staff_page.get_by_role("row").filter(has_text="TRK-4711")).to_contain_text("Packed")

    page.reload()
    expect(page.locator(".tracking")).to_contain_text("Tracking number: TRK-4711")
    expect(page.locator(".tracking")).to_contain_text("2 × Linen shirt")
    expect(page.get_by_role("button", name="Cancel this order")).to_have_count(0)

    mark_shipment(staff_page, "TRK-4711", "Shipped")
    mark_shipment(staff_page, "TRK-4711", "Delivered")

    page.reload()
    expect(page.locator(".order-meta")).to_contain_text("Delivered")
    timeline = page.locator(".tracking .timeline")
    expect(timeline.locator("li")).to_have_count(3)
    expect(timeline).to_contain_text("Packed")
    expect(timeline).to_contain_text("Shipped")
    expect(timeline).to_contain_text("Delivered")
    expect(page.locator(".payments")).to_contain_text("Succeeded")
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert order.payments.get().status == Payment.Status.SUCCEEDED
    assert Shipment.objects.get(order=order).status == Shipment.Status.DELIVERED
