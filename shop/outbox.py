"""The transactional outbox: the work a business change asks for, written with the change.

A service calls `enqueue("orders.tasks.send_order_email", order.pk, "placed", key=...)` inside
its transaction: one INSERT, no broker call, so the row exists exactly when the change does.
After commit the row is handed to Celery at once; when the broker is down the shopper notices
nothing and `dispatch` (beat every 30 seconds, and the dispatch_outbox command) hands it over
once the broker is back. A row handed over long ago and still not done, its message lost with
a flushed broker, is handed over again. A row is done when its task succeeds; a task that fails
is tried again later, with backoff, up to MAX_ATTEMPTS hand-overs, and shows as failed in admin.
Tasks may therefore run twice: each is idempotent by its key (emails by shop.SentEmail).

With CELERY_TASK_ALWAYS_EAGER (tests, `make run`) the task runs in process after commit, as
it would on a worker; its failure is logged and recorded on the row, never raised to the caller.
Tasks are named by string, so shop imports none of the apps.
"""

import logging
import time
from datetime import timedelta
from importlib import import_module

from celery import signals
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from .celery import app
from .models import OutboxMessage

logger = logging.getLogger(__name__)
# Until when (time.monotonic()) each broker URL is left alone after a failure.
_broker_down_until = {}

TASK_ID_PREFIX = "outbox:"
BATCH_SIZE = 100
MAX_ATTEMPTS = 10
# A message handed over this long ago whose task has not succeeded is taken as lost (a flushed
# or replaced broker) and handed over again. Longer than the broker's own redelivery of a
# message a dead worker held (the Redis visibility timeout, an hour) and than the longest
# retry countdown of a task (an hour), so a live message is rarely doubled; when it is, the
# task's key makes the second run a no-op.
REDISPATCH_AFTER = timedelta(minutes=75)
# After the broker failed to answer, this process leaves it alone this many seconds: a request
# with several follow-ups waits for one connect timeout, not one per row.
BROKER_PAUSE = 5
# Done rows are kept this long for staff to look at, then deleted by the dispatcher.
KEEP_DONE = timedelta(days=7)


def enqueue(task, *args, key):
    """Ask for `task(*args)` once the current transaction commits, at most once per `key`.

    Enqueueing a key that exists adds nothing: the first row already carries that effect.
    """
    OutboxMessage.objects.bulk_create(
        [OutboxMessage(task=task, args=list(args), key=key)], ignore_conflicts=True
    )
    transaction.on_commit(lambda: _hand_over_now(task, args, key), robust=True)


def _hand_over_now(task, args, key):
    """Right after commit: hand the row over unless a dispatcher took it already.

    A key enqueued again after its task failed waits for its backoff like any other retry.
    """
    now = timezone.now()
    claimed = (
        OutboxMessage.objects.filter(key=key, done_at__isnull=True, dispatched_at__isnull=True)
        .filter(Q(last_error="") | Q(available_at__lte=now, attempts__lt=MAX_ATTEMPTS))
        .update(dispatched_at=now, attempts=F("attempts") + 1)
    )
    if claimed and not _send(task, args, key):
        _release(key)


def dispatch(*, now=None, stale_after=REDISPATCH_AFTER, only=None, batch_size=BATCH_SIZE):
    """Hand over to Celery what is due, in batches; returns how many rows were handed over.

    Due: not done, fewer than MAX_ATTEMPTS hand-overs, past its available_at, and never handed
    over or handed over more than `stale_after` ago. `only` (ids) hands those rows over now
    whatever their schedule (admin's "dispatch now"). Rows another dispatcher holds are
    skipped; the first broker error stops the run, leaving the rest due for the next one.
    """
    now = now or timezone.now()
    if only is not None:
        rows = OutboxMessage.objects.filter(pk__in=only, done_at__isnull=True)
    else:
        rows = due(now=now, stale_after=stale_after)
    handed, last_pk = 0, 0
    while True:
        with transaction.atomic():
            batch = list(
                rows.filter(pk__gt=last_pk)
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .only("pk", "task", "args", "key")[:batch_size]
            )
            for message in batch:
                OutboxMessage.objects.filter(pk=message.pk).update(
                    dispatched_at=now, attempts=F("attempts") + 1
                )
                if not _send(message.task, message.args, message.key):
                    _release(message.key)
                    return handed
                handed += 1
        if len(batch) < batch_size:
            return handed
        last_pk = batch[-1].pk


