"""The shop project: settings, URLs, the Celery app and helpers every app may use."""

from .celery import app as celery_app

__all__ = ["celery_app"]
