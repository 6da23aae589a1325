import uuid
from decimal import Decimal

import factory

from orders.models import Cart, CartLine, Order, OrderLine, Voucher
from orders.services import place_order
from shipping.services import create_warehouse, receive_stock
from tests.catalog.factories import VariantFactory


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


class CartFactory(factory.django.DjangoModelFactory):
    """A guest's cart; pass user=... for a signed-in shopper's."""

    class Meta:
        model = Cart

    session_key = factory.LazyAttribute(lambda cart: None if cart.user else uuid.uuid4().hex)
    user = None


class CartLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CartLine

    cart = factory.SubFactory(CartFactory)
    variant = factory.SubFactory("tests.catalog.factories.VariantFactory")
    quantity = 1
    price_seen = factory.LazyAttribute(lambda line: line.variant.price)


def stocked_variant(*, units=10, warehouse_code="main", **fields):
    """A variant with `units` received into a warehouse through shipping's stock services."""
    variant = VariantFactory(**fields)
    warehouse = create_warehouse(code=warehouse_code, name=warehouse_code.title(), priority=10)
    receive_stock(variant=variant, warehouse=warehouse, quantity=units)
    variant.refresh_from_db()
    return variant


SHIPPING_ADDRESS = {
    "full_name": "Mei Chen",
    "line1": "Unter den Linden 1",
    "line2": "",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
    "phone": "",
}


def place(cart, *, shipping_method, **overrides):
    """Place the cart as an order through the service, with a fresh checkout token."""
    fields = {
        "checkout_token": uuid.uuid4().hex,
        "email": "guest@example.com",
        "address": SHIPPING_ADDRESS,
        "shipping_method_id": shipping_method.pk,
        "payment_method": Order.PaymentMethod.CASH_ON_DELIVERY,
        **overrides,
    }
    return place_order(cart=cart, **fields)
