"""Check that orders, stock, shipments and money agree; list every disagreement with its link."""

from django.core.management.base import BaseCommand

from payments import books


class Command(BaseCommand):
    help = (
        "Check that every reservation belongs to an open order line, every shipped unit has a "
        "shipment, each stock level equals its ledger, what each order was paid and refunded "
        "fits its status, and each status fits its shipments. Prints each disagreement with a "
        "link to admin; exits 1 when anything disagrees, 0 when the books agree."
    )

    def handle(self, *args, **options):
        disagreements = books.check_books()
        for disagreement in disagreements:
            self.stdout.write(str(disagreement))
        if not disagreements:
            self.stdout.write(self.style.SUCCESS("The books agree."))
            return
        kinds = len({disagreement.kind for disagreement in disagreements})
        self.stdout.write(
            self.style.ERROR(f"{len(disagreements)} disagreements of {kinds} kinds found.")
        )
        raise SystemExit(1)
