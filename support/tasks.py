"""Celery tasks of customer service: thin, safe to run twice."""

from celery import shared_task

from shop.emails import EMAIL_TASK_OPTIONS

from . import emails, services
from .models import Message


@shared_task(**EMAIL_TASK_OPTIONS)
def send_message_email(message_id):
    message = Message.objects.select_related("ticket__assignee").filter(pk=message_id).first()
    if message is None:
        return False
    return emails.deliver_message_email(message=message)


@shared_task(acks_late=True)
def close_resolved_tickets():
    """Close tickets resolved long enough ago that the shopper is evidently content."""
    return services.close_resolved_tickets()
