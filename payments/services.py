"""Payments: opening, confirming, failing and refunding them; every payment change is made here.

Stripe is called outside any transaction, so nothing stays locked while it answers. What it
says is then written in one transaction that locks the payment row: a webhook, the return
page and reconcile_payments may report the same outcome in any order, and it counts once.
"""

import uuid
from dataclasses import dataclass
from decimal import InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import Order
from orders.services import (
    InvalidTransition,
    StaffAction,
    can_cancel,
    can_transition,
    cancel_order,
    change_status,
    staff_actions,
)
from shop import outbox
from shop.audit import record
from shop.money import quantize, to_minor_units

from . import selectors
from .emails import queue_payment_email
from .gateways import GatewayError, RefundResult, gateway_for, stripe_gateway
from .models import Payment, Refund, WebhookEvent

OrderStatus = Order.Status
Method = Order.PaymentMethod
Status = Payment.Status
OPEN = (Status.PENDING, Status.REQUIRES_ACTION)
# Cash is collected at the door: until then the order moves through fulfilment unpaid.
COLLECTABLE = (
    OrderStatus.CONFIRMED,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.COMPLETED,
)
# PaymentIntent statuses in which the shopper can still pay with the same intent.
PAYABLE_INTENT = ("requires_payment_method", "requires_confirmation", "requires_action")
HANDLED_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.requires_action",
    }
)


class PaymentError(Exception):
    """A payment action the shop refuses or can't carry out; the message says why."""


class ProviderUnavailable(PaymentError):
    """The provider did not answer; the same request may be sent again later."""


@dataclass(frozen=True)
class CardCheckout:
    """What the payment page needs to mount Stripe's Payment Element."""

    payment: Payment
    client_secret: str


@dataclass(frozen=True)
class Change:
    """One change made to a payment, as reconcile_payments reports it."""

    payment: Payment
    before: str
    after: str
    note: str = ""


def _provider_error(error):
    if error.retryable:
        return ProviderUnavailable(str(error))
    return PaymentError(str(error))


# Opening payments


def _awaits_payment(order):
    if order.total <= 0:
        return False
    if order.payment_method == Method.CASH_ON_DELIVERY:
        return (
            order.status in COLLECTABLE
            and not order.payments.filter(status=Status.SUCCEEDED).exists()
        )
    return order.status == OrderStatus.PENDING_PAYMENT


def open_placed_order(*, order):
    """What a newly placed order needs: its payment, or, with nothing to pay, to be paid."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.total <= 0 and order.status == OrderStatus.PENDING_PAYMENT:
            change_status(order=order, to_status=OrderStatus.PAID, note=_("Nothing to pay."))
            return None
        return open_payment(order=order)


def open_payment(*, order):
    """The payment the order waits for, made when there is none yet; None if nothing is due.

    Runs when an order is placed (order_placed) and again wherever a payment is needed, so
    a lost signal costs nothing.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not _awaits_payment(order):
            return None
        payment = order.payments.filter(status__in=OPEN).order_by("-created_at", "-pk").first()
        if payment is None:
            payment = _new_payment(order)
    return payment


def _new_payment(order):
    gateway = gateway_for(order.payment_method)
    if gateway.provider == Payment.Provider.STRIPE:
        declined = order.payments.order_by("-created_at", "-pk").first()
        if declined is not None and declined.status == Status.FAILED:
            # Stripe would still take a declined intent with another card: the new attempt
            # replaces it, so a shopper can't pay the order twice from two browser tabs.
            _cancel_intent_on_commit(declined.provider_reference)
    return Payment.objects.create(
        order=order,
        method=order.payment_method,
        provider=gateway.provider,
        provider_reference=gateway.reference_for(order),
        amount=order.total,
        currency=order.currency,
    )


def _not_payable_message(order):
    order.refresh_from_db()
    if order.status == OrderStatus.CANCELLED:
        return _("This order was cancelled.")
    if order.status == OrderStatus.PENDING_PAYMENT:
        return _("This order can't be paid right now. Please try again in a minute.")
    return _("This order is already paid.")


