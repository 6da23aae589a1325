"""Order emails: what each one says, and queueing it once the order's transaction commits."""

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction

from shop.emails import send_templated_email
from shop.models import SentEmail

from .models import Order, OrderEvent

# A "transfer_reminder" lost on the way is not swept: remind_unpaid_transfers queues it again.
KINDS = ("placed", "cancelled", "transfer_reminder")
# The sweep leaves the usual path this long to deliver before it steps in, and gives up after a day.
SWEEP_GRACE = timedelta(minutes=10)
SWEEP_WINDOW = timedelta(days=1)


def queue_order_email(*, order, kind):
    """Send the `kind` email for this order once the current transaction commits.

    Robust: when the broker is down the order still goes through; the sweep sends it later.
    """
    _check_kind(kind)
    from .tasks import send_order_email

    transaction.on_commit(lambda: send_order_email.delay(order.pk, kind), robust=True)


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"Unknown order email kind: {kind!r}")


def order_email_key(order_id, kind):
    return f"order:{order_id}:{kind}"


def order_link(order):
    """The absolute link to the order page; a guest's carries the order's secret key."""
    path = order.get_absolute_url()
    if order.user_id is None:
        path = f"{path}?{urlencode({'key': order.access_key})}"
    return settings.SHOP_BASE_URL.rstrip("/") + path


def sent_order_emails(*, orders, kind):
    """The ids of those orders whose `kind` email has gone out."""
    keys = {order_email_key(order.pk, kind): order.pk for order in orders}
    sent = SentEmail.objects.filter(key__in=keys).values_list("key", flat=True)
    return {keys[key] for key in sent}


def transfer_deadline(order):
    """When cancel_unpaid_orders cancels a bank transfer order whose money has not arrived."""
    return order.created_at + timedelta(days=settings.ORDER_BANK_TRANSFER_DAYS)


def deliver_order_email(*, order, kind):
    """Render and send the `kind` email in the order's language; False when it went out before
    or no longer applies (a transfer reminder for an order paid or cancelled since)."""
    _check_kind(kind)
    awaits_transfer = (
        order.status == Order.Status.PENDING_PAYMENT
        and order.payment_method == Order.PaymentMethod.BANK_TRANSFER
    )
    if kind == "transfer_reminder" and not awaits_transfer:
        return False
    cancellation = (
        order.events.filter(to_status=Order.Status.CANCELLED).last()
        if kind == "cancelled"
        else None
    )
    context = {
        "order": order,
        "lines": list(order.lines.all()),
        "order_url": order_link(order),
        "tax_percent": order.tax_rate * 100,
        "shop_name": settings.SHOP_NAME,
        "bank_account": settings.SHOP_BANK_ACCOUNT,
        "unpaid_minutes": settings.ORDER_UNPAID_MINUTES,
        "transfer_deadline": transfer_deadline(order),
        "PaymentMethod": Order.PaymentMethod,
        "Status": Order.Status,
        "cancellation": cancellation,
    }
    return send_templated_email(
        key=order_email_key(order.pk, kind),
        to=order.email,
        template_prefix=f"orders/email/{kind}",
        context=context,
        language=order.language,
    )


def unsent_order_emails(*, now):
    """(order id, kind) of the emails that should have gone out but have no log row.

    They are the ones whose task never reached the broker, or failed for good.
    """
    since, until = now - SWEEP_WINDOW, now - SWEEP_GRACE
    placed = Order.objects.filter(created_at__range=(since, until)).values_list("pk", flat=True)
    cancelled = OrderEvent.objects.filter(
        to_status=Order.Status.CANCELLED, created_at__range=(since, until)
    ).values_list("order_id", flat=True)
    wanted = {order_email_key(pk, "placed"): (pk, "placed") for pk in placed}
    wanted |= {order_email_key(pk, "cancelled"): (pk, "cancelled") for pk in cancelled}
    sent = set(SentEmail.objects.filter(key__in=wanted).values_list("key", flat=True))
    return [email for key, email in wanted.items() if key not in sent]
