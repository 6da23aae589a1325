"""Business actions of customer service; views, admin, tasks and commands call these."""

import contextlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from orders.models import Order
from orders.selectors import refund_for_units
from payments.models import Payment
from payments.services import PaymentError, request_refund, send_refund
from shipping.services import return_stock
from shop.audit import record

from . import selectors
from .emails import queue_message_email
from .models import Attachment, Message, ReturnLine, ReturnRequest, Ticket

Status = Ticket.Status
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
ATTACHMENTS_PER_MESSAGE = 5
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class SupportError(Exception):
    """A customer service action the shop refuses; the message is for the person who asked."""


def _signed_in(user):
    return user if user is not None and user.is_authenticated else None


# Attachments


def check_attachment(upload):
    """Return the content type of an image or PDF upload, judged by its bytes, not its name.

    A renamed executable or an oversized scan gives SupportError naming the file.
    """
    name = getattr(upload, "name", "") or _("the file")
    if upload.size > ATTACHMENT_MAX_BYTES:
        raise SupportError(
            _("“%(name)s” is larger than %(mb)d MB.")
            % {"name": name, "mb": ATTACHMENT_MAX_BYTES // (1024 * 1024)}
        )
    upload.seek(0)
    head = upload.read(5)
    upload.seek(0)
    if head == b"%PDF-":
        return "application/pdf"
    try:
        with Image.open(upload) as image:
            image.verify()
            kind = IMAGE_FORMATS.get(image.format)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        kind = None
    upload.seek(0)
    if kind is None:
        raise SupportError(
            _("“%(name)s” is not an image (JPEG, PNG, GIF, WebP) or a PDF.") % {"name": name}
        )
    return kind


def _checked_attachments(uploads):
    uploads = list(uploads or ())
    if len(uploads) > ATTACHMENTS_PER_MESSAGE:
        raise SupportError(
            _("Attach at most %(count)d files to one message.") % {"count": ATTACHMENTS_PER_MESSAGE}
        )
    return [(upload, check_attachment(upload)) for upload in uploads]


def _add_message(*, ticket, body, kind, author=None, from_staff=False, uploads=()):
    message = Message.objects.create(
        ticket=ticket, kind=kind, author=author, from_staff=from_staff, body=body
    )
    for upload, content_type in uploads:
        Attachment.objects.create(
            message=message,
            file=upload,
            name=upload.name[:200],
            content_type=content_type,
            size=upload.size,
        )
    return message


def _clean_body(body):
    body = str(body or "").strip()
    if not body:
        raise SupportError(_("Write a message."))
    return body


# Tickets


def _new_number():
    chars = "".join(secrets.choice(NUMBER_ALPHABET) for _position in range(8))
    return f"T-{chars[:4]}-{chars[4:]}"


def _create_ticket(**fields):
    """Insert the ticket under a fresh random number, drawing again in the rare clash."""
    for attempts_left in reversed(range(5)):
        try:
            with transaction.atomic():
                return Ticket.objects.create(
                    number=_new_number(), access_key=secrets.token_urlsafe(32), **fields
                )
        except IntegrityError:
            if not attempts_left:
                raise


def find_guest_order(*, number, email):
    """The order a guest names by number and email, or SupportError: both must match."""
    number, email = str(number or "").strip().upper(), str(email or "").strip()
    order = Order.objects.filter(number=number).first() if number and email else None
    if order is None or not constant_time_compare(order.email.lower(), email.lower()):
        raise SupportError(_("We found no order with this number and email address."))
    return order


def open_ticket(
    *,
    subject,
    body,
    category,
    user=None,
    email="",
    order=None,
    attachments=(),
    priority=Ticket.Priority.NORMAL,
    language="en",
) -> Ticket:
    """Open a ticket with the shopper's first message; staff hear of it by email.

    The caller has checked that the shopper may speak about `order` (their own, or a guest's
    matched by number and email).
    """
    user = _signed_in(user)
    email = (user.email if user else str(email or "").strip()) or (order.email if order else "")
    if not email:
        raise SupportError(_("Enter your email address."))
    if category not in Ticket.Category.values:
        raise SupportError(_("Choose what your question is about."))
    subject = str(subject or "").strip()[:200]
    if not subject:
        raise SupportError(_("Write a subject."))
    body = _clean_body(body)
    uploads = _checked_attachments(attachments)
    with transaction.atomic():
        ticket = _create_ticket(
            user=user,
            email=email,
            order=order,
            subject=subject,
            category=category,
            priority=priority,
            language=language,
        )
        message = _add_message(
            ticket=ticket, body=body, kind=Message.Kind.REPLY, author=user, uploads=uploads
        )
        queue_message_email(message=message)
    return ticket


def reply(*, ticket, body, author=None, as_staff=False, attachments=()) -> Message:
    """Add a reply to the thread and tell the other side by email.

    A staff reply leaves the ticket waiting for the customer and counts as the first response
    if it is one; a shopper's reply waits for staff, reopening a resolved or closed ticket.
    """
    body = _clean_body(body)
    uploads = _checked_attachments(attachments)
    author = _signed_in(author)
    if as_staff and (author is None or not author.is_staff):
        raise SupportError(_("Only staff answer as staff."))
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        message = _add_message(
            ticket=locked,
            body=body,
            kind=Message.Kind.REPLY,
            author=author,
            from_staff=as_staff,
            uploads=uploads,
        )
        if as_staff:
            locked.status = Status.WAITING_CUSTOMER
            locked.first_response_at = locked.first_response_at or message.created_at
            if locked.assignee_id is None:
                locked.assignee = author
        else:
            locked.status = Status.WAITING_STAFF
        locked.resolved_at = None
        locked.save()
        queue_message_email(message=message)
    _copy(locked, ticket)
    return message


def _copy(source, target):
    for field in ("status", "first_response_at", "resolved_at", "assignee_id", "updated_at"):
        setattr(target, field, getattr(source, field))


def add_internal_note(*, ticket, body, author, attachments=()) -> Message:
    """A note for colleagues: never shown to the shopper, never emailed."""
    body = _clean_body(body)
    uploads = _checked_attachments(attachments)
    if _signed_in(author) is None or not author.is_staff:
        raise SupportError(_("Only staff write internal notes."))
    with transaction.atomic():
        message = _add_message(
            ticket=ticket,
            body=body,
            kind=Message.Kind.NOTE,
            author=author,
            from_staff=True,
            uploads=uploads,
        )
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=timezone.now())
        record(
            actor=author,
            action="ticket.note_added",
            target=ticket,
            after={"message": message.pk},
            note=body,
        )
    return message


