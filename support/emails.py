"""Ticket emails: each reply is mailed to the other side once, after its transaction commits."""

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from shop.emails import send_templated_email
from shop.models import SentEmail

from .models import Message

# The sweep leaves the usual path this long to deliver before it steps in, and gives up after a day.
SWEEP_GRACE = timedelta(minutes=10)
SWEEP_WINDOW = timedelta(days=1)


def queue_message_email(*, message):
    """Mail this reply once the current transaction commits; internal notes are never mailed.

    Robust: a broker that is down must not undo the shopper's message.
    """
    if message.kind != Message.Kind.REPLY:
        return
    from .tasks import send_message_email

    message_pk = message.pk
    transaction.on_commit(lambda: send_message_email.delay(message_pk), robust=True)


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


def unsent_message_emails(*, now):
    """Ids of the replies of the last day that should have been mailed but have no log row.

    They are the ones whose task never reached the broker, or failed for good.
    """
    replies = Message.objects.filter(
        kind=Message.Kind.REPLY, created_at__range=(now - SWEEP_WINDOW, now - SWEEP_GRACE)
    ).values_list("pk", flat=True)
    wanted = {message_email_key(pk): pk for pk in replies}
    sent = set(SentEmail.objects.filter(key__in=wanted).values_list("key", flat=True))
    return [pk for key, pk in wanted.items() if key not in sent]
