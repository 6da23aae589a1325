"""Reads of this app: shipping methods with their prices, and stock levels as staff list them."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F

from shop.money import quantize

from .models import ShippingMethod


@dataclass(frozen=True)
class ShippingOption:
    method: ShippingMethod
    price: Decimal


def shipping_price(*, method, subtotal):
    """What shipping costs for an order of this subtotal: nothing once it reaches free_over."""
    if method.free_over is not None and subtotal >= method.free_over:
        return quantize(0)
    return quantize(method.price)


def shipping_options(*, subtotal):
    """The active methods a shopper can choose from, each priced for this subtotal."""
    return [
        ShippingOption(method=method, price=shipping_price(method=method, subtotal=subtotal))
        for method in ShippingMethod.objects.filter(is_active=True)
    ]


def with_units_available(levels):
    """Stock levels with `units_available` computed in the database, to filter and sort on."""
    return levels.annotate(units_available=F("on_hand") - F("reserved"))


def low_stock(levels):
    """The levels whose available units are down to their threshold: time to reorder."""
    return levels.filter(on_hand__lte=F("reserved") + F("low_stock_threshold"))