def _record_step(ticket, text, user=None):
    """A step shown in the ticket's thread to shopper and staff alike."""
    return Message.objects.create(
        ticket=ticket, kind=Message.Kind.EVENT, author=_signed_in(user), from_staff=True, body=text
    )


def assign(*, ticket, assignee, by=None) -> Ticket:
    if assignee is not None and not assignee.is_staff:
        raise SupportError(_("Tickets are assigned to staff only."))
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        record(
            actor=by or assignee,
            action="ticket.assigned",
            target=locked,
            before={"assignee": locked.assignee_id},
            after={"assignee": assignee.pk if assignee is not None else None},
        )
        locked.assignee = assignee
        locked.save(update_fields=["assignee", "updated_at"])
    _copy(locked, ticket)
    return ticket


def resolve(*, ticket, user=None, now=None) -> Ticket:
    """Mark the ticket solved; it closes by itself unless the shopper writes again."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if locked.status in (Status.RESOLVED, Status.CLOSED):
            raise SupportError(
                _("Ticket %(number)s is already solved.") % {"number": locked.number}
            )
        record(
            actor=user,
            action="ticket.resolved",
            target=locked,
            before={"status": locked.status},
            after={"status": Status.RESOLVED},
        )
        locked.status, locked.resolved_at = Status.RESOLVED, now
        locked.save(update_fields=["status", "resolved_at", "updated_at"])
        _record_step(locked, _("Marked as resolved."), user)
    _copy(locked, ticket)
    return ticket


def close_resolved_tickets(*, now=None) -> int:
    """Close the tickets resolved SUPPORT_CLOSE_RESOLVED_AFTER_DAYS ago; safe to run again."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SUPPORT_CLOSE_RESOLVED_AFTER_DAYS)
    with transaction.atomic():
        return Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lt=cutoff).update(
            status=Status.CLOSED, updated_at=now
        )


# Returns


def request_return(
    *, order, quantities, reason, user=None, language="en", now=None, pay_back_to=""
):
    """Ask to return some units of a delivered order's lines, opening a return ticket.

    `quantities` maps order line ids to the units to return; lines with 0 are left out.
    The refund is what the shopper paid for those units, discounts included. An order paid
    by hand (cash, bank transfer) is paid back by transfer, to the account in `pay_back_to`
    (the return form asks for it; staff ask the shopper when it is missing).
    The caller has checked that this shopper may act on the order.
    """
    reason = str(reason or "").strip()
    if not reason:
        raise SupportError(_("Tell us why you are returning these items."))
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        deadline = selectors.return_deadline(order)
        if deadline is None or (now or timezone.now()) > deadline:
            raise SupportError(
                _(
                    "Order %(number)s can't be returned: we take returns for %(days)d days"
                    " after delivery."
                )
                % {"number": order.number, "days": settings.RETURN_WINDOW_DAYS}
            )
        returnable = {line.pk: (line, left) for line, left in selectors.returnable_lines(order)}
        returned = selectors.returned_units(order)
        wanted = {}
        for line_id, quantity in quantities.items():
            if not quantity:
                continue
            if line_id not in returnable:
                raise SupportError(
                    _("That item is not part of order %(number)s.") % {"number": order.number}
                )
            line, left = returnable[line_id]
            if quantity < 0 or quantity > left:
                raise SupportError(
                    _("You can return at most %(left)d of “%(item)s”.")
                    % {"left": left, "item": line.product_title}
                )
            wanted[line] = quantity
        if not wanted:
            raise SupportError(_("Choose at least one item to return."))
        lines_text = "\n".join(
            f"{qty} × {line.product_title} ({line.sku})" for line, qty in wanted.items()
        )
        ticket = _create_ticket(
            user=_signed_in(user) or order.user,
            email=order.email,
            order=order,
            subject=_("Return for order %(number)s") % {"number": order.number},
            category=Ticket.Category.RETURN,
            language=language,
        )
        message = _add_message(
            ticket=ticket,
            body=f"{lines_text}\n\n{reason}",
            kind=Message.Kind.REPLY,
            author=_signed_in(user),
        )
        return_request = ReturnRequest.objects.create(
            order=order,
            ticket=ticket,
            reason=reason,
            pay_back_to=str(pay_back_to or "").strip()[:255],
            amount=sum(
                refund_for_units(line, units=qty, returned_before=returned[line.pk])
                for line, qty in wanted.items()
            ),
        )
        ReturnLine.objects.bulk_create(
            ReturnLine(return_request=return_request, order_line=line, quantity=qty)
            for line, qty in wanted.items()
        )
        _record_step(ticket, _("Return requested."), user)
        queue_message_email(message=message)
    return return_request


