"""Fixtures for payments: a real localstripe server, Stripe settings, signed webhooks and a
real Celery worker on Redis.

localstripe and the worker run as subprocesses; every one is killed by a finalizer, and every
wait polls with a deadline, so a hung service fails the test instead of hanging the suite.
"""

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest
import requests
import stripe
from django.conf import settings as django_settings
from django.db import connection
from django.urls import reverse
from psycopg2 import sql

from tests.conftest import skip_or_fail

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_test"
SECRET_KEY = "sk_test_local"
PUBLISHABLE_KEY = "pk_test_local"
STARTUP_SECONDS = 30


def free_port():
    """A port free on every interface: localstripe listens on '::' (IPv4 and IPv6)."""
    family, host = (socket.AF_INET6, "::") if socket.has_ipv6 else (socket.AF_INET, "")
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until(condition, *, timeout, message, interval=0.1):
    """Poll condition() until it returns something truthy; fail with message after timeout.

    message may be a callable, to describe the state at the time of failure (a worker's log).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            pytest.fail(f"{text} (waited {timeout} s)")
        time.sleep(interval)


def _terminate(process, *, grace=5):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace)


def _tail(path, lines=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


# localstripe


@pytest.fixture(scope="session")
def localstripe(request):
    """The base URL of a localstripe started for this test session on a free port."""
    executable = BIN / "localstripe"
    if not executable.exists():
        pytest.fail(
            f"localstripe is not installed at {executable}: pip install -r requirements-dev.txt"
        )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    fd, log_path = tempfile.mkstemp(prefix="localstripe-", suffix=".log")
    with os.fdopen(fd, "w") as log:
        process = subprocess.Popen(
            [str(executable), "--port", str(port), "--from-scratch"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    request.addfinalizer(lambda: (_terminate(process), os.unlink(log_path)))

    def answers():
        if process.poll() is not None:
            pytest.fail(f"localstripe exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            response = requests.get(f"{base_url}/v1/balance", auth=(SECRET_KEY, ""), timeout=1)
        except requests.ConnectionError:
            return False
        return response.status_code < 500

    wait_until(answers, timeout=STARTUP_SECONDS, message="localstripe did not answer")
    return base_url


@pytest.fixture
def stripe_settings(localstripe, settings):
    """Point the stripe SDK at localstripe and give the shop test keys; restored after."""
    saved = stripe.api_base
    stripe.api_base = localstripe
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    yield settings
    stripe.api_base = saved


@pytest.fixture
def register_localstripe_webhook(localstripe):
    """register(url, secret=...) makes localstripe deliver its events, signed, to url.

    localstripe can't forget an endpoint, and it lives for the whole session: after the test
    each endpoint is narrowed to an event type that never happens, so a later test's server
    on a reused port gets nothing meant for this one.
    """
    registered = []

    def configure(webhook_id, **fields):
        response = requests.post(
            f"{localstripe}/_config/webhooks/{webhook_id}", timeout=5, **fields
        )
        response.raise_for_status()

    def register(url, *, secret=WEBHOOK_SECRET, webhook_id=None):
        webhook_id = webhook_id or f"wh_{uuid.uuid4().hex[:12]}"
        configure(webhook_id, data={"url": url, "secret": secret})
        registered.append((webhook_id, url, secret))
        return webhook_id

    yield register
    for webhook_id, url, secret in registered:
        configure(webhook_id, json={"url": url, "secret": secret, "events": ["test.finished"]})


# Signed webhooks, as Stripe sends them


def stripe_signature(payload, *, secret=WEBHOOK_SECRET, timestamp=None):
    """The Stripe-Signature header for payload (str), as Stripe signs its webhooks:
    t=<timestamp>,v1=<HMAC-SHA256(secret, "<timestamp>.<payload>")>."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.{payload}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def stripe_event(event_type, data_object, *, event_id=None):
    """A Stripe event envelope around data_object (e.g. a PaymentIntent as a dict)."""
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": stripe.api_version,
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": data_object},
    }


@pytest.fixture
def post_stripe_event(client, stripe_settings):
    """post(event) sends a Stripe event to our webhook, signed with STRIPE_WEBHOOK_SECRET."""

    def post(event, *, secret=WEBHOOK_SECRET, signature=None):
        payload = event if isinstance(event, str) else json.dumps(event)
        header = signature if signature is not None else stripe_signature(payload, secret=secret)
        return client.post(
            reverse("payments:stripe_webhook"),
            data=payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=header,
        )

    return post


# A real Celery worker on Redis


