"""Plan reorders for every supplied stock level and write them to draft purchase orders."""

from django.core.management.base import BaseCommand

from shipping import services


class Command(BaseCommand):
    help = "Add the units the replenishment policy says to reorder to draft purchase orders."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would be ordered; write nothing."
        )

    def handle(self, *args, dry_run=False, **options):
        planned = services.replenish_stock(dry_run=dry_run)
        for plan in planned:
            self.stdout.write(
                f"{plan.level}: demand {plan.mean:.2f}/day ± {plan.spread:.2f}, "
                f"reorder point {plan.reorder_point}, order up to {plan.order_up_to}, "
                f"position {plan.position} → order {plan.quantity}"
            )
        verb = "Would order" if dry_run else "Ordered"
        self.stdout.write(self.style.SUCCESS(f"{verb} {len(planned)} lines."))