def start_card_payment(*, order) -> CardCheckout:
    """The PaymentIntent the shopper pays this order with: the open one, or a new attempt.

    An intent Stripe is done with (paid, declined, cancelled) is recorded first, so a shopper
    coming back to the payment page sees where they stand and is never charged twice.
    """
    if order.payment_method != Method.CARD:
        raise PaymentError(_("This order is not paid by card."))
    gateway = stripe_gateway()
    for _attempt in range(3):
        payment = open_payment(order=order)
        if payment is None:
            raise PaymentError(_not_payable_message(order))
        try:
            if payment.provider_reference is None:
                intent = gateway.create_intent(payment=payment)
                if _attach_intent(payment, intent["id"]):
                    return CardCheckout(payment=payment, client_secret=intent["client_secret"])
                continue
            intent = gateway.retrieve_intent(payment.provider_reference)
        except GatewayError as error:
            raise _provider_error(error) from error
        declined = bool(intent.get("last_payment_error"))
        if intent["status"] in PAYABLE_INTENT and not declined:
            return CardCheckout(payment=payment, client_secret=intent["client_secret"])
        apply_intent(intent=intent)
        if intent["status"] == "processing":
            raise PaymentError(
                _("Your bank is still confirming the payment. Please look again in a few minutes.")
            )
    raise PaymentError(_("The payment could not be started. Please try again."))


def _attach_intent(payment, reference):
    """Give the payment its intent, unless another request gave it one first."""
    attached = Payment.objects.filter(
        pk=payment.pk, provider_reference__isnull=True, status__in=OPEN
    ).update(provider_reference=reference, updated_at=timezone.now())
    if attached:
        payment.provider_reference = reference
    return bool(attached)


def refresh_card_payment(*, payment) -> Payment:
    """Ask Stripe how the payment's intent stands and record it, for the return page."""
    try:
        intent = stripe_gateway().retrieve_intent(payment.provider_reference)
    except GatewayError as error:
        raise _provider_error(error) from error
    apply_intent(intent=intent)
    payment.refresh_from_db()
    return payment


# What Stripe says about an intent


def apply_intent(*, intent):
    """Record what Stripe says about a PaymentIntent; the Change made, or None.

    Only the payment holding this intent as its reference can change, and only when the
    intent names that payment's order and asks exactly its amount and currency; anything
    else is flagged for staff and pays nothing. A succeeded payment never goes back.
    """
    reference = intent.get("id")
    if not isinstance(reference, str) or not reference:
        return None
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update(of=("self",))
            .select_related("order")
            .filter(provider=Payment.Provider.STRIPE, provider_reference=reference)
            .first()
        )
        if payment is None:
            return None
        mismatch = _mismatch(payment, intent)
        if mismatch:
            return _flag(payment, mismatch)
        status = intent.get("status")
        if status == "succeeded":
            return _record_success(payment)
        if status == "requires_payment_method" and intent.get("last_payment_error"):
            return _record_failure(payment, intent["last_payment_error"])
        if status == "requires_action":
            return _move(payment, Status.REQUIRES_ACTION, allowed=(Status.PENDING, Status.FAILED))
        if status == "canceled":
            return _move(payment, Status.CANCELLED, allowed=OPEN)
    return None


