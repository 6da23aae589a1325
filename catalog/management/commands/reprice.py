"""Apply the active price rules once, or show what they would change."""

from django.core.management.base import BaseCommand

from catalog import pricing


class Command(BaseCommand):
    help = "Move variant prices by the active price rules, within their floors and ceilings."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Show the changes without making them."
        )

    def handle(self, *args, dry_run, **options):
        moves = pricing.reprice(dry_run=dry_run)
        for move in moves:
            self.stdout.write(
                f"{move.variant.sku}: {move.old_price} → {move.new_price} ({move.reason})"
            )
        verb = "Would change" if dry_run else "Changed"
        self.stdout.write(self.style.SUCCESS(f"{verb} {len(moves)} prices."))
