"""Payment gateways: how money moves for each payment method, behind one small interface.

Every gateway says which provider records its payments and what reference a new payment
carries. Cash on delivery and bank transfer are handled by people (the courier, staff
reading the bank statement); Stripe does its part over its API, and only this module talks
to Stripe, always with plain dicts in and out.
"""

import json
from dataclasses import dataclass

import stripe
from django.conf import settings
from django.utils.translation import gettext as _

from orders.models import Order
from shop.money import to_minor_units

from .models import Payment, Refund, WebhookEvent

# Older than this, a signed webhook is refused: a captured request can't be replayed later.
WEBHOOK_TOLERANCE_SECONDS = 300
MAX_EVENT_ID = WebhookEvent._meta.get_field("event_id").max_length
MAX_EVENT_TYPE = WebhookEvent._meta.get_field("type").max_length


class GatewayError(Exception):
    """The provider refused a request or could not be reached.

    `retryable` is true when the outcome is unknown (network, Stripe's own errors): the same
    request, with the same idempotency key, may be sent again.
    """

    def __init__(self, message, *, retryable=False):
        super().__init__(message)
        self.retryable = retryable


class InvalidWebhook(Exception):
    """A webhook whose signature does not verify, or whose body is not a Stripe event."""


@dataclass(frozen=True)
class RefundResult:
    reference: str
    status: str  # a Refund.Status value
    failure_message: str = ""


class Gateway:
    """What every payment method has: its provider, and the reference a new payment gets."""

    method = None
    provider = None
    paid_by_hand = False

    def reference_for(self, order):
        return None


class CashOnDeliveryGateway(Gateway):
    """The courier collects the cash; the payment is marked collected on delivery."""

    method = Order.PaymentMethod.CASH_ON_DELIVERY
    provider = Payment.Provider.MANUAL
    paid_by_hand = True


class BankTransferGateway(Gateway):
    """The shopper transfers the money with the order number as reference; staff match it."""

    method = Order.PaymentMethod.BANK_TRANSFER
    provider = Payment.Provider.MANUAL
    paid_by_hand = True

    def reference_for(self, order):
        return order.number


class StripeGateway(Gateway):
    """Card payments through Stripe PaymentIntents; the card data only ever reaches Stripe."""

    method = Order.PaymentMethod.CARD
    provider = Payment.Provider.STRIPE

    def create_intent(self, *, payment):
        """A PaymentIntent for the payment; the key makes a repeated call return the same one."""
        order = payment.order
        return self._call(
            stripe.PaymentIntent.create,
            amount=to_minor_units(payment.amount, payment.currency),
            currency=payment.currency.lower(),
            payment_method_types=["card"],
            metadata={
                "order_id": str(order.pk),
                "order_number": order.number,
                "payment_id": str(payment.pk),
            },
            idempotency_key=f"order-{order.pk}-payment-{payment.pk}",
        )

    def retrieve_intent(self, reference):
        return self._call(stripe.PaymentIntent.retrieve, reference)

    def cancel_intent(self, reference):
        return self._call(stripe.PaymentIntent.cancel, reference)

    def refund(self, *, refund):
        payment = refund.payment
        result = self._call(
            stripe.Refund.create,
            payment_intent=payment.provider_reference,
            amount=to_minor_units(refund.amount, payment.currency),
            metadata={
                "order_number": payment.order.number,
                "refund_id": str(refund.pk),
                "reason": refund.reason[:500],
            },
            idempotency_key=f"refund-{refund.idempotency_key}",
        )
        return self._refund_result(result)

    def retrieve_refund(self, reference):
        return self._refund_result(self._call(stripe.Refund.retrieve, reference))

    @staticmethod
    def _refund_result(result):
        status = {
            "succeeded": Refund.Status.SUCCEEDED,
            "failed": Refund.Status.FAILED,
            "canceled": Refund.Status.FAILED,
        }.get(result.get("status"), Refund.Status.PENDING)
        failure = result.get("failure_reason") or ""
        return RefundResult(reference=result["id"], status=status, failure_message=failure)

    @staticmethod
    def verify_webhook(*, payload, signature):
        """The event in a webhook body, once its signature shows Stripe sent it."""
        try:
            stripe.WebhookSignature.verify_header(
                payload,
                signature,
                settings.STRIPE_WEBHOOK_SECRET,
                tolerance=WEBHOOK_TOLERANCE_SECONDS,
            )
            event = json.loads(payload, parse_constant=_refuse_constant)
        except (stripe.SignatureVerificationError, ValueError) as error:
            raise InvalidWebhook(str(error)) from error
        data = event.get("data") if isinstance(event, dict) else None
        if not (
            isinstance(data, dict)
            and isinstance(data.get("object"), dict)
            and isinstance(event.get("id"), str)
            and 0 < len(event["id"]) <= MAX_EVENT_ID
            and isinstance(event.get("type"), str)
            and len(event["type"]) <= MAX_EVENT_TYPE
        ):
            raise InvalidWebhook("The body is not a Stripe event.")
        return event

    @staticmethod
    def _call(method, *args, **params):
        """Call the Stripe API with the shop's key; its objects come back as plain dicts."""
        try:
            result = method(*args, api_key=settings.STRIPE_SECRET_KEY, **params)
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
            raise GatewayError(
                _("The card payment service is not answering. Please try again in a minute."),
                retryable=True,
            ) from error
        except stripe.StripeError as error:
            raise GatewayError(error.user_message or str(error)) from error
        return result.to_dict()


def _refuse_constant(name):
    """NaN and Infinity are not JSON, and the database would refuse to store them."""
    raise ValueError(f"{name} is not allowed in an event")


GATEWAYS = {
    gateway.method: gateway
    for gateway in (StripeGateway(), CashOnDeliveryGateway(), BankTransferGateway())
}


def gateway_for(method) -> Gateway:
    return GATEWAYS[method]


def paid_by_hand(method) -> bool:
    """Whether money taken by this method is also given back by hand (a transfer by staff)."""
    return gateway_for(method).paid_by_hand


def stripe_gateway() -> StripeGateway:
    return GATEWAYS[Order.PaymentMethod.CARD]
