"""Carrier adapters: booking a parcel and reading its tracking, behind one interface.

A real carrier is one more class with `book` and `fetch_events`, added to ADAPTERS.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Carrier, Shipment

Status = Shipment.Status


@dataclass(frozen=True)
class Booking:
    tracking_number: str
    label: str


@dataclass(frozen=True)
class TrackingEvent:
    reference: str
    status: str
    happened_at: datetime
    note: str = ""


class ManualCarrier:
    """Staff hand the parcel over themselves and type the tracking number and each status."""

    def book(self, shipment, *, tracking_number=""):
        return Booking(tracking_number=tracking_number, label="")

    def fetch_events(self, shipment, *, now=None):
        return []


class SimulatedCarrier:
    """For development: the parcel moves one status further every few hours after packing."""

    JOURNEY = [
        (timedelta(hours=1), Status.SHIPPED),
        (timedelta(hours=6), Status.IN_TRANSIT),
        (timedelta(hours=24), Status.OUT_FOR_DELIVERY),
        (timedelta(hours=30), Status.DELIVERED),
    ]

    def book(self, shipment, *, tracking_number=""):
        number = tracking_number or f"SIM{shipment.pk:09d}"
        label = "\n".join(
            [
                f"SIMULATED CARRIER · {number}",
                shipment.order.full_name,
                shipment.order.line1,
                f"{shipment.order.postal_code} {shipment.order.city}",
                str(shipment.order.country.name),
            ]
        )
        return Booking(tracking_number=number, label=label)

    def fetch_events(self, shipment, *, now=None):
        now = now or timezone.now()
        return [
            TrackingEvent(
                reference=f"{shipment.tracking_number}:{status}",
                status=status,
                happened_at=shipment.created_at + after,
                note=_("Reported by the carrier."),
            )
            for after, status in self.JOURNEY
            if shipment.created_at + after <= now
        ]


ADAPTERS = {Carrier.MANUAL: ManualCarrier(), Carrier.SIMULATED: SimulatedCarrier()}
# Carriers whose tracking the periodic task asks for.
POLLED = [Carrier.SIMULATED]


def adapter_for(carrier):
    return ADAPTERS[carrier]
