"""Hostile input to every shopper-facing form and URL parameter never answers 500.

Each request carries one hostile value in one place (a path segment, a query parameter or a
form field; the others keep values that would pass) and must answer below 500; when it is
refused with a 4xx, no row of the tables a shopper can write to may have changed. Values go
over the wire as a browser or attacker would send them: percent-encoded UTF-8, with lone
surrogates encoded as the bytes a broken client sends.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote, urlencode

import pytest
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Address
from catalog.models import Review
from orders.models import Cart, CartLine, Order, OrderLine
from shipping.models import StockMovement
from support.models import Message, Ticket
from tests.accounts.factories import AddressFactory, UserFactory
from tests.orders.factories import CartLineFactory, place, stocked_variant
from tests.shipping.factories import ShippingMethodFactory
from tests.support.factories import HelpArticleFactory, TicketFactory, delivered_order

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

WRITABLE = [Order, OrderLine, CartLine, Ticket, Message, Review, Address, StockMovement]

# The NUL goes to every place of every endpoint; each classic to every endpoint.
NUL = "A-\x00-1"
CLASSICS = [
    "\x00",
    "x\udfffy",
    "ж" + "x" * 100_000,
    "\u202eevil\u202c \u05e2\u05d1\u05e8\u05d9\u05ea \u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "🛒🧨👩‍👩‍👧\ufe0f",
    "-" + "9" * 400,
    "NaN",
    "1e309",
]
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
HOSTILE = st.one_of(
    st.sampled_from(CLASSICS),
    st.text(max_size=60),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=8), SURROGATES, st.text(max_size=8)),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
PATH = "path"


@dataclass(frozen=True)
class Endpoint:
    """One form or page: its URL (with `{}` where a path segment goes) and fields that pass."""

    method: str
    url: str
    segment: str = ""
    fields: dict = field(default_factory=dict)
    guest: bool = False

    @property
    def slots(self):
        return ([PATH] if self.segment else []) + list(self.fields)


def encoded(text):
    return quote(text, safe="", errors="surrogatepass")


def form(fields):
    return urlencode(fields, errors="surrogatepass")


def rows():
    """Row counts of every table a shopper can write to, in one query."""
    tables = [connection.ops.quote_name(model._meta.db_table) for model in WRITABLE]
    counts = ", ".join(f"(SELECT count(*) FROM {table})" for table in tables)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        return cursor.fetchone()


def send(client, endpoint, slot, value):
    segment = value if slot == PATH else endpoint.segment
    fields = {**endpoint.fields, **({slot: value} if slot != PATH else {})}
    path = endpoint.url.format(encoded(segment))
    if endpoint.method == "get":
        return client.get(f"{path}?{form(fields)}")
    return client.post(path, form(fields), content_type="application/x-www-form-urlencoded")


@pytest.fixture
def shop():
    """A shopper with orders, a cart, an address and a ticket; a guest with an order and cart."""
    method = ShippingMethodFactory(price=Decimal("4.90"))
    shopper = UserFactory()
    delivered = delivered_order(user=shopper)
    variant = delivered.lines.get().variant
    stocked_variant(product=variant.product, units=50, name="Large", warehouse_code="extra")
    cart = Cart.objects.get(user=shopper)
    CartLineFactory(cart=cart, variant=variant)
    pending = place(cart, shipping_method=method, email=shopper.email, user=shopper)
    guest_order = place(CartLineFactory(variant=variant).cart, shipping_method=method)
    line = CartLineFactory(cart=cart, variant=variant)
    HelpArticleFactory(question="How do returns work?")
    return {
        "method": method,
        "shopper": shopper,
        "variant": variant,
        "delivered": delivered,
        "pending": pending,
        "guest_order": guest_order,
        "line": line,
        "address": AddressFactory(user=shopper),
        "ticket": TicketFactory(user=shopper, order=delivered),
    }


def endpoints(shop):
    variant, guest_order, pending = shop["variant"], shop["guest_order"], shop["pending"]
    product, key = variant.product, guest_order.access_key
    address = {
        "full_name": "Mei Chen",
        "line1": "Unter den Linden 1",
        "line2": "",
        "city": "Berlin",
        "postal_code": "10117",
        "country": "DE",
        "phone": "+49 30 1234",
    }
    ticket = {"category": "order", "subject": "Where is it?", "body": "It has not come."}
    returnable = {f"line_{line.pk}": "1" for line in shop["delivered"].lines.all()}
    return [
        # catalog
        Endpoint(
            "get",
            "/products/",
            fields={
                "q": "shirt",
                "sort": "price",
                "page": "1",
                "per_page": "24",
                "price_min": "1",
                "price_max": "100",
                "in_stock": "on",
                "brand": product.brand.slug,
                "colour": "red",
            },
            guest=True,
        ),
        Endpoint(
            "get",
            "/categories/{}/",
            product.category.slug,
            {"page": "1", "sort": "new"},
            guest=True,
        ),
        Endpoint("get", "/products/{}/", product.slug, {"variant": str(variant.pk)}, guest=True),
        Endpoint(
            "post",
            "/products/{}/review/",
            product.slug,
            {"rating": "5", "title": "Good", "body": "Fits well."},
        ),
        # cart, checkout and orders
        Endpoint(
            "post",
            "/cart/add/",
            fields={"variant": str(variant.pk), "quantity": "1", "next": "/cart/"},
            guest=True,
        ),
        Endpoint("post", "/cart/lines/{}/", str(shop["line"].pk), {"quantity": "2"}),
        Endpoint("post", "/cart/lines/{}/remove/", str(shop["line"].pk)),
        Endpoint(
            "post",
            "/checkout/",
            fields={
                "email": "guest@example.com",
                **address,
                "shipping_method": str(shop["method"].pk),
                "payment_method": "cash_on_delivery",
                "voucher_code": "",
            },
            guest=True,
        ),
        Endpoint("post", "/checkout/review/", fields={"checkout_token": "x"}, guest=True),
        Endpoint("get", "/orders/{}/", guest_order.number, {"key": key}, guest=True),
        Endpoint("get", "/orders/{}/thanks/", guest_order.number, {"key": key}, guest=True),
        Endpoint("post", "/orders/{}/cancel/", pending.number, {"key": ""}),
        # payments
        Endpoint("get", "/payments/orders/{}/pay/", guest_order.number, {"key": key}, guest=True),
        Endpoint(
            "get",
            "/payments/orders/{}/pay/done/",
            guest_order.number,
            {"key": key, "payment_intent": "pi_123"},
            guest=True,
        ),
        # support and tracking
        Endpoint("get", "/support/help/", fields={"q": "returns"}, guest=True),
        Endpoint("get", "/support/tickets/new/", fields={"order": pending.number, "key": ""}),
        Endpoint(
            "post",
            "/support/tickets/new/",
            fields={**ticket, "order": pending.number, "order_link": ""},
        ),
        Endpoint(
            "post",
            "/support/tickets/new/",
            fields={
                **ticket,
                "order_link": guest_order.number,
                "key": key,
                "order_number": guest_order.number,
                "email": guest_order.email,
            },
            guest=True,
        ),
        Endpoint("post", "/support/tickets/{}/", shop["ticket"].number, {"body": "Thanks"}),
        Endpoint(
            "post",
            "/support/returns/{}/",
            shop["delivered"].number,
            {"reason": "Too small", "pay_back_to": "DE89 3704", **returnable},
        ),
        Endpoint(
            "get",
            "/track/",
            fields={"number": guest_order.number, "email": guest_order.email},
            guest=True,
        ),
        # accounts and language
        Endpoint(
            "post",
            "/accounts/signup/",
            fields={"email": "new@example.com", "password1": "x7-Hp!qz", "password2": "x7-Hp!qz"},
            guest=True,
        ),
        Endpoint(
            "post",
            "/accounts/login/",
            fields={"login": "nobody@example.com", "password": "wrong"},
            guest=True,
        ),
        Endpoint(
            "post", "/accounts/password/reset/", fields={"email": "a@example.com"}, guest=True
        ),
        Endpoint("post", "/account/", fields={"first_name": "Mei", "last_name": "Chen"}),
        Endpoint("post", "/account/addresses/new/", fields=address),
        Endpoint("post", "/account/addresses/{}/", str(shop["address"].pk), address),
        Endpoint("post", "/account/addresses/{}/delete/", str(shop["address"].pk)),
        Endpoint("post", "/i18n/setlang/", fields={"language": "zh-hans", "next": "/"}, guest=True),
    ]


class Sender:
    """Sends one hostile request as the endpoint's visitor and checks the answer."""

    def __init__(self, shop):
        self.endpoints = endpoints(shop)
        self.guest, self.shopper = Client(), Client()
        self.shopper.force_login(shop["shopper"])
        self.guest.post("/cart/add/", {"variant": shop["variant"].pk, "quantity": 1})
        self.statuses = {}

    def check(self, endpoint, slot, value):
        before = rows()
        response = send(self.guest if endpoint.guest else self.shopper, endpoint, slot, value)
        status = response.status_code
        self.statuses[status] = self.statuses.get(status, 0) + 1
        where = f"{endpoint.method.upper()} {endpoint.url} {slot}={value[:40]!r}"
        assert status < 500, where
        if 400 <= status < 500:
            assert rows() == before, f"{where} answered {status} but wrote"


@pytest.fixture
def sender(shop):
    return Sender(shop)


def test_every_place_gets_a_nul_and_every_endpoint_each_classic(sender):
    for endpoint in sender.endpoints:
        for slot in endpoint.slots:
            sender.check(endpoint, slot, NUL)
        for turn, value in enumerate(CLASSICS):
            sender.check(endpoint, endpoint.slots[turn % len(endpoint.slots)], value)
    slots = sum(len(endpoint.slots) for endpoint in sender.endpoints)
    assert sum(sender.statuses.values()) == slots + len(CLASSICS) * len(sender.endpoints)


def test_random_hostile_text_in_random_places(sender):
    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def fuzz(data):
        endpoint = data.draw(st.sampled_from(sender.endpoints), label="endpoint")
        slot = data.draw(st.sampled_from(endpoint.slots), label="slot")
        sender.check(endpoint, slot, data.draw(HOSTILE, label="value"))

    fuzz()