def _locked_return(return_request, *, expected):
    locked = (
        ReturnRequest.objects.select_for_update()
        .select_related("ticket", "order")
        .get(pk=return_request.pk)
    )
    if locked.status != expected:
        raise SupportError(
            _("This return is “%(status)s”.") % {"status": locked.get_status_display()}
        )
    return locked


def approve_return(*, return_request, user, note="") -> ReturnRequest:
    with transaction.atomic():
        locked = _locked_return(return_request, expected=ReturnRequest.Status.REQUESTED)
        locked.status, locked.decided_at = ReturnRequest.Status.APPROVED, timezone.now()
        locked.save(update_fields=["status", "decided_at"])
        record(
            actor=user,
            action="return.approved",
            target=locked,
            before={"status": ReturnRequest.Status.REQUESTED},
            after={"status": locked.status},
            note=note,
        )
        text = _("Return approved: please send the items back.")
        _record_step(locked.ticket, f"{text} {note}".strip(), user)
    return locked


def reject_return(*, return_request, user, note="") -> ReturnRequest:
    with transaction.atomic():
        locked = _locked_return(return_request, expected=ReturnRequest.Status.REQUESTED)
        locked.status, locked.decided_at = ReturnRequest.Status.REJECTED, timezone.now()
        locked.save(update_fields=["status", "decided_at"])
        record(
            actor=user,
            action="return.rejected",
            target=locked,
            before={"status": ReturnRequest.Status.REQUESTED},
            after={"status": locked.status},
            note=note,
        )
        text = _("Return declined.")
        _record_step(locked.ticket, f"{text} {note}".strip(), user)
    return locked


def receive_return(*, return_request, warehouse, user) -> ReturnRequest:
    """The parcel came back: restock it in `warehouse` and refund the returned lines.

    Stock, refund record and ticket step are one transaction; a card refund then goes to
    Stripe, and if Stripe does not answer now the payments sweep sends it later.
    """
    with transaction.atomic():
        locked = _locked_return(return_request, expected=ReturnRequest.Status.APPROVED)
        payment = (
            Payment.objects.filter(order=locked.order, status=Payment.Status.SUCCEEDED)
            .order_by("pk")
            .first()
        )
        if payment is None:
            raise SupportError(
                _("Order %(number)s has no received payment to refund.")
                % {"number": locked.order.number}
            )
        note = _("Return %(ticket)s") % {"ticket": locked.ticket.number}
        for line in locked.lines.select_related("order_line__variant"):
            if line.order_line.variant is not None:
                return_stock(
                    variant=line.order_line.variant,
                    warehouse=warehouse,
                    quantity=line.quantity,
                    order=locked.order,
                    user=user,
                    note=note,
                )
        try:
            refund = request_refund(
                payment=payment,
                amount=locked.amount,
                reason=note,
                user=user,
                idempotency_key=f"return-{locked.pk}",
                pay_back_to=locked.pay_back_to,
            )
        except PaymentError as error:
            raise SupportError(str(error)) from error
        locked.status, locked.warehouse, locked.refund = (
            ReturnRequest.Status.REFUNDED,
            warehouse,
            refund,
        )
        locked.received_at = timezone.now()
        locked.save(update_fields=["status", "warehouse", "refund", "received_at"])
        record(
            actor=user,
            action="return.received",
            target=locked,
            before={"status": ReturnRequest.Status.APPROVED},
            after={"status": locked.status, "warehouse": warehouse.code, "refund": refund.pk},
        )
        amount = {"amount": locked.amount, "currency": payment.currency}
        if refund.is_manual:
            step = _("Items received; %(amount)s %(currency)s to pay back by transfer.") % amount
        else:
            step = _("Items received; %(amount)s %(currency)s refunded to the card.") % amount
        _record_step(locked.ticket, step, user)
    # The refund stays recorded when Stripe fails: payments retries it or shows staff why.
    with contextlib.suppress(PaymentError):
        send_refund(refund=refund)
    return locked
