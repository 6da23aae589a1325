import uuid
from decimal import Decimal

import factory

from orders.models import Order, OrderLine, Voucher


class OrderFactory(factory.django.DjangoModelFactory):
    """An order row as checkout would have written it; totals default to an empty order."""

    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"T{n:07d}")
    access_key = factory.LazyFunction(lambda: uuid.uuid4().hex)
    checkout_token = factory.LazyFunction(lambda: uuid.uuid4().hex)
    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    status = Order.Status.PENDING_PAYMENT
    payment_method = Order.PaymentMethod.BANK_TRANSFER
    currency = "EUR"
    full_name = "Mei Chen"
    line1 = "Unter den Linden 1"
    city = "Berlin"
    postal_code = "10117"
    country = "DE"
    shipping_method_name = "Standard"
    subtotal = Decimal("0.00")
    total = Decimal("0.00")
    tax_rate = Decimal("0.1900")
    tax_total = Decimal("0.00")


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    variant = factory.SubFactory("tests.catalog.factories.VariantFactory")
    product_title = factory.LazyAttribute(lambda line: line.variant.product.title)
    sku = factory.LazyAttribute(lambda line: line.variant.sku)
    unit_price = factory.LazyAttribute(lambda line: line.variant.price)
    quantity = 1
    line_total = factory.LazyAttribute(lambda line: line.unit_price * line.quantity)
    tax_amount = Decimal("0.00")


class VoucherFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Voucher

    code = factory.Sequence(lambda n: f"SAVE{n}")
    kind = Voucher.Kind.PERCENTAGE
    value = Decimal("10")
