"""Customer service: tickets and their conversations, returns, canned replies and help pages."""

import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 12, "decimal_places": 2}


class Ticket(models.Model):
    class Category(models.TextChoices):
        ORDER = "order", _("Order")
        PAYMENT = "payment", _("Payment")
        SHIPPING = "shipping", _("Shipping")
        RETURN = "return", _("Return")
        PRODUCT = "product", _("Product")
        OTHER = "other", _("Other")

    class Priority(models.TextChoices):
        LOW = "low", _("Low")
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("High")
        URGENT = "urgent", _("Urgent")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WAITING_CUSTOMER = "waiting_customer", _("Waiting for customer")
        WAITING_STAFF = "waiting_staff", _("Waiting for staff")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    number = models.CharField(_("number"), max_length=20, unique=True)
    # The secret in a guest's link to the ticket page.
    access_key = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    email = models.EmailField(_("email"))
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("order"),
    )
    subject = models.CharField(_("subject"), max_length=200)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        limit_choices_to={"is_staff": True},
        verbose_name=_("assignee"),
    )
    language = models.CharField(max_length=10, default="en")
    created_at = models.DateTimeField(_("opened"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["status", "first_response_at", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["open", "waiting_customer", "waiting_staff", "resolved", "closed"]
                ),
                name="ticket_status_known",
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_at__isnull=False),
                name="resolved_ticket_has_resolved_at",
            ),
        ]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("support:ticket_detail", args=[self.number])


class Message(models.Model):
    """One entry in a ticket's thread: a reply, a note only staff see, or a recorded step."""

    class Kind(models.TextChoices):
        REPLY = "reply", _("Reply")
        NOTE = "note", _("Internal note")
        EVENT = "event", _("Step")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.REPLY)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_staff = models.BooleanField(_("from staff"), default=False)
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(_("sent"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="note") | Q(from_staff=True), name="only_staff_write_notes"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.ticket_id}"

    @property
    def is_internal(self):
        return self.kind == self.Kind.NOTE


class PrivateStorage(FileSystemStorage):
    """Files no URL reaches: kept in PRIVATE_MEDIA_ROOT, outside MEDIA_ROOT, with no base URL.

    A shopper's upload is handed out only by a view that checks who asks, so a file a browser
    would run as a page (HTML, SVG) can never be served from the shop's own origin.
    """

    @cached_property
    def base_location(self):
        return settings.PRIVATE_MEDIA_ROOT

    @cached_property
    def base_url(self):
        return None

    def _clear_cached_properties(self, setting, **kwargs):
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "PRIVATE_MEDIA_ROOT":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)


def private_storage():
    return PrivateStorage()


# The types support.services.check_attachment detects from a file's bytes, and the suffix
# each is stored and downloaded under.
ATTACHMENT_SUFFIXES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}


def attachment_path(attachment, filename):
    """A random name under the suffix of the detected type; the shopper's name plays no part.

    Random, so one shopper's files can't be found by guessing another's.
    """
    return f"support/{uuid.uuid4().hex}{ATTACHMENT_SUFFIXES[attachment.content_type]}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to=attachment_path, storage=private_storage)
    # The shopper's own file name: display text only, never a path.
    name = models.CharField(_("name"), max_length=200)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField(_("size"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(content_type__in=list(ATTACHMENT_SUFFIXES)),
                name="attachment_type_known",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def download_name(self):
        """The shopper's file name under the suffix of what the file really is."""
        return f"{Path(self.name).stem or 'attachment'}{ATTACHMENT_SUFFIXES[self.content_type]}"


class CannedReply(models.Model):
    title = models.CharField(_("title"), max_length=120, unique=True)
    body = models.TextField(_("text"))

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["title"]

    def __str__(self):
        return self.title


class HelpArticle(models.Model):
    question = models.CharField(_("question"), max_length=200)
    answer = models.TextField(_("answer"))
    is_published = models.BooleanField(_("published"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("help article")
        verbose_name_plural = _("help articles")
        ordering = ["position", "pk"]

    def __str__(self):
        return self.question


class ReturnRequest(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        REFUNDED = "refunded", _("Received and refunded")

    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="return_requests"
    )
    ticket = models.OneToOneField(Ticket, on_delete=models.PROTECT, related_name="return_request")
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.REQUESTED
    )
    reason = models.TextField(_("reason"))
    warehouse = models.ForeignKey(
        "shipping.Warehouse",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("received into"),
    )
    refund = models.OneToOneField(
        "payments.Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    amount = models.DecimalField(_("refund amount"), **MONEY)
    # For orders paid by hand: the account the shopper wants the refund transferred to.
    pay_back_to = models.CharField(_("pay back to"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    received_at = models.DateTimeField(_("received"), null=True, blank=True)

    class Meta:
        verbose_name = _("return request")
        verbose_name_plural = _("return requests")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="return_amount_not_negative"),
            models.CheckConstraint(
                condition=~Q(status="refunded") | Q(warehouse__isnull=False),
                name="received_return_has_warehouse",
            ),
        ]

    def __str__(self):
        return f"{self.order_id} ({self.status})"


class ReturnLine(models.Model):
    return_request = models.ForeignKey(
        ReturnRequest, on_delete=models.CASCADE, related_name="lines"
    )
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("return line")
        verbose_name_plural = _("return lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="return_quantity_positive"),
            models.UniqueConstraint(
                fields=["return_request", "order_line"], name="one_return_line_per_order_line"
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.order_line_id}"
