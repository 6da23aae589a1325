"""Reads for customer service pages: whose tickets, which thread, what is overdue, what returns."""

from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db.models import Prefetch, Q
from django.http import Http404
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from orders.models import Order

from .models import HelpArticle, Message, ReturnLine, ReturnRequest, Ticket

OPEN_STATUSES = (Ticket.Status.OPEN, Ticket.Status.WAITING_STAFF, Ticket.Status.WAITING_CUSTOMER)
RETURNABLE_STATUSES = (
    Order.Status.DELIVERED,
    Order.Status.COMPLETED,
    Order.Status.PARTIALLY_REFUNDED,
)


def tickets_for_user(user):
    return Ticket.objects.filter(user=user).select_related("order").order_by("-updated_at")


def ticket_for_viewer(*, number, user, key=""):
    """The ticket if this viewer may see it: its shopper or whoever holds its secret link.

    Anyone else gets 404, the same as for a number that does not exist.
    """
    ticket = Ticket.objects.filter(number=number).select_related("order").first()
    if ticket is None:
        raise Http404(_("No such ticket."))
    owner = user.is_authenticated and ticket.user_id == user.pk
    key_fits = bool(key) and constant_time_compare(str(key), ticket.access_key)
    if not (owner or key_fits):
        raise Http404(_("No such ticket."))
    return ticket


def thread(ticket, *, internal=False):
    """The ticket's messages with their attachments; internal notes only when asked for."""
    messages = ticket.messages.select_related("author").prefetch_related("attachments")
    if not internal:
        messages = messages.exclude(kind=Message.Kind.NOTE)
    return list(messages)


def overdue_cutoff(now=None):
    return (now or timezone.now()) - timedelta(hours=settings.SUPPORT_FIRST_RESPONSE_HOURS)


def overdue_tickets(now=None):
    """Tickets still without a first staff answer after SUPPORT_FIRST_RESPONSE_HOURS."""
    return Ticket.objects.filter(
        status__in=OPEN_STATUSES,
        first_response_at__isnull=True,
        created_at__lt=overdue_cutoff(now),
    )


def is_overdue(ticket, now=None):
    return (
        ticket.status in OPEN_STATUSES
        and ticket.first_response_at is None
        and ticket.created_at < overdue_cutoff(now)
    )


def help_articles(query=""):
    articles = HelpArticle.objects.filter(is_published=True)
    query = str(query or "").strip()
    if query:
        articles = articles.filter(Q(question__icontains=query) | Q(answer__icontains=query))
    return articles


def delivered_at(order):
    event = order.events.filter(to_status=Order.Status.DELIVERED).order_by("created_at").first()
    return event.created_at if event else None


def return_deadline(order):
    """The last moment to ask for a return: RETURN_WINDOW_DAYS after delivery, or None."""
    if order.status not in RETURNABLE_STATUSES:
        return None
    delivered = delivered_at(order)
    return delivered + timedelta(days=settings.RETURN_WINDOW_DAYS) if delivered else None


def can_return(order, now=None):
    deadline = return_deadline(order)
    return (
        deadline is not None
        and (now or timezone.now()) <= deadline
        and any(left for _line, left in returnable_lines(order))
    )


def returned_units(order):
    """Units of each order line already asked back in returns that were not declined."""
    units = Counter()
    rows = ReturnLine.objects.filter(return_request__order=order).exclude(
        return_request__status=ReturnRequest.Status.REJECTED
    )
    for line_id, quantity in rows.values_list("order_line_id", "quantity"):
        units[line_id] += quantity
    return units


def returnable_lines(order):
    """(order line, units that may still be returned) for each line of the order."""
    taken = returned_units(order)
    return [(line, line.quantity - taken[line.pk]) for line in order.lines.order_by("pk")]


def returns_for_order(order):
    return (
        ReturnRequest.objects.filter(order=order)
        .select_related("ticket")
        .prefetch_related(
            Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line"))
        )
    )
