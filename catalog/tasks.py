"""Celery tasks of the catalog app: nightly recommendations and repricing, both safe to rerun."""

from celery import shared_task

from . import pricing, recommendations


@shared_task(acks_late=True)
def build_recommendations():
    return recommendations.build_recommendations().products


@shared_task(acks_late=True)
def reprice():
    return len(pricing.reprice())
