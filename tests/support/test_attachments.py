import importlib
import io
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from PIL import Image

from shop import urls as shop_urls
from support import services
from support.models import Attachment
from tests.accounts.factories import StaffFactory, UserFactory
from tests.support.factories import MessageFactory, TicketFactory

moving = importlib.import_module("support.migrations.0003_attachment_private_storage")

pytestmark = pytest.mark.django_db


def png_bytes():
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_photo_and_a_pdf_are_attached(client):
    ticket = TicketFactory()
    client.force_login(ticket.user)
    photo = SimpleUploadedFile("crack.png", png_bytes(), content_type="image/png")
    invoice = SimpleUploadedFile(
        "invoice.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf"
    )

    response = client.post(
        ticket.get_absolute_url(), {"body": "See the photo", "attachments": [photo, invoice]}
    )

    assert response.status_code == 302
    assert sorted(Attachment.objects.values_list("name", "content_type")) == [
        ("crack.png", "image/png"),
        ("invoice.pdf", "application/pdf"),
    ]
    assert "crack.png" in client.get(ticket.get_absolute_url()).text


def test_a_file_of_the_wrong_type_is_refused_with_a_message(client):
    ticket = TicketFactory()
    client.force_login(ticket.user)
    disguised = SimpleUploadedFile(
        "photo.png", b"MZ\x90\x00 not an image", content_type="image/png"
    )

    response = client.post(ticket.get_absolute_url(), {"body": "Here", "attachments": [disguised]})

    assert response.status_code == 400
    assert "“photo.png” is not an image (JPEG, PNG, GIF, WebP) or a PDF." in response.text
    assert not ticket.messages.exists()


def test_a_file_too_large_is_refused_with_a_message(client, monkeypatch):
    monkeypatch.setattr(services, "ATTACHMENT_MAX_BYTES", 1024 * 1024)
    ticket = TicketFactory()
    client.force_login(ticket.user)
    big = SimpleUploadedFile(
        "scan.pdf", b"%PDF-" + b"0" * (1024 * 1024), content_type="application/pdf"
    )

    response = client.post(ticket.get_absolute_url(), {"body": "Here", "attachments": [big]})

    assert response.status_code == 400
    assert "“scan.pdf” is larger than 1 MB." in response.text
    assert not Attachment.objects.exists()


# Safe uploads: stored under the detected type, out of MEDIA_ROOT, handed out by a checked view.


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


def attach(ticket, *, name="note.html", author=None, note=False):
    """A PNG attached to a new message of the ticket, through the services people use."""
    upload = SimpleUploadedFile(name, png_bytes(), content_type="text/html")
    if note:
        message = services.add_internal_note(
            ticket=ticket, body="For colleagues", author=author, attachments=[upload]
        )
    else:
        message = services.reply(
            ticket=ticket, body="Here", author=author or ticket.user, attachments=[upload]
        )
    return message.attachments.get()


def support_staff():
    staff = StaffFactory()
    staff.user_permissions.add(
        Permission.objects.get(content_type__app_label="support", codename="view_ticket")
    )
    return staff


def test_a_png_named_html_is_stored_as_png_outside_media(settings):
    attachment = attach(TicketFactory())

    assert attachment.name == "note.html"
    assert attachment.content_type == "image/png"
    assert attachment.file.name.startswith("support/")
    assert attachment.file.name.endswith(".png")
    assert "note" not in attachment.file.name
    assert (settings.PRIVATE_MEDIA_ROOT / attachment.file.name).read_bytes() == png_bytes()
    assert not (Path(settings.MEDIA_ROOT) / attachment.file.name).exists()


def test_an_attachment_has_no_public_url():
    attachment = attach(TicketFactory())

    with pytest.raises(ValueError, match="not accessible via a URL"):
        attachment.file.url  # noqa: B018


