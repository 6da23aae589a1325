"""Celery tasks of the catalog app, all safe to rerun: recommendations, repricing, views."""

from celery import shared_task

from . import pricing, recommendations, services


@shared_task(acks_late=True)
def build_recommendations():
    return recommendations.build_recommendations().products


@shared_task(acks_late=True)
def reprice():
    return len(pricing.reprice())


@shared_task
def record_product_view(session_hash, product_id):
    services.record_product_view(session_hash=session_hash, product_id=product_id)
