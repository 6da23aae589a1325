"""Records shared by every app: the log of emails sent, the audit trail and the outbox."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SentEmail(models.Model):
    """One email that left the shop; its unique key is what keeps it from leaving twice."""

    key = models.CharField(_("key"), max_length=200, unique=True)
    recipient = models.EmailField(_("recipient"))
    subject = models.CharField(_("subject"), max_length=255)
    sent_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("sent email")
        verbose_name_plural = _("sent emails")
        ordering = ["-sent_at"]

    def __str__(self):
        return self.key


class AuditEntryIsFinal(Exception):
    """The audit trail is only ever added to: an entry once written is never changed or deleted."""

    def __init__(self):
        super().__init__(_("The audit trail can't be changed or deleted."))


class AuditEntryQuerySet(models.QuerySet):
    """Refuses the bulk writes that would rewrite or erase the trail."""

    def update(self, **kwargs):
        raise AuditEntryIsFinal()

    def delete(self):
        raise AuditEntryIsFinal()


class AuditEntry(models.Model):
    """One thing a staff member did: who, when, to what, and the fields before and after.

    Written only by `shop.audit.record`, in the transaction of the action it records, so an
    entry exists exactly when its action does. Never changed or deleted: the model and its
    queryset refuse, and on PostgreSQL a trigger refuses UPDATE and DELETE from anywhere,
    which is also why the actor is protected. The object is named by type, id and label
    rather than a foreign key, so the entry outlives it.
    """

    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("who"),
    )
    action = models.CharField(_("action"), max_length=60, db_index=True)
    target_type = models.CharField(_("object type"), max_length=100)
    target_id = models.CharField(_("object id"), max_length=64)
    target_label = models.CharField(_("object"), max_length=255)
    before = models.JSONField(_("before"), null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(_("after"), null=True, blank=True, encoder=DjangoJSONEncoder)
    note = models.CharField(_("note"), max_length=255, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        ordering = ["-created_at", "-pk"]
        # No permission to grant: superusers read the trail, no role can be given it.
        default_permissions = ()
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_entry_target")]

    def __str__(self):
        return f"{self.action} {self.target_label}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditEntryIsFinal()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditEntryIsFinal()


class OutboxQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(done_at__isnull=True, last_error="")

    def failed(self):
        return self.filter(done_at__isnull=True).exclude(last_error="")

    def done(self):
        return self.filter(done_at__isnull=False)


class OutboxMessage(models.Model):
    """Work a business change asks for (an email, a task), written in the change's transaction.

    Written only by `shop.outbox.enqueue`, so the row exists exactly when the change does; the
    outbox hands it to Celery after commit, and again until its task has succeeded once. The
    unique key names the effect (an order's confirmation, a refund's sending): enqueueing it a
    second time adds nothing, and the task it runs is safe to run twice.
    """

    task = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list, encoder=DjangoJSONEncoder)
    key = models.CharField(_("key"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    available_at = models.DateTimeField(_("due"), default=timezone.now)
    dispatched_at = models.DateTimeField(_("handed to Celery"), null=True, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    objects = OutboxQuerySet.as_manager()

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The dispatcher reads only the rows not done yet, oldest due first.
            models.Index(
                fields=["available_at"],
                condition=models.Q(done_at__isnull=True),
                name="outbox_not_done",
            ),
            models.Index(fields=["done_at"], name="outbox_done"),
        ]

    def __str__(self):
        return self.key
