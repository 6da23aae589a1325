from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from support import selectors, services
from support.models import Message, Ticket
from tests.accounts.factories import StaffFactory, UserFactory
from tests.orders.factories import OrderFactory
from tests.support.factories import MessageFactory, TicketFactory

pytestmark = pytest.mark.django_db


def test_a_shopper_lists_only_their_own_tickets(client):
    mine = TicketFactory(subject="Broken handle")
    TicketFactory(subject="Someone else's problem")
    client.force_login(mine.user)

    page = client.get(reverse("support:ticket_list"))

    assert "Broken handle" in page.text
    assert "Someone else" not in page.text


def test_another_shoppers_ticket_is_not_found(client):
    ticket = TicketFactory()
    client.force_login(UserFactory())

    assert client.get(ticket.get_absolute_url()).status_code == 404
    assert client.post(ticket.get_absolute_url(), {"body": "Hello"}).status_code == 404
    assert not ticket.messages.exists()


def test_a_wrong_secret_link_is_not_found(client):
    ticket = TicketFactory(user=None)

    assert client.get(ticket.get_absolute_url(), {"key": "guess"}).status_code == 404
    assert client.get(ticket.get_absolute_url(), {"key": ticket.access_key}).status_code == 200


def test_a_shopper_never_sees_an_internal_note(client):
    ticket = TicketFactory()
    MessageFactory(ticket=ticket, body="My cup arrived broken.")
    staff = StaffFactory()
    services.add_internal_note(ticket=ticket, body="Customer is a known reseller", author=staff)
    services.reply(ticket=ticket, body="We will send another cup.", author=staff, as_staff=True)
    client.force_login(ticket.user)

    page = client.get(ticket.get_absolute_url())

    assert "My cup arrived broken." in page.text
    assert "We will send another cup." in page.text
    assert "known reseller" not in page.text


def test_only_staff_write_internal_notes():
    ticket = TicketFactory()

    with pytest.raises(services.SupportError):
        services.add_internal_note(ticket=ticket, body="psst", author=ticket.user)
    with pytest.raises(services.SupportError):
        services.reply(ticket=ticket, body="I'm staff", author=ticket.user, as_staff=True)


def test_a_signed_in_shopper_opens_a_ticket_about_their_order(client):
    user = UserFactory()
    order = OrderFactory(user=user, email=user.email)
    client.force_login(user)

    response = client.post(
        reverse("support:ticket_new"),
        {"order": order.number, "category": "order", "subject": "Wrong size", "body": "Too small"},
    )

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert (ticket.user, ticket.order, ticket.status) == (user, order, Ticket.Status.OPEN)
    assert client.get(response.url).status_code == 200


def test_a_shopper_cannot_open_a_ticket_about_someone_elses_order(client):
    client.force_login(UserFactory())
    order = OrderFactory(user=UserFactory())

    response = client.post(
        reverse("support:ticket_new"),
        {"order": order.number, "category": "order", "subject": "Hi", "body": "Hi"},
    )

    assert response.status_code == 400
    assert not Ticket.objects.exists()


def _guest_ticket(client, number, email):
    return client.post(
        reverse("support:ticket_new"),
        {
            "order_number": number,
            "email": email,
            "category": "shipping",
            "subject": "Late parcel",
            "body": "Still waiting",
        },
    )


def test_a_guest_needs_the_right_order_number_and_email(client):
    order = OrderFactory(email="mei@example.com")

    wrong_email = _guest_ticket(client, order.number, "someone@example.com")
    wrong_number = _guest_ticket(client, "SH-NOPE-NOPE", "mei@example.com")

    for response in (wrong_email, wrong_number):
        assert response.status_code == 400
        assert "We found no order with this number and email address." in response.text
    assert not Ticket.objects.exists()

    response = _guest_ticket(client, order.number, "MEI@example.com")
    ticket = Ticket.objects.get()
    assert ticket.order == order and ticket.user is None
    assert response.url == f"{ticket.get_absolute_url()}?key={ticket.access_key}"
    assert "Still waiting" in client.get(response.url).text


def test_a_guest_replies_through_the_secret_link(client):
    ticket = TicketFactory(user=None)

    response = client.post(
        ticket.get_absolute_url(), {"body": "Any news?", "key": ticket.access_key}
    )

    assert response.status_code == 302
    assert ticket.messages.get().body == "Any news?"


def test_a_staff_reply_waits_for_the_customer_and_counts_as_first_response():
    ticket = TicketFactory()
    staff = StaffFactory()

    message = services.reply(ticket=ticket, body="On its way", author=staff, as_staff=True)

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.WAITING_CUSTOMER
    assert ticket.first_response_at == message.created_at
    assert ticket.assignee == staff


def test_a_shoppers_reply_reopens_a_resolved_ticket():
    ticket = TicketFactory()
    services.resolve(ticket=ticket, user=StaffFactory())

    services.reply(ticket=ticket, body="It broke again", author=ticket.user)

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.WAITING_STAFF
    assert ticket.resolved_at is None


@override_settings(SUPPORT_CLOSE_RESOLVED_AFTER_DAYS=7)
def test_resolved_tickets_close_after_the_set_days_and_a_reply_reopens_them():
    now = timezone.now()
    old, recent = TicketFactory(), TicketFactory()
    services.resolve(ticket=old, now=now - timedelta(days=8))
    services.resolve(ticket=recent, now=now - timedelta(days=6))

    assert services.close_resolved_tickets(now=now) == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.status, recent.status) == (Ticket.Status.CLOSED, Ticket.Status.RESOLVED)

    services.reply(ticket=old, body="Actually, one more thing", author=old.user)
    old.refresh_from_db()
    assert old.status == Ticket.Status.WAITING_STAFF


@override_settings(SUPPORT_FIRST_RESPONSE_HOURS=4)
def test_overdue_is_computed_from_the_first_response_target():
    now = timezone.now()
    late, fresh, answered = TicketFactory(), TicketFactory(), TicketFactory()
    Ticket.objects.filter(pk__in=[late.pk, answered.pk]).update(created_at=now - timedelta(hours=5))
    Ticket.objects.filter(pk=fresh.pk).update(created_at=now - timedelta(hours=3))
    services.reply(ticket=answered, body="Hi", author=StaffFactory(), as_staff=True)

    assert list(selectors.overdue_tickets(now=now)) == [late]
    with override_settings(SUPPORT_FIRST_RESPONSE_HOURS=2):
        assert set(selectors.overdue_tickets(now=now)) == {late, fresh}


def test_an_empty_message_is_refused_with_a_message(client):
    ticket = TicketFactory()
    client.force_login(ticket.user)

    response = client.post(ticket.get_absolute_url(), {"body": "  "})

    assert response.status_code == 400
    assert not Message.objects.exists()
