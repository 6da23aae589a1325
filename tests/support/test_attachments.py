import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from support import services
from support.models import Attachment
from tests.support.factories import TicketFactory

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
