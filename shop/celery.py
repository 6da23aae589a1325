"""The Celery application; tasks are discovered in each app's tasks.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Workers and beat ride out a broker outage by themselves: they keep reconnecting, also when
# Redis is not up yet as they start, rather than exiting and waiting for someone to restart
# them. The database needs nothing here: each task starts by dropping an unusable connection.
app.conf.update(
    broker_connection_retry=True,
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,
)
app.autodiscover_tasks()
