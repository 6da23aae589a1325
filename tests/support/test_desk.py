from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from support.models import Message, Ticket
from tests.accounts.factories import StaffFactory, UserFactory
from tests.support.factories import CannedReplyFactory, MessageFactory, TicketFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:support_ticket_changelist"


@pytest.fixture
def staff_client(client):
    staff = StaffFactory(is_superuser=True)
    client.force_login(staff)
    client.staff = staff
    return client


def _listed(client, **params):
    page = client.get(reverse(CHANGELIST), params)
    assert page.status_code == 200
    return {ticket.number for ticket in page.context["cl"].result_list}


def test_the_desk_filters_unassigned_mine_and_overdue(staff_client):
    mine = TicketFactory(assignee=staff_client.staff)
    theirs = TicketFactory(assignee=StaffFactory())
    nobodys = TicketFactory()
    Ticket.objects.filter(pk=theirs.pk).update(created_at=timezone.now() - timedelta(days=2))

    assert _listed(staff_client, queue="unassigned") == {nobodys.number}
    assert _listed(staff_client, queue="mine") == {mine.number}
    assert _listed(staff_client, queue="overdue") == {theirs.number}


def test_the_desk_searches_messages(staff_client):
    ticket = TicketFactory()
    MessageFactory(ticket=ticket, body="The teapot lid is chipped")
    TicketFactory()

    assert _listed(staff_client, q="teapot") == {ticket.number}


def test_assign_to_me(staff_client):
    tickets = [TicketFactory(), TicketFactory()]

    staff_client.post(
        reverse(CHANGELIST),
        {"action": "assign_to_me", "_selected_action": [ticket.pk for ticket in tickets]},
    )

    assert set(Ticket.objects.values_list("assignee", flat=True)) == {staff_client.staff.pk}


def test_staff_answer_with_a_canned_reply(staff_client):
    ticket = TicketFactory()
    canned = CannedReplyFactory(body="Thank you for writing to us.")

    response = staff_client.post(
        reverse("support:desk_ticket", args=[ticket.number]),
        {"canned_reply": canned.pk, "body": "Your parcel left today."},
    )

    assert response.status_code == 302
    message = ticket.messages.get()
    assert message.body == "Thank you for writing to us.\n\nYour parcel left today."
    assert message.from_staff and message.kind == Message.Kind.REPLY


def test_staff_see_internal_notes_on_the_desk(staff_client):
    ticket = TicketFactory()

    staff_client.post(
        reverse("support:desk_ticket", args=[ticket.number]),
        {"body": "Refund approved by finance", "internal": "on"},
    )

    page = staff_client.get(reverse("support:desk_ticket", args=[ticket.number]))
    assert "Refund approved by finance" in page.text
    assert ticket.messages.get().kind == Message.Kind.NOTE


def test_shoppers_cannot_reach_the_desk(client):
    ticket = TicketFactory()
    client.force_login(UserFactory())

    response = client.get(reverse("support:desk_ticket", args=[ticket.number]))

    assert response.status_code == 302
    assert "/admin/login/" in response.url


def test_a_desk_action_that_does_not_apply_is_refused_with_a_message(staff_client):
    ticket = TicketFactory()

    response = staff_client.post(reverse("support:desk_action", args=[ticket.number, "approve"]))

    assert response.status_code == 400
    assert "This ticket has no return." in response.text
