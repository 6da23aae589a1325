import uuid
from decimal import Decimal

import factory
import stripe
from django.utils import timezone

from orders.models import Order
from payments.models import Payment, Refund
from tests.orders.factories import OrderFactory

from .conftest import SECRET_KEY

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"


class CardOrderFactory(OrderFactory):
    """An order awaiting a card payment, with a total worth paying."""

    payment_method = Order.PaymentMethod.CARD
    subtotal = Decimal("42.50")
    total = Decimal("42.50")


class PaymentFactory(factory.django.DjangoModelFactory):
    """A payment of the whole order, as open_payment makes it."""

    class Meta:
        model = Payment

    order = factory.SubFactory(CardOrderFactory)
    method = factory.LazyAttribute(lambda payment: payment.order.payment_method)
    provider = factory.LazyAttribute(
        lambda payment: (
            Payment.Provider.STRIPE
            if payment.method == Order.PaymentMethod.CARD
            else Payment.Provider.MANUAL
        )
    )
    amount = factory.LazyAttribute(lambda payment: payment.order.total)
    currency = factory.LazyAttribute(lambda payment: payment.order.currency)


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund

    payment = factory.SubFactory(PaymentFactory, status=Payment.Status.SUCCEEDED)
    amount = Decimal("5.00")
    status = Refund.Status.PENDING
    idempotency_key = factory.LazyFunction(lambda: uuid.uuid4().hex)
    completed_at = factory.LazyAttribute(
        lambda refund: timezone.now() if refund.status == Refund.Status.SUCCEEDED else None
    )


def pay_intent(intent_id, card=CARD_OK):
    """What Stripe.js does when the shopper submits the Payment Element with this card.

    localstripe can't confirm with a payment method, so the method is set first.
    """
    method = stripe.PaymentMethod.create(
        type="card",
        card={"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        api_key=SECRET_KEY,
    )
    stripe.PaymentIntent.modify(intent_id, payment_method=method.id, api_key=SECRET_KEY)
    try:
        return stripe.PaymentIntent.confirm(intent_id, api_key=SECRET_KEY)
    except stripe.CardError:
        return stripe.PaymentIntent.retrieve(intent_id, api_key=SECRET_KEY)


def intent_dict(intent_id):
    return stripe.PaymentIntent.retrieve(intent_id, api_key=SECRET_KEY).to_dict()
