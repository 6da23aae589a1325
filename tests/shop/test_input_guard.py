"""Text PostgreSQL can't store never reaches it: a 404 or 400 with the shop's pages instead."""

import io
import json

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse, QueryDict
from django.test import override_settings
from django.urls import reverse
from PIL import Image

from orders.models import Order
from shop.middleware import InputGuardMiddleware, storable
from support.models import Attachment, Ticket
from tests.accounts.factories import StaffFactory, UserFactory
from tests.orders.factories import OrderFactory
from tests.support.factories import TicketFactory

pytestmark = pytest.mark.django_db

NOT_FOUND = "We couldn't find that page"
BAD_REQUEST = "We couldn't read that request"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/orders/%00/"),
        ("get", "/orders/%00/thanks/"),
        ("post", "/orders/%00/cancel/"),
        ("get", "/payments/orders/%00/pay/"),
        ("get", "/payments/orders/%00/pay/done/"),
        ("get", "/support/tickets/%00/"),
        ("get", "/support/returns/%00/"),
        ("post", "/support/returns/%00/"),
        ("get", "/support/desk/%00/"),
        ("post", "/support/desk/%00/"),
        ("post", "/support/desk/%00/assign/"),
        ("get", "/admin/orders/order/%00/change/"),
    ],
)
def test_a_nul_in_a_path_segment_names_nothing(client, method, path):
    client.force_login(StaffFactory(is_superuser=True))
    response = getattr(client, method)(path)
    assert response.status_code == 404
    assert NOT_FOUND in response.text


def test_a_nul_in_a_query_parameter_is_a_bad_request(client):
    order = OrderFactory()
    paths = [
        "/support/help/?q=%00",
        "/support/tickets/new/?order=%00",
        f"/payments/orders/{order.number}/pay/done/?key={order.access_key}&payment_intent=%00",
        "/products/?q=a%00b",
        "/track/?number=%00&email=a%40example.com",
        "/?%00=1",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 400, path
        assert BAD_REQUEST in response.text
        assert "\x00" not in response.text


def test_an_admin_list_filter_with_a_nul_is_a_bad_request(client):
    client.force_login(StaffFactory(is_superuser=True))
    response = client.get("/admin/orders/order/?status__exact=%00")
    assert response.status_code == 400


def test_a_nul_in_a_form_field_is_refused_and_writes_nothing(client):
    client.force_login(UserFactory())
    ticket = {"subject": "Hi", "body": "Where is it?", "category": "order"}

    refused = [
        client.post(reverse("orders:checkout_review"), {"checkout_token": "\x00"}),
        client.post(reverse("support:ticket_new"), {**ticket, "order_link": "A\x00"}),
        client.post(reverse("support:ticket_new"), {**ticket, "body": "\x00"}),
    ]

    assert [response.status_code for response in refused] == [400, 400, 400]
    assert not Ticket.objects.exists() and not Order.objects.exists()


def test_a_binary_upload_is_not_text_and_passes(client):
    ticket = TicketFactory()
    client.force_login(ticket.user)
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "black").save(buffer, format="PNG")
    assert b"\x00" in buffer.getvalue()
    photo = SimpleUploadedFile("dark.png", buffer.getvalue(), content_type="image/png")

    response = client.post(ticket.get_absolute_url(), {"body": "Photo", "attachments": photo})

    assert response.status_code == 302
    assert Attachment.objects.get().name == "dark.png"


def test_bytes_that_are_not_utf8_are_read_as_replacement_characters(client):
    response = client.get("/support/help/", QUERY_STRING="q=%ED%A0%80%FF")
    assert response.status_code == 200
    assert response.context["query"] == "\ufffd" * 4


def test_a_lone_surrogate_in_a_form_field_is_a_bad_request(rf):
    request = rf.post("/support/tickets/new/")
    request.POST = QueryDict(mutable=True)
    request.POST["body"] = "broken \ud800 text"
    request.user, request.session = AnonymousUser(), SessionStore()
    guard = InputGuardMiddleware(lambda request: HttpResponse())

    response = guard.process_view(request, lambda request: HttpResponse(), (), {})

    assert response.status_code == 400
    assert storable("emoji 🛒 and עברית") and not storable("\udfff")


@override_settings(SESSION_ENGINE="django.contrib.sessions.backends.db")
def test_a_session_cookie_with_a_nul_is_no_session_and_is_cleared(client):
    client.cookies["sessionid"] = "\x00" * 32
    response = client.get(reverse("orders:cart"))
    assert response.status_code == 200
    assert response.cookies["sessionid"].value == ""


def test_the_webhook_still_reads_its_own_body(client):
    response = client.post(reverse("payments:stripe_webhook"), {"field": "\x00"})
    assert response.status_code == 400
    assert response.text == "Invalid webhook."
    signed = client.post(
        reverse("payments:stripe_webhook"),
        json.dumps({"id": "evt_\x00"}),
        content_type="application/json",
    )
    assert signed.status_code == 400
