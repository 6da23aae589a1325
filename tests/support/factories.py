import secrets
import uuid
from decimal import Decimal

import factory

from payments.services import open_payment
from shipping.services import deliver_shipments, ship_what_is_left
from support.models import CannedReply, HelpArticle, Message, Ticket
from tests.accounts.factories import UserFactory
from tests.orders.factories import CartFactory, CartLineFactory, place, stocked_variant
from tests.shipping.factories import ShippingMethodFactory


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    number = factory.Sequence(lambda n: f"T-TEST-{n:05d}")
    access_key = factory.LazyFunction(lambda: secrets.token_urlsafe(32))
    user = factory.SubFactory(UserFactory)
    email = factory.LazyAttribute(
        lambda ticket: ticket.user.email if ticket.user else "guest@example.com"
    )
    subject = "Where is my parcel?"
    category = Ticket.Category.SHIPPING


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    ticket = factory.SubFactory(TicketFactory)
    author = factory.LazyAttribute(lambda message: message.ticket.user)
    body = "It has not arrived yet."


class CannedReplyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CannedReply

    title = factory.Sequence(lambda n: f"Reply {n}")
    body = "Thank you for your patience."


class HelpArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HelpArticle

    question = factory.Sequence(lambda n: f"Question {n}?")
    answer = "The answer."


def delivered_order(*, user=None, units=10, quantity=2, price=Decimal("20.00")):
    """A cash-on-delivery order placed through checkout, delivered and paid at the door."""
    variant = stocked_variant(units=units, price=price)
    cart = CartFactory(user=user) if user else CartFactory()
    CartLineFactory(cart=cart, variant=variant, quantity=quantity)
    order = place(
        cart,
        shipping_method=ShippingMethodFactory(price=Decimal("5.00")),
        checkout_token=uuid.uuid4().hex,
        email=user.email if user else "guest@example.com",
        user=user,
    )
    open_payment(order=order)  # order_placed is sent on commit, which tests don't reach
    ship_what_is_left(order=order)
    deliver_shipments(order=order)
    order.refresh_from_db()
    return order
