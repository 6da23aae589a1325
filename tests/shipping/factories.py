from decimal import Decimal

import factory

from shipping.models import (
    ShippingMethod,
    ShippingZone,
    StockLevel,
    Supplier,
    Warehouse,
    WeightBand,
)
from tests.orders.factories import OrderLineFactory


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse
        django_get_or_create = ["code"]

    name = factory.Sequence(lambda n: f"Warehouse {n}")
    code = factory.Sequence(lambda n: f"wh-{n}")
    priority = 10


class ShippingMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingMethod

    name = "Standard"
    price = Decimal("4.90")
    free_over = None


class StockLevelFactory(factory.django.DjangoModelFactory):
    """A bare stock row, written past the services: for tests of the database's own rules."""

    class Meta:
        model = StockLevel

    variant = factory.SubFactory("tests.catalog.factories.VariantFactory")
    warehouse = factory.SubFactory(WarehouseFactory)


def order_line(**fields):
    """An order line at a whole price.

    SQLite checks `line_total = unit_price * quantity` in floating point, where
    19.99 * 5 != 99.95, so odd cents would trip the constraint there.
    """
    return OrderLineFactory(unit_price=Decimal("10.00"), **fields)


class ShippingZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingZone

    name = factory.Sequence(lambda n: f"Zone {n}")
    countries = ["DE", "FR"]


class WeightBandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WeightBand

    method = factory.SubFactory(ShippingMethodFactory, rate=ShippingMethod.Rate.WEIGHT)
    up_to_grams = 1000
    price = Decimal("5.00")


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier

    name = factory.Sequence(lambda n: f"Supplier {n}")
    lead_time_days = 4
    review_days = 7
