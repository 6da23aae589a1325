"""Hand the outbox's due messages to Celery now, as the beat dispatcher does every 30 seconds."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from shop import outbox


class Command(BaseCommand):
    help = (
        "Hand to Celery the outbox messages that are due: never handed over (the broker was "
        "down), or handed over long ago and still not done (the broker lost them, e.g. after a "
        "Redis flush; --stale-after 0 takes all of those at once). Safe to run at any time: "
        "every task is done once by its key."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale-after",
            type=int,
            metavar="SECONDS",
            default=int(outbox.REDISPATCH_AFTER.total_seconds()),
            help="hand over again what was handed over this long ago and is not done",
        )

    def handle(self, *args, stale_after, **options):
        now, stale_after = timezone.now(), timedelta(seconds=stale_after)
        handed = outbox.dispatch(now=now, stale_after=stale_after)
        self.stdout.write(self.style.SUCCESS(f"{handed} outbox messages handed over."))
        left = outbox.due(now=now, stale_after=stale_after).count()
        if left:
            raise CommandError(f"The broker is unreachable: {left} outbox messages still due.")
