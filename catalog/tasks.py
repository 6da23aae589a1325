"""Celery tasks of the catalog app, all safe to rerun: recommendations, repricing, sales."""

from celery import shared_task

from . import pricing, recommendations, services


@shared_task(acks_late=True)
def build_recommendations():
    return recommendations.build_recommendations().products


@shared_task(acks_late=True)
def reprice():
    return len(pricing.reprice())


@shared_task(acks_late=True)
def fold_units_sold():
    """Every minute (beat): the bestseller counts catch up with the orders placed meanwhile."""
    return services.fold_units_sold()
