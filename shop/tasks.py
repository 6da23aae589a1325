"""Celery tasks of the project package: the outbox's dispatcher."""

from celery import shared_task

from . import outbox


@shared_task(acks_late=True)
def dispatch_outbox():
    """Every 30 seconds (beat): hand over what the outbox holds due; drop rows done long ago.

    Returns how many rows were handed over.
    """
    handed = outbox.dispatch()
    outbox.purge_done()
    return handed
