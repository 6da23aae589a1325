"""Plan reorders for every stock level and write them to draft purchase orders."""

from collections import Counter

from django.core.management.base import BaseCommand

from shipping import services

Outcome = services.Outcome
# How the summary names the levels nothing was ordered for, in the order it lists them.
NOTHING_ORDERED = {
    Outcome.ABOVE_REORDER_POINT: "above the reorder point",
    Outcome.NO_DEMAND: "without demand",
    Outcome.NOT_ON_SALE: "not on sale",
    Outcome.NO_SUPPLIER: "without a supplier",
}


def _count(number, noun):
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


class Command(BaseCommand):
    help = (
        "Add the units the replenishment policy says to reorder to draft purchase orders. "
        "Prints what was ordered and why; -v 2 also says why every other stock level was not."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would be ordered; write nothing."
        )

    def handle(self, *args, dry_run=False, verbosity=1, **options):
        plans = services.replenish_stock(dry_run=dry_run)
        for plan in plans:
            ordering = plan.outcome == Outcome.ORDER
            if verbosity >= 2 or (verbosity == 1 and ordering):
                self.stdout.write(self.describe(plan))
        self.stdout.write(self.style.SUCCESS(self.summary(plans, dry_run=dry_run)))

    @staticmethod
    def describe(plan):
        line = f"{plan.level.variant.sku} @ {plan.level.warehouse.code}: {plan.reason}"
        if plan.outcome in (Outcome.ORDER, Outcome.ABOVE_REORDER_POINT):
            line += f"; demand {plan.mean:.2f}/day ± {plan.spread:.2f} over {plan.days} days"
        return line

    @staticmethod
    def summary(plans, *, dry_run):
        ordered = [plan for plan in plans if plan.outcome == Outcome.ORDER]
        verb = "Would order" if dry_run else "Ordered"
        units = sum(plan.quantity for plan in ordered)
        text = (
            f"{verb} {_count(units, 'unit')} on {_count(len(ordered), 'line')} "
            f"for {_count(len(plans), 'stock level')}"
        )
        skipped = Counter(plan.outcome for plan in plans if plan.outcome != Outcome.ORDER)
        if skipped:
            text += "; nothing for " + ", ".join(
                f"{skipped[outcome]} {words}"
                for outcome, words in NOTHING_ORDERED.items()
                if skipped[outcome]
            )
        return text + "."
