import pytest

from shop import outbox
from support import services
from support.tasks import send_message_email
from tests.accounts.factories import StaffFactory
from tests.support.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_each_reply_is_mailed_to_the_other_side_once(
    mailoutbox, django_capture_on_commit_callbacks
):
    staff = StaffFactory(email="agent@example.com")
    ticket = TicketFactory(assignee=staff, user=None, email="mei@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        answer = services.reply(
            ticket=ticket, body="Your refund is on its way", author=staff, as_staff=True
        )
    with django_capture_on_commit_callbacks(execute=True):
        question = services.reply(ticket=ticket, body="Thanks! When?")
    send_message_email(answer.pk)
    send_message_email(question.pk)

    assert [mail.to for mail in mailoutbox] == [["mei@example.com"], ["agent@example.com"]]
    to_shopper, to_staff = mailoutbox
    assert "Your refund is on its way" in to_shopper.body
    assert f"{ticket.get_absolute_url()}?key={ticket.access_key}" in to_shopper.body
    assert "Thanks! When?" in to_staff.body
    assert f"/support/desk/{ticket.number}/" in to_staff.body


def test_internal_notes_are_never_mailed(mailoutbox, django_capture_on_commit_callbacks):
    ticket = TicketFactory()

    with django_capture_on_commit_callbacks(execute=True):
        services.add_internal_note(ticket=ticket, body="Check the courier", author=StaffFactory())

    assert mailoutbox == []


def test_a_reply_whose_email_was_never_handed_over_is_sent_once_by_the_outbox(mailoutbox):
    ticket = TicketFactory()
    services.reply(ticket=ticket, body="Hello?", author=ticket.user)

    assert outbox.dispatch() == 1
    assert outbox.dispatch() == 0
    assert len(mailoutbox) == 1