def test_the_shopper_downloads_an_attachment_as_a_file_of_its_detected_type(client):
    ticket = TicketFactory()
    attachment = attach(ticket)
    client.force_login(ticket.user)

    response = client.get(reverse("support:attachment", args=[attachment.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == png_bytes()
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="note.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "no-store" in response["Cache-Control"]


def test_the_download_name_is_encoded_and_the_page_escapes_it(client):
    ticket = TicketFactory()
    attachment = attach(ticket, name='<i>"devis" été.html')
    client.force_login(ticket.user)

    download = client.get(reverse("support:attachment", args=[attachment.pk]))
    page = client.get(ticket.get_absolute_url())

    assert download["Content-Disposition"] == (
        "attachment; filename*=utf-8''%3Ci%3E%22devis%22%20%C3%A9t%C3%A9.png"
    )
    assert "&lt;i&gt;&quot;devis&quot; été.html" in page.text
    assert '<i>"devis"' not in page.text


def test_the_thread_links_to_the_download_view_never_to_media(client):
    ticket = TicketFactory(user=None)
    attachment = attach(ticket)

    page = client.get(ticket.get_absolute_url(), {"key": ticket.access_key})

    link = f"{reverse('support:attachment', args=[attachment.pk])}?key={ticket.access_key}"
    assert f'href="{link}"' in page.text
    assert "/media/" not in page.text


def test_a_guest_holding_the_secret_link_downloads_the_attachment(client):
    ticket = TicketFactory(user=None)
    attachment = attach(ticket)
    url = reverse("support:attachment", args=[attachment.pk])

    assert client.get(url, {"key": ticket.access_key}).status_code == 200
    assert client.get(url, {"key": "not-the-key"}).status_code == 404


@pytest.mark.parametrize("viewer", ["another shopper", "anonymous", "staff without support"])
def test_nobody_else_downloads_an_attachment(client, viewer):
    attachment = attach(TicketFactory())
    if viewer == "another shopper":
        client.force_login(UserFactory())
    elif viewer == "staff without support":
        client.force_login(StaffFactory())

    response = client.get(reverse("support:attachment", args=[attachment.pk]))

    assert response.status_code == 404


def test_support_staff_download_attachments_of_internal_notes_the_shopper_never_sees(client):
    ticket = TicketFactory()
    staff = support_staff()
    attachment = attach(ticket, author=staff, note=True)
    url = reverse("support:attachment", args=[attachment.pk])

    client.force_login(staff)
    assert client.get(url).status_code == 200
    client.force_login(ticket.user)
    assert client.get(url).status_code == 404


def test_a_missing_file_answers_404(client, settings):
    ticket = TicketFactory()
    attachment = attach(ticket)
    (settings.PRIVATE_MEDIA_ROOT / attachment.file.name).unlink()
    client.force_login(ticket.user)

    assert client.get(reverse("support:attachment", args=[attachment.pk])).status_code == 404


@pytest.fixture
def debug_urlconf(monkeypatch):
    """The project's URLconf as shop/urls.py builds it with DEBUG on, as docker-compose runs."""
    monkeypatch.setattr(admin.site, "login", admin.site.login)
    spec = importlib.util.spec_from_file_location("shop.debug_urls", shop_urls.__file__)
    module = importlib.util.module_from_spec(spec)
    with override_settings(DEBUG=True):
        spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "shop.debug_urls", module)
    return "shop.debug_urls"


def test_media_serves_catalog_pictures_but_never_uploads_even_with_debug_on(client, debug_urlconf):
    media = Path(settings.MEDIA_ROOT)
    (media / "products").mkdir(exist_ok=True)
    (media / "products" / "teapot.png").write_bytes(png_bytes())
    (media / "support").mkdir(exist_ok=True)
    (media / "support" / "left-over.html").write_bytes(b"<script>alert(1)</script>")

    with override_settings(DEBUG=True, ROOT_URLCONF=debug_urlconf):
        picture = client.get("/media/products/teapot.png")
        upload = client.get("/media/support/left-over.html")
        escape = client.get("/media/products/..%2fsupport/left-over.html")

    assert picture.status_code == 200
    assert upload.status_code == 404
    assert escape.status_code in (400, 404)


def test_files_uploaded_before_move_to_private_storage_under_their_type(
    settings, django_capture_on_commit_callbacks
):
    old_name = default_storage.save("support/0123abcd.html", ContentFile(png_bytes()))
    attachment = Attachment.objects.create(
        message=MessageFactory(),
        file=old_name,
        name="note.html",
        content_type="image/png",
        size=len(png_bytes()),
    )

    with django_capture_on_commit_callbacks(execute=True):
        moving.move_to_private_storage(apps, None)

    attachment.refresh_from_db()
    assert attachment.file.name.endswith(".png")
    assert (settings.PRIVATE_MEDIA_ROOT / attachment.file.name).read_bytes() == png_bytes()
    assert not default_storage.exists(old_name)
