"""Reads of this app: shipping methods and their prices, shipments to track, stock to reorder."""

from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.db.models import F, Prefetch

from shop.money import quantize

from .carriers import POLLED
from .models import Shipment, ShipmentEvent, ShippingMethod, StockLevel


@dataclass(frozen=True)
class ShippingOption:
    method: ShippingMethod
    price: Decimal


def parcel_weight(items) -> int:
    """Grams of (variant, quantity) pairs packed together."""
    return sum(variant.weight_grams * quantity for variant, quantity in items)


def _band_for(method, weight_grams):
    bands = sorted(method.bands.all(), key=lambda band: band.up_to_grams)
    return next((band for band in bands if weight_grams <= band.up_to_grams), None)


def serves(method, *, country=None, weight_grams=None) -> bool:
    """Whether the method delivers to this country and carries a parcel this heavy.

    A country or weight that is not known yet (None) rules nothing out.
    """
    if country and method.zone_id is not None and country not in method.zone.countries:
        return False
    if weight_grams is None:
        return True
    if method.max_weight_grams is not None and weight_grams > method.max_weight_grams:
        return False
    return method.rate != ShippingMethod.Rate.WEIGHT or _band_for(method, weight_grams) is not None


def shipping_price(*, method, subtotal, weight_grams=0):
    """What shipping costs: nothing once the subtotal reaches free_over, else the rate.

    A weight-rated method charges the lightest band the parcel fits in; callers check
    `serves` first, so a parcel past every band costs the heaviest band's price.
    """
    if method.free_over is not None and subtotal >= method.free_over:
        return quantize(0)
    if method.rate == ShippingMethod.Rate.WEIGHT:
        band = _band_for(method, weight_grams) or max(
            method.bands.all(), key=lambda band: band.up_to_grams, default=None
        )
        if band is not None:
            return quantize(band.price)
    return quantize(method.price)


def shipping_options(*, subtotal, country=None, weight_grams=None):
    """The active methods that serve this country and weight, each priced for this cart."""
    methods = ShippingMethod.objects.filter(is_active=True).select_related("zone")
    return [
        ShippingOption(
            method=method,
            price=shipping_price(method=method, subtotal=subtotal, weight_grams=weight_grams or 0),
        )
        for method in methods.prefetch_related("bands")
        if serves(method, country=country, weight_grams=weight_grams)
    ]


def with_units_available(levels):
    """Stock levels with `units_available` computed in the database, to filter and sort on."""
    return levels.annotate(units_available=F("on_hand") - F("reserved"))


def low_stock(levels):
    """The levels whose available units are down to their threshold: time to reorder."""
    return levels.filter(on_hand__lte=F("reserved") + F("low_stock_threshold"))


def shipments_of(order):
    """An order's shipments with their lines and events, for its page and its tracking page."""
    return list(
        Shipment.objects.filter(order=order)
        .select_related("warehouse")
        .prefetch_related(
            "lines__order_line",
            Prefetch("events", queryset=ShipmentEvent.objects.order_by("happened_at", "pk")),
        )
        .order_by("created_at", "pk")
    )


def shipments_to_poll():
    """Shipments a carrier still moves: booked with a carrier that reports, not yet at rest."""
    return (
        Shipment.objects.filter(carrier__in=POLLED)
        .exclude(status__in=[Shipment.Status.DELIVERED, Shipment.Status.RETURNED])
        .order_by("pk")
    )


def order_for_tracking(*, number, email):
    """The order with this number placed with this email, or None: both must match."""
    orders = apps.get_model("orders", "Order").objects
    return orders.filter(number=number.strip().upper(), email__iexact=email.strip()).first()


def shipment_for_slip(pk):
    return (
        Shipment.objects.select_related("order", "warehouse")
        .prefetch_related("lines__order_line")
        .filter(pk=pk)
        .first()
    )


def low_stock_report():
    """Supplied or not, the levels at or under their threshold, emptiest first."""
    levels = StockLevel.objects.select_related("variant__product", "warehouse", "supplier")
    return list(with_units_available(low_stock(levels)).order_by("units_available", "pk"))
