"""Compare the replenishment policy with a fixed reorder rule on a simulated year of demand."""

from django.core.management.base import BaseCommand, CommandError

from shipping.replenishment import simulate


class Command(BaseCommand):
    help = "Simulate daily demand and print stockouts and stock held per reorder policy."

    def add_arguments(self, parser):
        parser.add_argument("--variants", type=int, default=300)
        parser.add_argument("--days", type=int, default=365)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, variants, days, seed, **options):
        if variants < 1 or days < 1:
            raise CommandError("--variants and --days must be at least 1.")
        results = simulate(variants=variants, days=days, seed=seed)
        self.stdout.write(f"{variants} variants, {days} days of demand (seed {seed})\n")
        self.stdout.write("| Policy | Stockout days | Fill rate | Average units held |")
        self.stdout.write("|---|---:|---:|---:|")
        for result in results:
            self.stdout.write(
                f"| {result.name} | {result.stockout_rate:.1%} | {result.fill_rate:.1%} "
                f"| {result.average_stock:.1f} |"
            )
