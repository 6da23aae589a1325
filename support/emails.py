"""Ticket emails: each reply is mailed to the other side once, after its transaction commits."""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from shop import outbox
from shop.emails import send_templated_email

from .models import Message


def queue_message_email(*, message):
    """Mail this reply through the outbox, with the current transaction; notes are never mailed.

    A broker that is down does not undo the shopper's message: the outbox mails it later.
    """
    if message.kind != Message.Kind.REPLY:
        return
    key = message_email_key(message.pk)
    outbox.enqueue("support.tasks.send_message_email", message.pk, key=key)


def message_email_key(message_pk):
    return f"support:message:{message_pk}"


def ticket_link(ticket):
    """The shopper's absolute link to the ticket; a guest's carries the ticket's secret key."""
    path = ticket.get_absolute_url()
    if ticket.user_id is None:
        path = f"{path}?{urlencode({'key': ticket.access_key})}"
    return settings.SHOP_BASE_URL.rstrip("/") + path


def desk_link(ticket):
    return settings.SHOP_BASE_URL.rstrip("/") + reverse("support:desk_ticket", args=[ticket.number])


def deliver_message_email(*, message):
    """Mail a staff reply to the shopper, a shopper's to staff; False when it went out before.

    A shopper's message goes to the assigned staff member, or to the shop's own address
    while nobody has taken the ticket.
    """
    ticket = message.ticket
    if message.from_staff:
        to, prefix, url = ticket.email, "support/email/to_customer", ticket_link(ticket)
    else:
        to = ticket.assignee.email if ticket.assignee else settings.DEFAULT_FROM_EMAIL
        prefix, url = "support/email/to_staff", desk_link(ticket)
    context = {
        "ticket": ticket,
        "message": message,
        "ticket_url": url,
        "shop_name": settings.SHOP_NAME,
    }
    language = ticket.language if message.from_staff else settings.LANGUAGE_CODE
    return send_templated_email(
        key=message_email_key(message.pk),
        to=to,
        template_prefix=prefix,
        context=context,
        language=language,
    )