def _mismatch(payment, intent):
    """Why the intent can't pay this payment's order, or "" when everything matches."""
    order = payment.order
    metadata = intent.get("metadata") or {}
    if metadata.get("order_id") != str(order.pk) or metadata.get("order_number") != order.number:
        return _("The payment intent was made for another order (%(number)s).") % {
            "number": metadata.get("order_number") or "?"
        }
    currency = str(intent.get("currency") or "").upper()
    if currency != payment.currency.upper():
        return _("Stripe took %(currency)s; the order is in %(expected)s.") % {
            "currency": currency or "?",
            "expected": payment.currency,
        }
    expected = to_minor_units(payment.amount, payment.currency)
    amounts = [intent.get("amount")]
    if intent.get("status") == "succeeded" and intent.get("amount_received") is not None:
        amounts.append(intent["amount_received"])
    wrong = [amount for amount in amounts if amount != expected]
    if wrong or payment.amount != order.total:
        return _(
            "Stripe's amount (%(amount)s in minor units) is not the order total "
            "(%(total)s %(currency)s)."
        ) % {"amount": (wrong or amounts)[0], "total": order.total, "currency": order.currency}
    return ""


def _flag(payment, reason):
    if payment.flagged_reason == reason:
        return None
    payment.flagged_reason = reason[:255]
    payment.save(update_fields=["flagged_reason", "updated_at"])
    return Change(payment=payment, before=payment.status, after=payment.status, note=reason)


def _move(payment, to_status, *, allowed, **fields):
    if payment.status not in allowed:
        return None
    before = payment.status
    payment.status = to_status
    for name, value in fields.items():
        setattr(payment, name, value)
    payment.save(update_fields=["status", *fields, "updated_at"])
    return Change(payment=payment, before=before, after=to_status)


def _record_success(payment):
    if payment.status == Status.SUCCEEDED:
        return None
    order = Order.objects.select_for_update().get(pk=payment.order_id)
    if order.payments.filter(status=Status.SUCCEEDED).exclude(pk=payment.pk).exists():
        return _flag(
            payment, _("Paid twice: the order was already paid. Refund this payment in Stripe.")
        )
    if order.status not in (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED):
        return _flag(
            payment,
            _("Paid while the order was “%(status)s”.") % {"status": order.get_status_display()},
        )
    change = _move(
        payment,
        Status.SUCCEEDED,
        allowed=(*OPEN, Status.FAILED, Status.CANCELLED),
        paid_at=timezone.now(),
        failure_message="",
    )
    if order.status == OrderStatus.CANCELLED:
        request_refund(
            payment=payment,
            amount=payment.amount,
            reason=_("The order was cancelled before the payment arrived."),
            idempotency_key=f"cancelled-{payment.pk}",
        )
        return Change(payment, change.before, change.after, _("order cancelled: refunded"))
    change_status(order=order, to_status=OrderStatus.PAID, note=_("Card payment received."))
    _cancel_other_payments(order, keep=payment)
    queue_payment_email(kind="received", pk=payment.pk)
    return Change(payment, change.before, change.after, _("order paid"))


def _record_failure(payment, error):
    message = (error.get("message") or _("The payment was declined."))[:255]
    change = _move(payment, Status.FAILED, allowed=OPEN, failure_message=message)
    if change is not None and payment.order.status == OrderStatus.PENDING_PAYMENT:
        queue_payment_email(kind="failed", pk=payment.pk)
    return change


def _cancel_other_payments(order, *, keep):
    """A paid order's other open attempts can no longer be paid: cancel them here and at Stripe."""
    others = order.payments.select_for_update().filter(status__in=OPEN).exclude(pk=keep.pk)
    for other in others:
        _move(other, Status.CANCELLED, allowed=OPEN)
        if other.provider == Payment.Provider.STRIPE and other.provider_reference:
            _cancel_intent_on_commit(other.provider_reference)


def _cancel_intent_on_commit(reference):
    """Cancel the PaymentIntent at Stripe through the outbox, once the transaction commits."""
    outbox.enqueue(
        "payments.tasks.cancel_payment_intent", reference, key=f"payments:cancel-intent:{reference}"
    )


def cancel_card_intent(*, reference):
    """Cancel an intent at Stripe so it can't be paid; if Stripe refuses (say it was paid just
    now), record what the intent became instead."""
    gateway = stripe_gateway()
    try:
        intent = gateway.cancel_intent(reference)
    except GatewayError as error:
        if error.retryable:
            raise ProviderUnavailable(str(error)) from error
        try:
            intent = gateway.retrieve_intent(reference)
        except GatewayError as retrieve_error:
            raise _provider_error(retrieve_error) from retrieve_error
    return apply_intent(intent=intent)


