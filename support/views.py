"""Customer service pages: parse the request, call a service or selector, render."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from orders.models import Order
from orders.selectors import order_for_viewer
from payments.gateways import paid_by_hand

from . import selectors, services
from .forms import ReceiveReturnForm, ReplyForm, ReturnForm, StaffReplyForm, TicketForm
from .models import Attachment, Message, ReturnRequest, Ticket


def _first_error(form):
    return next(iter(form.errors.values()))[0]


def _ticket_url(ticket, key=""):
    url = reverse("support:ticket_detail", args=[ticket.number])
    return f"{url}?{urlencode({'key': key})}" if key else url


def help_page(request):
    query = request.GET.get("q", "")[:100]
    return render(
        request,
        "support/help.html",
        {"articles": selectors.help_articles(query), "query": query},
    )


@login_required
def ticket_list(request):
    return render(
        request, "support/ticket_list.html", {"tickets": selectors.tickets_for_user(request.user)}
    )


def _order_from_link(request):
    """The order named in ?order= if this viewer may see it (owner, or a guest's order key)."""
    number = request.GET.get("order") or request.POST.get("order_link", "")
    if not number:
        return None, ""
    key = request.GET.get("key") or request.POST.get("key", "")
    return order_for_viewer(number=number, user=request.user, key=key), key


def ticket_new(request):
    linked_order, key = _order_from_link(request)
    guest = not request.user.is_authenticated and linked_order is None
    orders = Order.objects.filter(user=request.user) if request.user.is_authenticated else None
    initial = {"order": linked_order.number if linked_order else "", "category": "order"}
    form = TicketForm(request.POST or None, orders=orders, guest=guest, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                if guest:
                    order = services.find_guest_order(
                        number=data["order_number"], email=data["email"]
                    )
                elif orders is None:
                    order = linked_order
                else:
                    order = data["order"] and get_object_or_404(orders, number=data["order"])
                ticket = services.open_ticket(
                    subject=data["subject"],
                    body=data["body"],
                    category=data["category"],
                    user=request.user,
                    order=order or None,
                    attachments=request.FILES.getlist("attachments"),
                    language=get_language(),
                )
            except services.SupportError as error:
                messages.error(request, str(error))
                status = 400
            else:
                messages.success(
                    request, _("Your request %(number)s is with us.") % {"number": ticket.number}
                )
                return redirect(_ticket_url(ticket, "" if ticket.user_id else ticket.access_key))
        else:
            messages.error(request, _first_error(form))
            status = 400
    context = {"form": form, "linked_order": linked_order, "key": key, "guest": guest}
    return render(request, "support/ticket_new.html", context, status=status)


def ticket_detail(request, number):
    key = request.GET.get("key") or request.POST.get("key", "")
    ticket = selectors.ticket_for_viewer(number=number, user=request.user, key=key)
    form = ReplyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.reply(
                    ticket=ticket,
                    body=form.cleaned_data["body"],
                    author=request.user,
                    attachments=request.FILES.getlist("attachments"),
                )
            except services.SupportError as error:
                messages.error(request, str(error))
                status = 400
            else:
                messages.success(request, _("Your reply was sent."))
                return redirect(_ticket_url(ticket, key))
        else:
            messages.error(request, _first_error(form))
            status = 400
    context = {
        "ticket": ticket,
        "thread": selectors.thread(ticket),
        "form": form,
        "key": key,
        "return_request": ReturnRequest.objects.filter(ticket=ticket).first(),
    }
    return render(request, "support/ticket_detail.html", context, status=status)


def return_new(request, number):
    key = request.GET.get("key") or request.POST.get("key", "")
    order = order_for_viewer(number=number, user=request.user, key=key)
    form = ReturnForm(
        request.POST or None,
        lines=selectors.returnable_lines(order),
        by_hand=paid_by_hand(order.payment_method),
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                return_request = services.request_return(
                    order=order,
                    quantities=form.quantities(),
                    reason=form.cleaned_data["reason"],
                    pay_back_to=form.cleaned_data.get("pay_back_to", ""),
                    user=request.user,
                    language=get_language(),
                )
            except services.SupportError as error:
                messages.error(request, str(error))
                status = 400
            else:
                messages.success(request, _("We received your return request."))
                ticket = return_request.ticket
                return redirect(_ticket_url(ticket, "" if ticket.user_id else ticket.access_key))
        else:
            messages.error(request, _first_error(form))
            status = 400
    context = {
        "order": order,
        "form": form,
        "key": key,
        "deadline": selectors.return_deadline(order),
        "can_return": selectors.can_return(order),
    }
    return render(request, "support/return_new.html", context, status=status)


def _attachment_for_viewer(request, pk):
    """The attachment if this viewer may read its message, else 404 as for one that doesn't exist.

    Staff who may view tickets read every attachment; the ticket's shopper, or whoever holds
    its secret link, reads those of the messages they see (never of internal notes).
    """
    attachment = get_object_or_404(Attachment.objects.select_related("message__ticket"), pk=pk)
    if request.user.is_staff and request.user.has_perm("support.view_ticket"):
        return attachment
    if attachment.message.kind == Message.Kind.NOTE:
        raise Http404
    selectors.ticket_for_viewer(
        number=attachment.message.ticket.number, user=request.user, key=request.GET.get("key", "")
    )
    return attachment


@never_cache
def attachment_file(request, pk):
    """Hand out an attachment as a download, of the type detected when it was uploaded.

    The headers keep a browser from rendering it, sniffing it into something else or running
    it on the shop's origin, whatever the file holds.
    """
    attachment = _attachment_for_viewer(request, pk)
    try:
        file = attachment.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404 from missing
    response = FileResponse(
        file,
        as_attachment=True,
        filename=attachment.download_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# The staff desk: one ticket with its whole thread, for answering; lists live in admin.


def _desk_page(request, ticket, form, *, status=200):
    return_request = (
        ReturnRequest.objects.filter(ticket=ticket).prefetch_related("lines__order_line").first()
    )
    context = {
        "ticket": ticket,
        "thread": selectors.thread(ticket, internal=True),
        "form": form,
        "overdue": selectors.is_overdue(ticket),
        "return_request": return_request,
        "receive_form": ReceiveReturnForm(),
    }
    return render(request, "support/desk_ticket.html", context, status=status)


def _desk_ticket(number):
    return get_object_or_404(
        Ticket.objects.select_related("order", "assignee", "user"), number=number
    )


@staff_member_required
@permission_required("support.view_ticket", raise_exception=True)
def desk_ticket(request, number):
    ticket = _desk_ticket(number)
    form = StaffReplyForm(request.POST or None)
    if request.method != "POST":
        return _desk_page(request, ticket, form)
    if not request.user.has_perm("support.change_ticket"):
        raise PermissionDenied
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return _desk_page(request, ticket, form, status=400)
    text, files = form.cleaned_data["text"], request.FILES.getlist("attachments")
    try:
        if form.cleaned_data["internal"]:
            services.add_internal_note(
                ticket=ticket, body=text, author=request.user, attachments=files
            )
        else:
            services.reply(
                ticket=ticket, body=text, author=request.user, as_staff=True, attachments=files
            )
    except services.SupportError as error:
        messages.error(request, str(error))
        return _desk_page(request, ticket, form, status=400)
    messages.success(request, _("Saved."))
    return redirect("support:desk_ticket", number=ticket.number)


# What each desk action asks for: answering the ticket, or deciding on its return (which
# restocks and refunds when the parcel is received).
DESK_ACTION_PERMISSIONS = {
    "assign": "support.change_ticket",
    "resolve": "support.change_ticket",
    "approve": "support.change_returnrequest",
    "reject": "support.change_returnrequest",
    "receive": "support.change_returnrequest",
}


def _run_desk_action(request, ticket, action):
    return_request = ReturnRequest.objects.filter(ticket=ticket).first()
    if action == "assign":
        services.assign(ticket=ticket, assignee=request.user)
    elif action == "resolve":
        services.resolve(ticket=ticket, user=request.user)
    elif return_request is None:
        raise services.SupportError(_("This ticket has no return."))
    elif action == "approve":
        services.approve_return(return_request=return_request, user=request.user)
    elif action == "reject":
        services.reject_return(return_request=return_request, user=request.user)
    elif action == "receive":
        form = ReceiveReturnForm(request.POST)
        if not form.is_valid():
            raise services.SupportError(_first_error(form))
        services.receive_return(
            return_request=return_request,
            warehouse=form.cleaned_data["warehouse"],
            user=request.user,
        )
    else:
        raise services.SupportError(_("There is nothing to do here."))


@staff_member_required
@permission_required("support.view_ticket", raise_exception=True)
@require_POST
def desk_action(request, number, action):
    if not request.user.has_perm(DESK_ACTION_PERMISSIONS.get(action, "support.change_ticket")):
        raise PermissionDenied
    ticket = _desk_ticket(number)
    try:
        _run_desk_action(request, ticket, action)
    except services.SupportError as error:
        messages.error(request, str(error))
        return _desk_page(request, ticket, StaffReplyForm(), status=400)
    messages.success(request, _("Done."))
    return redirect("support:desk_ticket", number=ticket.number)
