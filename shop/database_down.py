"""The short 503 page for a request made while the database is unreachable.

PostgreSQL restarting (a failover, an upgrade) must not show shoppers a stack trace or keep
them waiting: the connect timeout in DATABASES bounds the wait, and any request that then fails
on the database gets the shop's 503 page with a Retry-After. Nothing is done to recover: Django
drops a connection that failed at the end of the request (CONN_HEALTH_CHECKS checks a reused one
at the start), so the same processes serve normally as soon as the database is back.
"""

import logging
import sys

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 10


def unavailable_response():
    """The 503 page, drawn without the request: its context processors would query the
    database that is down."""
    page = render_to_string("503.html", {"SHOP_NAME": settings.SHOP_NAME})
    response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@receiver(got_request_exception)
def _note_database_error(sender, request=None, **kwargs):
    """Mark the request when a middleware (not the view) failed on the database; Django has
    already turned that into a 500 by the time the outer middleware sees it."""
    if request is not None and isinstance(sys.exc_info()[1], DATABASE_ERRORS):
        request.database_down = True


class DatabaseDownMiddleware:
    """Answer 503 instead of 500 when the database can't be reached; keep it outermost."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "database_down", False):
            return unavailable_response()
        return response

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_ERRORS):
            return None
        reason = (str(exception).strip().splitlines() or [exception.__class__.__name__])[0]
        logger.warning("Database unreachable, answered 503 to %s: %s", request.path, reason)
        return unavailable_response()