def reconcile_payment(*, payment):
    """Ask Stripe about the payment's intent and apply what a missed webhook would have.

    When Stripe and our records disagree in a way no webhook can put right (we recorded a
    payment Stripe does not show as paid), the payment is flagged and PaymentError raised.
    """
    try:
        intent = stripe_gateway().retrieve_intent(payment.provider_reference)
    except GatewayError as error:
        raise _provider_error(error) from error
    change = apply_intent(intent=intent)
    payment.refresh_from_db()
    if payment.status == Status.SUCCEEDED and intent.get("status") != "succeeded":
        reason = _("Recorded as paid, but Stripe says the intent is “%(status)s”.") % {
            "status": intent.get("status")
        }
        with transaction.atomic():
            _flag(Payment.objects.select_for_update().get(pk=payment.pk), reason)
        raise PaymentError(reason)
    return change


# Payments confirmed by people


def mark_transfer_received(*, payment, user, paid_at=None, notify=True):
    """Staff saw the bank transfer arrive: the payment succeeds and the order is paid.

    Money for an order cancelled before it arrived (an expired transfer, say) is handled
    like a late card payment: the payment is recorded as received and flagged for staff,
    a refund of all of it is requested at once, to be paid back by hand, and the order
    stays cancelled. InvalidTransition (from orders) when the order can no longer be paid
    otherwise, e.g. shipped. `paid_at` and `notify=False` are for recording history (demo
    data), not for staff.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("order").get(pk=payment.pk)
        if payment.method != Method.BANK_TRANSFER:
            raise PaymentError(_("Only bank transfers are marked received by hand."))
        if payment.status == Status.SUCCEEDED:
            raise PaymentError(_("This transfer was already marked received."))
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        record(
            actor=user,
            action="payment.transfer_received",
            target=payment,
            before={"status": payment.status},
            after={"status": Status.SUCCEEDED},
        )
        # Cancelling the order cancelled its open payment: that is the one the money is for.
        if order.status == OrderStatus.CANCELLED and payment.status in (*OPEN, Status.CANCELLED):
            _move(
                payment,
                Status.SUCCEEDED,
                allowed=(*OPEN, Status.CANCELLED),
                paid_at=paid_at or timezone.now(),
                flagged_reason=_(
                    "The transfer arrived after the order was cancelled: pay it back in full."
                ),
            )
            request_refund(
                payment=payment,
                amount=payment.amount,
                reason=_("The order was cancelled before the payment arrived."),
                idempotency_key=f"cancelled-{payment.pk}",
                user=user,
            )
            return payment
        if payment.status not in OPEN:
            raise PaymentError(
                _("This payment is “%(status)s”.") % {"status": payment.get_status_display()}
            )
        change_status(
            order=order,
            to_status=OrderStatus.PAID,
            user=user,
            note=_("Bank transfer received"),
        )
        _move(payment, Status.SUCCEEDED, allowed=OPEN, paid_at=paid_at or timezone.now())
        if notify:
            queue_payment_email(kind="received", pk=payment.pk)
    return payment


def mark_order_transfer_received(*, order, user, paid_at=None, notify=True):
    """Staff saw the bank transfer for this order arrive (the order admin's "mark paid").

    For an order cancelled meanwhile the money goes to its transfer payment, cancelled with
    it (made now if it never had one), and is refunded: see mark_transfer_received.
    """
    if order.payment_method != Method.BANK_TRANSFER:
        raise PaymentError(_("Only bank transfers are marked received by hand."))
    if order.total <= 0:
        # Nothing was due, so there is no payment to record; the order is paid all the same.
        return change_status(
            order=order, to_status=OrderStatus.PAID, user=user, note=_("Bank transfer received")
        )
    payment = open_payment(order=order)
    if payment is None:
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=order.pk)
            if order.status != OrderStatus.CANCELLED:
                raise InvalidTransition(
                    _("An order that is “%(from)s” can't become “%(to)s”.")
                    % {"from": order.get_status_display(), "to": OrderStatus.PAID.label}
                )
            payment = order.payments.order_by("-created_at", "-pk").first() or _new_payment(order)
    mark_transfer_received(payment=payment, user=user, paid_at=paid_at, notify=notify)
    return order


def open_cash_payment(*, order_id):
    """The cash-on-delivery payment of this order still to collect, or None."""
    return Payment.objects.filter(
        order_id=order_id, method=Method.CASH_ON_DELIVERY, status__in=OPEN
    ).first()


def mark_cash_collected(*, payment, paid_at=None, user=None):
    """The courier collected the cash on delivery: the payment succeeds.

    The order itself has moved on through fulfilment already and keeps its status. `user` is
    the staff member who recorded it by hand (none when the delivery recorded it).
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("order").get(pk=payment.pk)
        if payment.method != Method.CASH_ON_DELIVERY:
            raise PaymentError(_("Only cash on delivery is collected by the courier."))
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        if payment.status not in OPEN or order.status not in COLLECTABLE:
            raise PaymentError(
                _("Order %(number)s has no cash left to collect.") % {"number": order.number}
            )
        before = payment.status
        _move(payment, Status.SUCCEEDED, allowed=OPEN, paid_at=paid_at or timezone.now())
        record(
            actor=user,
            action="payment.cash_collected",
            target=payment,
            before={"status": before},
            after={"status": payment.status},
        )
    return payment


def settle_cancelled_order(*, order_id):
    """A cancelled order's payments: open ones are cancelled, received ones refunded in full.

    Card refunds go to Stripe after commit; money received by hand is refunded by staff, so
    its refund waits in admin until they mark it paid back. Safe to run twice.
    """
    with transaction.atomic():
        payments = Payment.objects.select_for_update().filter(order_id=order_id).order_by("pk")
        for payment in payments:
            is_stripe = payment.provider == Payment.Provider.STRIPE
            payable = payment.status in (*OPEN, Status.FAILED)
            if is_stripe and payment.provider_reference and payable:
                _cancel_intent_on_commit(payment.provider_reference)
            _move(payment, Status.CANCELLED, allowed=OPEN)
            left = selectors.refundable_amount(payment)
            if left > 0:
                request_refund(
                    payment=payment,
                    amount=left,
                    reason=_("The order was cancelled."),
                    idempotency_key=f"cancel-{payment.pk}",
                )


# Refunds


def _refund_amount(amount):
    try:
        amount = quantize(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise PaymentError(_("Enter the amount to refund as a number.")) from None
    if not amount.is_finite() or amount <= 0:
        raise PaymentError(_("Enter an amount greater than zero."))
    return amount


def refund_payment(*, payment, amount, reason="", user=None, idempotency_key="", pay_back_to=""):
    """Give back `amount` of a received payment, never more than is left to refund.

    What happens to the order follows from where its goods are. Nothing packed yet: a refund
    of everything left cancels the order, which releases its stock and refunds the payment
    through settle_cancelled_order; a partial refund leaves it to be shipped. Parcels on
    their way: only part can be refunded until they arrive or come back. Delivered: the order
    becomes (partially) refunded when the money has gone back.

    A card refund goes to Stripe at once with the refund's idempotency key (the same key
    twice, as from a double-submitted form, refunds once); a cash or transfer refund waits,
    "to pay back", until staff mark it paid back.
    """
    amount = _refund_amount(amount)
    payment = Payment.objects.select_related("order").get(pk=payment.pk)
    order = payment.order
    if StaffAction.REFUND not in staff_actions(order):
        raise PaymentError(
            _("Order %(number)s is “%(status)s”: it can't be refunded.")
            % {"number": order.number, "status": order.get_status_display()}
        )
    everything = amount == selectors.refundable_amount(payment)
    if everything and can_cancel(order):
        return _refund_by_cancelling(order=order, payment=payment, reason=reason, user=user)
    if everything and order.status in (OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED):
        raise PaymentError(
            _(
                "Order %(number)s has parcels on their way: refund part of it now, and the "
                "rest once they are delivered or come back."
            )
            % {"number": order.number}
        )
    refund = request_refund(
        payment=payment,
        amount=amount,
        reason=reason,
        user=user,
        idempotency_key=idempotency_key or uuid.uuid4().hex,
        pay_back_to=pay_back_to,
    )
    return send_refund(refund=refund)


def _refund_by_cancelling(*, order, payment, reason, user):
    cancel_order(
        order=order, user=user, note=reason or _("Refunded in full before anything shipped.")
    )
    # order_cancelled has settled the payment already; settling again is harmless and makes
    # sure the refund exists even if that receiver failed.
    settle_cancelled_order(order_id=order.pk)
    refund = Refund.objects.get(payment=payment, idempotency_key=f"cancel-{payment.pk}")
    if refund.requested_by_id is None and user is not None and user.is_authenticated:
        Refund.objects.filter(pk=refund.pk).update(requested_by=user)
        record(
            actor=user, action="refund.requested", target=refund, after={"amount": refund.amount}
        )
    return send_refund(refund=refund)


def request_refund(*, payment, amount, reason, idempotency_key, user=None, pay_back_to=""):
    """Record a refund of `amount`, pending until Stripe pays it or staff pay it back by hand.

    A refund paid by hand (cash, bank transfer) stays "to pay back" until staff mark it
    paid back; the shopper is told now what will happen. Returns the refund already
    recorded under this idempotency key, if any.
    """
    amount = _refund_amount(amount)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        existing = Refund.objects.filter(payment=payment, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        if payment.status != Status.SUCCEEDED:
            raise PaymentError(_("Only a received payment can be refunded."))
        left = selectors.refundable_amount(payment)
        if amount > left:
            raise PaymentError(
                _("At most %(left)s %(currency)s is left to refund.")
                % {"left": left, "currency": payment.currency}
            )
        refund = Refund.objects.create(
            payment=payment,
            amount=amount,
            reason=reason[:255],
            is_manual=gateway_for(payment.method).paid_by_hand,
            pay_back_to=str(pay_back_to or "").strip()[:255],
            idempotency_key=idempotency_key,
            requested_by=user if user is not None and user.is_authenticated else None,
        )
        record(actor=user, action="refund.requested", target=refund, after={"amount": amount})
        if refund.is_manual:
            queue_payment_email(kind="refund_due", pk=refund.pk)
        else:
            # Whoever asked may also send it at once; if that fails, the outbox sends it.
            _send_refund_on_commit(refund)
    return refund


def send_refund(*, refund):
    """Send a pending card refund to Stripe, or ask Stripe how one it has is doing.

    Does nothing to a refund that is done or paid back by hand. Raises ProviderUnavailable
    when Stripe does not answer (the refund stays pending, to be sent again with the same
    key) and PaymentError when Stripe refuses it (the refund is marked failed).
    """
    refund = Refund.objects.select_related("payment__order").get(pk=refund.pk)
    if refund.status != Refund.Status.PENDING or refund.is_manual:
        return refund
    gateway = stripe_gateway()
    try:
        if refund.provider_reference:
            result = gateway.retrieve_refund(refund.provider_reference)
        else:
            result = gateway.refund(refund=refund)
    except GatewayError as error:
        if error.retryable:
            raise ProviderUnavailable(
                _("Stripe did not answer. The refund stays pending and is sent again shortly.")
            ) from error
        _finish_refund(
            refund,
            RefundResult(
                reference=refund.provider_reference,
                status=Refund.Status.FAILED,
                failure_message=str(error),
            ),
        )
        message = _("Stripe refused the refund: %(reason)s") % {"reason": error}
        raise PaymentError(message) from error
    return _finish_refund(refund, result)


def _finish_refund(refund, result):
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status != Refund.Status.PENDING:
            return refund
        refund.provider_reference = result.reference
        if result.status == Refund.Status.SUCCEEDED:
            _complete_refund(refund)
        else:
            refund.status = result.status
            refund.failure_message = result.failure_message[:255]
            refund.save(update_fields=["provider_reference", "status", "failure_message"])
    return refund


def _send_refund_on_commit(refund):
    outbox.enqueue("payments.tasks.send_refund", refund.pk, key=f"payments:refund:{refund.pk}")


def mark_refund_paid_back(*, refund, user):
    """Staff paid a cash or transfer refund back by hand."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if not (refund.is_manual and refund.status == Refund.Status.PENDING):
            raise PaymentError(_("Only a pending manual refund is paid back by hand."))
        if refund.requested_by is None and user is not None and user.is_authenticated:
            refund.requested_by = user
        record(
            actor=user,
            action="refund.paid_back",
            target=refund,
            before={"status": refund.status},
            after={"status": Refund.Status.SUCCEEDED},
        )
        _complete_refund(refund)
    return refund


def _complete_refund(refund):
    """The refund is done: count it on the payment, move the order, tell the shopper."""
    refund.status = Refund.Status.SUCCEEDED
    refund.completed_at = timezone.now()
    refund.save(update_fields=["status", "completed_at", "provider_reference", "requested_by"])
    payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
    payment.amount_refunded += refund.amount
    payment.save(update_fields=["amount_refunded", "updated_at"])
    order = payment.order
    whole = payment.amount_refunded >= payment.amount
    to_status = OrderStatus.REFUNDED if whole else OrderStatus.PARTIALLY_REFUNDED
    # Only delivered goods make an order (partially) refunded: a cancelled order stays
    # cancelled, and one still to ship or on its way keeps its status until delivered.
    if can_transition(order, to_status):
        change_status(
            order=order,
            to_status=to_status,
            user=refund.requested_by,
            note=_("Refunded %(amount)s %(currency)s.")
            % {"amount": refund.amount, "currency": payment.currency},
        )
    queue_payment_email(kind="refunded", pk=refund.pk)


# Webhooks


def record_webhook(*, event):
    """Store a verified Stripe event by its id and queue its processing once stored.

    Returns the stored event, or None for an event the shop does not act on and for a
    duplicate (Stripe sends an event again when unsure we got it): nothing is done twice.
    """
    if event["type"] not in HANDLED_EVENTS:
        return None
    try:
        with transaction.atomic():
            stored = WebhookEvent.objects.create(
                provider=Payment.Provider.STRIPE,
                event_id=event["id"],
                type=event["type"],
                payload=event,
            )
            # With the broker down the webhook is still answered at once; the outbox
            # hands the stored event over when the broker is back.
            outbox.enqueue(
                "payments.tasks.process_webhook_event",
                stored.pk,
                key=f"payments:webhook:{stored.pk}",
            )
    except IntegrityError:
        return None
    return stored


def process_webhook_event(*, event_pk):
    """Apply a stored event once: True if it was processed now, False if done before.

    The event row is locked and marked processed in the same transaction as the change it
    makes, so a redelivered task or two workers at once change nothing twice.
    """
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().filter(pk=event_pk).first()
            if event is None or event.processed_at is not None:
                return False
            intent = event.payload["data"]["object"]
            if intent.get("object") == "payment_intent":
                apply_intent(intent=intent)
            event.processed_at = timezone.now()
            event.error = ""
            event.save(update_fields=["processed_at", "error"])
    except Exception as error:
        WebhookEvent.objects.filter(pk=event_pk).update(error=f"{type(error).__name__}: {error}")
        raise
    return True
