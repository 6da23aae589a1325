import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from playwright.sync_api import expect

from support.models import Ticket
from tests.accounts.factories import StaffFactory, UserFactory
from tests.orders.factories import OrderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _close_the_tests_own_connection(page):
    """Close the connection the test's ORM calls opened while Playwright ran (see checkout)."""
    yield
    connections.close_all()


def signed_in(context, user, base_url):
    """Give the browser context a session of `user`, as if they had signed in."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])


def test_shopper_asks_about_an_order_staff_answer_and_the_shopper_replies(
    page, browser, live_server
):
    shopper = UserFactory()
    order = OrderFactory(user=shopper, email=shopper.email, status="confirmed")
    signed_in(page.context, shopper, live_server.url)

    page.goto(order.get_absolute_url())
    page.get_by_role("link", name="Get help with this order").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Contact us")
    page.get_by_label("Subject").fill("Can I change the address?")
    page.get_by_label("Your message").fill("I moved last week.")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Can I change the address?")
    ticket = Ticket.objects.get()
    assert ticket.order == order

    staff_context = browser.new_context(base_url=live_server.url, locale="en-US")
    staff_page = staff_context.new_page()
    staff_page.set_default_timeout(15_000)
    signed_in(staff_context, StaffFactory(is_superuser=True), live_server.url)
    staff_page.goto("/admin/support/ticket/?queue=unassigned")
    staff_page.get_by_role("link", name="Open the conversation").click()
    expect(staff_page.locator(".thread")).to_contain_text("I moved last week.")
    staff_page.get_by_label("Message").fill("Yes: send us the new address here.")
    staff_page.get_by_role("button", name="Send").click()
    expect(staff_page.locator(".ticket-status")).to_have_text("Waiting for customer")
    staff_context.close()

    page.reload()
    expect(page.locator(".thread")).to_contain_text("Yes: send us the new address here.")
    page.get_by_label("Your reply").fill("Hauptstraße 5, 10117 Berlin")
    page.get_by_role("button", name="Send reply").click()

    expect(page.locator(".thread")).to_contain_text("Hauptstraße 5, 10117 Berlin")
    expect(page.locator(".ticket-status")).to_have_text("Waiting for staff")
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None
    assert ticket.messages.count() == 3