def due(*, now=None, stale_after=REDISPATCH_AFTER):
    """The rows the dispatcher hands over: see `dispatch`."""
    now = now or timezone.now()
    return OutboxMessage.objects.filter(
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - stale_after),
        done_at__isnull=True,
        attempts__lt=MAX_ATTEMPTS,
        available_at__lte=now,
    )


def purge_done(*, now=None):
    """Delete the rows done longer than KEEP_DONE ago; returns how many."""
    now = now or timezone.now()
    deleted, _ = OutboxMessage.objects.filter(done_at__lt=now - KEEP_DONE).delete()
    return deleted


def _send(task, args, key):
    """Hand one message to Celery (run it, when eager); False when the broker is unreachable."""
    task_id = TASK_ID_PREFIX + key
    if app.conf.task_always_eager:
        _run_eagerly(task, args, key, task_id)
        return True
    broker = app.conf.broker_url
    if time.monotonic() < _broker_down_until.get(broker, 0):
        return False
    try:
        # No publish retries: with the broker down the caller goes on at once.
        _task(task).apply_async(args, task_id=task_id, retry=False)
    except (OperationalError, OSError):
        _broker_down_until[broker] = time.monotonic() + BROKER_PAUSE
        logger.warning("Broker unreachable: outbox message %s stays due.", key, exc_info=True)
        return False
    return True


def _task(name):
    """The task named `name`; its module is imported first, which a web process may not have."""
    import_module(name.rpartition(".")[0])
    return app.tasks[name]


def _run_eagerly(task, args, key, task_id):
    result = _task(task).apply(args, task_id=task_id, throw=False)
    if result.failed():
        logger.error("Outbox task %s failed: %r", key, result.result)
        _record_failure(key, result.result)
    else:
        _mark_done(key)


def _release(key):
    """The hand-over failed: the row is due again, as if never handed over."""
    OutboxMessage.objects.filter(key=key).update(dispatched_at=None, attempts=F("attempts") - 1)


def _mark_done(key):
    OutboxMessage.objects.filter(key=key, done_at__isnull=True).update(done_at=timezone.now())


def _record_failure(key, error):
    """The task failed for good: try again after a backoff that doubles with each attempt."""
    message = OutboxMessage.objects.filter(key=key).only("attempts").first()
    if message is None:
        return
    backoff = min(timedelta(minutes=2**message.attempts), timedelta(hours=6))
    OutboxMessage.objects.filter(pk=message.pk, done_at__isnull=True).update(
        last_error=f"{type(error).__name__}: {error}"[:2000],
        dispatched_at=None,
        available_at=timezone.now() + backoff,
    )


def _outbox_key(request):
    """The outbox key a worker's task runs for, or None (not from the outbox, or eager)."""
    task_id = request.id or ""
    if request.is_eager or not task_id.startswith(TASK_ID_PREFIX):
        return None
    return task_id.removeprefix(TASK_ID_PREFIX)


@signals.task_success.connect(weak=False)
def _task_succeeded(sender, **kwargs):
    key = _outbox_key(sender.request)
    if key is not None:
        _mark_done(key)


@signals.task_retry.connect(weak=False)
def _task_retrying(sender, request, **kwargs):
    """A task retrying later is alive: its row must not look lost meanwhile."""
    key = _outbox_key(request)
    if key is not None:
        OutboxMessage.objects.filter(key=key, done_at__isnull=True).update(
            dispatched_at=timezone.now()
        )


@signals.task_failure.connect(weak=False)
def _task_failed(sender, exception, **kwargs):
    key = _outbox_key(sender.request)
    if key is not None:
        _record_failure(key, exception)
