"""Records shared by every app: the log of emails already sent."""

from django.db import models
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
