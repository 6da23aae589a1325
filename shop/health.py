"""The /healthz probe: is each service the shop depends on reachable?

A load balancer reads it to decide whether this web node should get traffic. Only the database
is needed to serve pages: without Redis (cache, broker) the shop is slower but answers, and the
work it queues waits in the database. So the answer is 503 only when the database is
unreachable, and 200 "degraded", naming the parts that are down, when only Redis or the broker
is; pulling every web node because the cache restarted would take the shop down for nothing.
Every probe has a timeout well under a second, except the database's connect timeout.
"""

import uuid

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from .cache_backend import RedisCache
from .celery import app as celery_app

PROBE_TIMEOUT = 0.5
# The parts the shop can't answer without; the others only make it degraded.
REQUIRED = {"database"}


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache():
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        # The backend answers a Redis error as a miss; the probe needs the error itself.
        cache.ping()
        return
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "ok", timeout=5)
    if cache.get(key) != "ok":
        raise RuntimeError("cache did not return what was stored")
    cache.delete(key)


def check_broker():
    with celery_app.connection_for_write(
        connect_timeout=PROBE_TIMEOUT,
        transport_options={"socket_connect_timeout": PROBE_TIMEOUT},
    ) as conn:
        conn.ensure_connection(max_retries=0, timeout=PROBE_TIMEOUT)


def service_checks():
    """The checks that apply to this deployment; the broker only when tasks are queued."""
    checks = {"database": check_database, "cache": check_cache}
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        checks["broker"] = check_broker
    return checks


@never_cache
def healthz(request):
    results, down = {}, []
    for name, check in service_checks().items():
        try:
            check()
        except Exception as exc:  # any failure means "down"; the reason goes in the answer
            results[name] = f"down: {exc.__class__.__name__}"
            down.append(name)
        else:
            results[name] = "ok"
    if REQUIRED.intersection(down):
        status, code = "down", 503
    elif down:
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    body = {"status": status, "checks": results}
    if down:
        body["down"] = down
    return JsonResponse(body, status=code)
