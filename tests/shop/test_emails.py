import smtplib
import threading
import time

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from shop.emails import send_templated_email
from shop.models import SentEmail

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "OPTIONS": {
            "loaders": [
                (
                    "django.template.loaders.locmem.Loader",
                    {
                        "note_subject.txt": "{% load i18n %}{% get_current_language as lang %}\n"
                        "Note for {{ name }} ({{ lang }})\n",
                        "note.txt": "Hello {{ name }} & co",
                        "note.html": "<p>Hello {{ name }} &amp; co</p>",
                    },
                )
            ]
        },
    }
]


class RefusingBackend(LocmemBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("the mail server went away")


class SlowBackend(LocmemBackend):
    def send_messages(self, messages):
        time.sleep(0.3)
        return super().send_messages(messages)


def send_note(key="note:1", language="en"):
    return send_templated_email(
        key=key,
        to="mei@example.com",
        template_prefix="note",
        context={"name": "Mei"},
        language=language,
    )


@pytest.mark.django_db
@override_settings(TEMPLATES=TEMPLATES)
def test_an_email_goes_out_with_a_text_and_an_html_part():
    assert send_note() is True

    [message] = mail.outbox
    assert message.to == ["mei@example.com"]
    assert message.subject == "Note for Mei (en)"
    assert message.body == "Hello Mei & co"
    assert message.alternatives[0].content == "<p>Hello Mei &amp; co</p>"
    assert message.alternatives[0].mimetype == "text/html"
    assert SentEmail.objects.get(key="note:1").recipient == "mei@example.com"


@pytest.mark.django_db
@override_settings(TEMPLATES=TEMPLATES)
def test_the_same_key_is_never_sent_twice():
    assert send_note() is True
    assert send_note() is False

    assert len(mail.outbox) == 1
    assert SentEmail.objects.filter(key="note:1").count() == 1


@pytest.mark.django_db
@override_settings(TEMPLATES=TEMPLATES)
def test_another_key_is_another_email():
    send_note(key="note:1")
    send_note(key="note:2")

    assert len(mail.outbox) == 2


@pytest.mark.django_db
@override_settings(TEMPLATES=TEMPLATES)
def test_the_email_is_rendered_in_the_recipients_language():
    send_note(language="zh-hans")

    assert mail.outbox[0].subject == "Note for Mei (zh-hans)"


@pytest.mark.django_db
@override_settings(TEMPLATES=TEMPLATES, EMAIL_BACKEND="tests.shop.test_emails.RefusingBackend")
def test_a_failed_send_leaves_no_record_so_a_retry_sends_it():
    with pytest.raises(smtplib.SMTPException):
        send_note()
    assert not SentEmail.objects.exists()

    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        assert send_note() is True
    assert len(mail.outbox) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(TEMPLATES=TEMPLATES, EMAIL_BACKEND="tests.shop.test_emails.SlowBackend")
def test_two_workers_sending_the_same_email_at_once_send_it_once():
    results = []

    def worker():
        try:
            results.append(send_note())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, True]
    assert len(mail.outbox) == 1
    assert SentEmail.objects.count() == 1


@pytest.mark.django_db
def test_staff_find_a_sent_email_by_recipient_and_cannot_alter_the_log(admin_client):
    with override_settings(TEMPLATES=TEMPLATES):
        send_note()
    url = reverse("admin:shop_sentemail_changelist")

    response = admin_client.get(url, {"q": "mei@example.com"})
    record = SentEmail.objects.get()

    assert [email.key for email in response.context["cl"].result_list] == ["note:1"]
    assert (
        admin_client.post(reverse("admin:shop_sentemail_delete", args=[record.pk])).status_code
        == 403
    )
