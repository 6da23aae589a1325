from decimal import Decimal

import factory

from shipping.models import ShippingMethod, Warehouse


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
