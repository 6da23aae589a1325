"""Celery tasks of the shipping app: thin, safe to run twice, calling services and emails."""

from celery import shared_task

from shop.emails import EMAIL_TASK_OPTIONS

from . import emails, selectors, services


@shared_task(**EMAIL_TASK_OPTIONS)
def send_shipment_email(shipment_id, kind):
    shipment = emails.shipment_for_email(shipment_id)
    if shipment is None:
        return False
    return emails.deliver_shipment_email(shipment=shipment, kind=kind)


@shared_task(acks_late=True)
def poll_carriers():
    """Ask the carriers where the parcels on the road are; returns the steps recorded."""
    return sum(
        services.track_shipment(shipment=shipment) for shipment in selectors.shipments_to_poll()
    )


@shared_task(acks_late=True)
def replenish_stock():
    """Nightly: add what the policy says to reorder to draft purchase orders.

    Returns how many lines were ordered; a second run orders nothing twice.
    """
    return sum(plan.ordered for plan in services.replenish_stock())
