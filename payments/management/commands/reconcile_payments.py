"""Compare card payments with Stripe's PaymentIntents; apply what missed webhooks would have."""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date
from tqdm import tqdm

from payments import selectors, services

DEFAULT_DAYS = 7


class Command(BaseCommand):
    help = (
        "Ask Stripe about every card payment made since a date (by default the last "
        f"{DEFAULT_DAYS} days), apply what a missed webhook would have done, send card refunds "
        "still pending, and report every change. Safe to run again at any time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="first day to check, as YYYY-MM-DD")

    def handle(self, *args, since=None, verbosity=1, **options):
        if not settings.STRIPE_SECRET_KEY:
            raise CommandError("Stripe is not configured: set STRIPE_SECRET_KEY.")
        start = self._start(since)
        payments = selectors.stripe_payments_since(start)
        checked = payments.count()
        changes, problems = [], []
        for payment in tqdm(payments, total=checked, unit="payment", disable=verbosity < 1):
            label = f"{payment.order.number} {payment.provider_reference}"
            try:
                change = services.reconcile_payment(payment=payment)
            except services.PaymentError as error:
                problems.append(f"{label}: {error}")
                continue
            if change is not None:
                changes.append(f"{label}: {self._describe(change)}")
        for refund in selectors.pending_stripe_refunds():
            label = f"{refund.payment.order.number} refund {refund.pk}"
            try:
                sent = services.send_refund(refund=refund)
            except services.PaymentError as error:
                problems.append(f"{label}: {error}")
                continue
            if sent.status != refund.status:
                changes.append(f"{label}: {refund.status} → {sent.status}")
        for line in changes:
            self.stdout.write(line)
        for line in problems:
            self.stdout.write(self.style.WARNING(line))
        summary = (
            f"{checked} card payments since {start:%Y-%m-%d} checked: "
            f"{len(changes)} changed, {len(problems)} to look at."
        )
        style = self.style.WARNING if problems else self.style.SUCCESS
        self.stdout.write(style(summary))

    @staticmethod
    def _start(since):
        if since is None:
            return timezone.now() - timedelta(days=DEFAULT_DAYS)
        try:
            day = parse_date(since)
        except ValueError:
            day = None
        if day is None:
            raise CommandError(f"--since takes a date as YYYY-MM-DD, not {since!r}.")
        return timezone.make_aware(datetime.combine(day, time.min))

    @staticmethod
    def _describe(change):
        if change.before == change.after:
            return f"flagged: {change.note}"
        text = f"{change.before} → {change.after}"
        return f"{text} ({change.note})" if change.note else text
