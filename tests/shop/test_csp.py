"""The Content-Security-Policy: enforced on every page, no inline code, no Stripe but on pay."""

from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from catalog.models import Product
from shipping import services as shipping_services
from shipping.models import PurchaseOrder, PurchaseOrderLine
from tests.accounts.factories import PASSWORD, AddressFactory, StaffFactory, UserFactory
from tests.orders.factories import CartFactory, CartLineFactory, place, stocked_variant
from tests.payments.factories import PaymentFactory
from tests.shipping.factories import ShippingMethodFactory, SupplierFactory
from tests.support.factories import TicketFactory

pytestmark = pytest.mark.django_db

# Script types a browser never runs: data blocks the policy need not allow.
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


def policy(response):
    """The enforced policy as {directive: [sources]}; a report-only header doesn't count."""
    header = response.headers.get("Content-Security-Policy", "")
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def script_sources(response):
    rules = policy(response)
    return rules.get("script-src", rules.get("default-src"))


class InlineCode(HTMLParser):
    """Collects what a strict policy refuses: inline scripts without a nonce, event handler
    attributes, javascript: URLs, style blocks and style attributes."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}={value}>")
        if "style" in attributes:
            self.found.append(f"<{tag} style=...>")
        if tag == "style":
            self.found.append("<style> block")
        inline_script = tag == "script" and "src" not in attributes
        if (
            inline_script
            and attributes.get("type") not in DATA_SCRIPT_TYPES
            and "nonce" not in attributes
        ):
            self.found.append("<script> without src or nonce")


def inline_code(response):
    parser = InlineCode()
    parser.feed(response.content.decode())
    return parser.found


@pytest.fixture
def shop():
    """A product in a category, a shopper with an address, an order and a ticket."""
    variant = stocked_variant(
        units=5, price=Decimal("12.00"), product__title="Tin mug", product__slug="tin-mug"
    )
    shopper = UserFactory()
    AddressFactory(user=shopper)
    cart = CartFactory(user=shopper)
    CartLineFactory(cart=cart, variant=variant, quantity=1)
    order = place(cart, shipping_method=ShippingMethodFactory(), user=shopper, email=shopper.email)
    ticket = TicketFactory(user=shopper, email=shopper.email)
    return {"variant": variant, "shopper": shopper, "order": order, "ticket": ticket}


def storefront_urls(shop):
    product = shop["variant"].product
    order = shop["order"]
    return [
        reverse("catalog:home"),
        reverse("catalog:product_list"),
        reverse("catalog:product_list") + "?q=mug",
        product.get_absolute_url(),
        reverse("catalog:category", args=[product.category.slug]),
        reverse("orders:cart"),
        reverse("shipping:track"),
        reverse("support:help"),
        reverse("account_login"),
        reverse("account_signup"),
        reverse("account_reset_password"),
        f"{order.get_absolute_url()}?key={order.access_key}",
        "/no-such-page/",
    ]


def sign_in(client, user):
    """Through the forms, with the password confirmed again as two-factor setup asks."""
    credentials = {"login": user.email, "password": PASSWORD}
    assert client.post(reverse("account_login"), credentials).status_code == 302
    assert client.post(reverse("account_reauthenticate"), credentials).status_code == 302


def account_urls(shop):
    return [
        reverse("accounts:profile"),
        reverse("accounts:address_list"),
        reverse("accounts:address_create"),
        reverse("orders:order_list"),
        shop["order"].get_absolute_url(),
        reverse("support:ticket_list"),
        reverse("support:ticket_new"),
        shop["ticket"].get_absolute_url(),
        reverse("account_email"),
        reverse("account_change_password"),
        reverse("mfa_index"),
        reverse("mfa_activate_totp"),
    ]


def sent_purchase_order(variant):
    draft = PurchaseOrder.objects.create(
        supplier=SupplierFactory(), warehouse=variant.stock_levels.get().warehouse
    )
    PurchaseOrderLine.objects.create(purchase_order=draft, variant=variant, quantity=5)
    return shipping_services.send_purchase_order(purchase_order=draft)


def admin_urls(shop):
    product = shop["variant"].product
    purchase_order = sent_purchase_order(shop["variant"])
    return [
        reverse("admin:index"),
        reverse("admin:orders_order_changelist"),
        reverse("admin:orders_order_change", args=[shop["order"].pk]),
        reverse("admin:catalog_product_changelist"),
        reverse("admin:catalog_product_change", args=[product.pk]),
        reverse("admin:catalog_product_add"),
        reverse("sales"),
        reverse("admin:shipping_purchaseorder_receive", args=[purchase_order.pk]),
        reverse("admin:payments_payment_refund", args=[PaymentFactory().pk]),
    ]


def assert_strict(response, url):
    rules = policy(response)
    assert rules, f"{url} has no enforced Content-Security-Policy"
    assert "'unsafe-inline'" not in script_sources(response), url
    assert "'unsafe-inline'" not in rules.get("style-src", []), url
    assert "stripe" not in response.headers["Content-Security-Policy"], url
    assert rules["object-src"] == ["'none'"] and rules["frame-ancestors"] == ["'none'"], url


def test_every_storefront_page_sends_a_strict_enforced_policy(client, shop):
    for url in storefront_urls(shop):
        assert_strict(client.get(url), url)


def test_every_account_page_sends_a_strict_enforced_policy(client, shop):
    sign_in(client, shop["shopper"])
    for url in account_urls(shop):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_strict(response, url)


def test_a_page_served_from_the_whole_page_cache_keeps_the_policy(client, shop):
    product = shop["variant"].product
    url = product.get_absolute_url()
    drawn = client.get(url)
    # Behind the cache's back: a page drawn fresh would show this title, the cached one can't.
    Product.objects.filter(pk=product.pk).update(title="Renamed mug")
    from_cache = client.get(url)

    assert "Tin mug" in from_cache.content.decode()
    assert policy(from_cache) == policy(drawn)
    assert_strict(from_cache, url)


def test_admin_pages_work_under_the_same_strict_policy(client, shop):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in admin_urls(shop):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_strict(response, url)


def test_no_page_renders_inline_script_handlers_or_styles(client, shop):
    pages = [client.get(url) for url in storefront_urls(shop)]
    sign_in(client, shop["shopper"])
    pages += [client.get(url) for url in account_urls(shop)]
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    pages += [client.get(url) for url in admin_urls(shop)]

    found = {page.wsgi_request.get_full_path(): inline_code(page) for page in pages}

    assert {url: code for url, code in found.items() if code} == {}


def test_the_packing_slip_prints_without_inline_code(client, shop):
    shipment = shipping_services.create_shipment(order=shop["order"])
    staff = StaffFactory()
    staff.user_permissions.add(Permission.objects.get(codename="view_shipment"))
    client.force_login(staff)

    slip = client.get(reverse("shipping:packing_slip", args=[shipment.pk]))

    assert slip.status_code == 200
    assert_strict(slip, "packing slip")
    assert inline_code(slip) == []
    assert b"data-print" in slip.content


def test_the_checker_finds_inline_code():
    page = type("Page", (), {"content": b""})()
    page.content = (
        b'<script>alert(1)</script><script type="application/json">{}</script>'
        b'<a href="javascript:go()">x</a><button onclick="go()">x</button>'
        b'<p style="color:red">x</p><style>p{}</style><script nonce="abc">ok()</script>'
    )

    assert inline_code(page) == [
        "<script> without src or nonce",
        "<a href=javascript:go()>",
        "<button onclick=...>",
        "<p style=...>",
        "<style> block",
    ]