def database_url_for_worker():
    """A URL for the database this test uses (the test database, not the configured one)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"


class CeleryWorker:
    """A `celery -A shop worker` subprocess on the test database and REDIS_URL.

    start() waits until the worker is ready to consume; kill() is SIGKILL, as when a machine
    dies: no warm shutdown, so a task it was running stays unacknowledged in Redis.
    """

    def __init__(self, *, env):
        self.env = env
        self.process = None
        self.log_path = None
        self.log_paths = []

    def start(self):
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the worker is already running")
        fd, self.log_path = tempfile.mkstemp(prefix="celery-worker-", suffix=".log")
        self.log_paths.append(self.log_path)
        # The test's Stripe keys as they are now (stripe_settings may have set them).
        env = {
            **self.env,
            "STRIPE_SECRET_KEY": django_settings.STRIPE_SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": django_settings.STRIPE_PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": django_settings.STRIPE_WEBHOOK_SECRET,
        }
        with os.fdopen(fd, "w") as log:
            self.process = subprocess.Popen(
                [
                    str(BIN / "celery"),
                    "-A",
                    "shop",
                    "worker",
                    "--pool=solo",
                    "--concurrency=1",
                    "-Q",
                    "celery",
                    "-n",
                    f"test-{uuid.uuid4().hex[:8]}@%h",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

        def ready():
            if self.process.poll() is not None:
                pytest.fail(
                    f"the Celery worker exited with {self.process.returncode}:\n{self.log()}"
                )
            return " ready." in Path(self.log_path).read_text(errors="replace")

        wait_until(
            ready,
            timeout=STARTUP_SECONDS,
            message=lambda: f"the Celery worker was not ready:\n{self.log()}",
        )
        return self

    def is_running(self):
        return self.process is not None and self.process.poll() is None

    def kill(self):
        """SIGKILL: the worker gets no chance to acknowledge or give back what it holds."""
        if self.is_running():
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self):
        return _tail(self.log_path) if self.log_path else ""

    def remove_logs(self):
        for path in self.log_paths:
            if os.path.exists(path):
                os.unlink(path)


def point_celery_at(app, *, broker_url, result_backend):
    """Send this process's tasks to broker_url, dropping what was connected to the old one."""
    app.conf.broker_url = broker_url
    app.conf.result_backend = result_backend
    # kombu keeps one pool per broker URL for the whole process: forget ours, close none.
    app._pool = None
    app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


class HeldTransaction:
    """A statement run by a connection of its own in a transaction left open, as a slow
    transaction would hold its locks: a row locked FOR UPDATE, a unique key inserted."""

    def __init__(self, statement, params=()):
        db = connection.settings_dict
        self.connection = psycopg2.connect(
            dbname=db["NAME"],
            user=db["USER"],
            password=db["PASSWORD"],
            host=db["HOST"] or None,
            port=db["PORT"] or None,
        )
        with self.connection.cursor() as cursor:
            cursor.execute(statement, list(params))
            cursor.execute("SELECT pg_backend_pid()")
            self.pid = cursor.fetchone()[0]

    def waiters(self):
        """The database sessions waiting for this transaction.

        Asked on the test's own connection: within the held transaction pg_stat_activity
        would keep answering from the snapshot it took first.
        """
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [self.pid],
            )
            return [row[0] for row in cursor.fetchall()]

    def release(self):
        self.connection.rollback()
        self.connection.close()


def row_lock(table, pk):
    """The row held FOR UPDATE by a transaction of its own."""
    query = sql.SQL("SELECT id FROM {} WHERE id = %s FOR UPDATE").format(sql.Identifier(table))
    return HeldTransaction(query, [pk])


@contextmanager
def broker_unreachable(app):
    """This process's broker and result backend point at a port where nothing listens."""
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    saved = app.conf.broker_url, app.conf.result_backend
    point_celery_at(app, broker_url=nowhere, result_backend=nowhere)
    try:
        yield
    finally:
        point_celery_at(app, broker_url=saved[0], result_backend=saved[1])


@pytest.fixture
def celery_worker_process(request, transactional_db):
    """A running worker, and this process's tasks sent through Redis to it instead of eagerly.

    Needs PostgreSQL (SQLite's test database is in memory, the worker could not see it) and
    Redis. The test must use django_db(transaction=True): the worker sees committed rows only.
    The worker is killed before the test database is flushed.
    """
    redis_url = os.environ.get("REDIS_URL", "")
    if not django_settings.IS_POSTGRES:
        skip_or_fail("a Celery worker needs PostgreSQL: set DATABASE_URL=postgres://...")
    if not redis_url:
        skip_or_fail("a Celery worker needs Redis: set REDIS_URL=redis://...")

    from shop.celery import app

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop.settings",
        "DATABASE_URL": database_url_for_worker(),
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    worker = CeleryWorker(env=env)

    saved = app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend
    app.conf.task_always_eager = False
    point_celery_at(app, broker_url=redis_url, result_backend=redis_url)

    def restore():
        worker.kill()
        worker.remove_logs()
        app.conf.task_always_eager = saved[0]
        point_celery_at(app, broker_url=saved[1], result_backend=saved[2])

    request.addfinalizer(restore)
    return worker.start()
