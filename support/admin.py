"""What staff see of this app in Django admin: the ticket desk, returns, canned replies, help."""

from django.contrib import admin, messages
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import selectors, services
from .models import CannedReply, HelpArticle, Message, ReturnLine, ReturnRequest, Ticket


class QueueFilter(admin.SimpleListFilter):
    """The desk's queues: nobody's yet, mine, and past the first-response target."""

    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("unassigned", _("Unassigned")),
            ("mine", _("Mine")),
            ("overdue", _("Overdue")),
        ]

    def queryset(self, request, queryset):
        open_tickets = Q(status__in=selectors.OPEN_STATUSES)
        if self.value() == "unassigned":
            return queryset.filter(open_tickets, assignee__isnull=True)
        if self.value() == "mine":
            return queryset.filter(open_tickets, assignee=request.user)
        if self.value() == "overdue":
            return queryset.filter(pk__in=selectors.overdue_tickets().values("pk"))
        return queryset


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["created_at", "kind", "author", "body"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "subject",
        "email",
        "category",
        "priority",
        "status",
        "assignee",
        "created_at",
        "overdue",
        "desk_link",
    ]
    list_filter = [QueueFilter, "status", "category", "priority"]
    search_fields = ["number", "subject", "email", "order__number", "messages__body"]
    list_select_related = ["assignee"]
    readonly_fields = [
        "number",
        "user",
        "email",
        "order",
        "created_at",
        "first_response_at",
        "resolved_at",
        "status",
        "assignee",
        "desk_link",
    ]
    fields = [
        "desk_link",
        "number",
        "subject",
        "user",
        "email",
        "order",
        "category",
        "priority",
        "status",
        "assignee",
        "created_at",
        "first_response_at",
        "resolved_at",
    ]
    inlines = [MessageInline]
    actions = ["assign_to_me", "mark_resolved"]

    def get_search_results(self, request, queryset, search_term):
        queryset, _duplicates = super().get_search_results(request, queryset, search_term)
        return queryset.distinct(), False

    @admin.display(boolean=True, description=_("overdue"))
    def overdue(self, ticket):
        return selectors.is_overdue(ticket)

    @admin.display(description=_("answer"))
    def desk_link(self, ticket):
        url = reverse("support:desk_ticket", args=[ticket.number])
        return format_html('<a href="{}">{}</a>', url, _("Open the conversation"))

    @admin.action(permissions=["change"], description=_("Assign to me"))
    def assign_to_me(self, request, queryset):
        for ticket in queryset:
            services.assign(ticket=ticket, assignee=request.user)
        self.message_user(request, _("Assigned to you."), messages.SUCCESS)

    @admin.action(permissions=["change"], description=_("Mark as resolved"))
    def mark_resolved(self, request, queryset):
        for ticket in queryset:
            try:
                services.resolve(ticket=ticket, user=request.user)
            except services.SupportError as error:
                self.message_user(request, str(error), messages.WARNING)


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    fields = ["order_line", "quantity"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ReturnRequest)
class ReturnRequestAdmin(admin.ModelAdmin):
    list_display = ["ticket", "order", "status", "amount", "created_at", "received_at"]
    list_filter = ["status"]
    search_fields = ["ticket__number", "order__number", "order__email"]
    readonly_fields = [
        "order",
        "ticket",
        "status",
        "reason",
        "amount",
        "warehouse",
        "refund",
        "created_at",
        "decided_at",
        "received_at",
    ]
    inlines = [ReturnLineInline]

    def has_add_permission(self, request):
        return False


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title"]
    search_fields = ["title", "body"]


@admin.register(HelpArticle)
class HelpArticleAdmin(admin.ModelAdmin):
    list_display = ["question", "is_published", "position"]
    list_editable = ["is_published", "position"]
    search_fields = ["question", "answer"]
