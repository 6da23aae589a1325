"""Precompute every recommendation, or measure how well the model predicts the next order."""

import time

from django.core.management.base import BaseCommand

from catalog import recommendations


class Command(BaseCommand):
    help = (
        "Rebuild 'bought together', 'viewed together', 'similar' and 'recommended for you' from "
        "orders, product views and product texts. With --evaluate, report hit rate@10 and "
        "precision@10 instead."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--evaluate",
            action="store_true",
            help="Hold out each customer's last order and score the model against popularity.",
        )

    def handle(self, *args, evaluate, **options):
        started = time.monotonic()
        if evaluate:
            self.report(recommendations.evaluate_shop())
            return
        summary = recommendations.build_recommendations()
        self.stdout.write(
            self.style.SUCCESS(
                f"Built recommendations in {time.monotonic() - started:.1f} s: "
                f"{summary.products} products, {summary.baskets} orders, "
                f"{summary.sessions} browsing sessions, {summary.bought_together} bought-together, "
                f"{summary.viewed_together} viewed-together and {summary.similar} similar rows, "
                f"picks for {summary.shoppers} shoppers."
            )
        )

    def report(self, evaluation):
        k = recommendations.PER_SHOPPER
        self.stdout.write(f"Customers with a held-out order: {evaluation.shoppers}")
        self.stdout.write(f"| model | hit rate@{k} | precision@{k} |")
        self.stdout.write("|---|---|---|")
        for name, score in (
            ("recommended for you", evaluation.model),
            ("popularity baseline", evaluation.popularity),
        ):
            self.stdout.write(f"| {name} | {score.hit_rate:.3f} | {score.precision:.3f} |")
