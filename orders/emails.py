"""Order emails: what each one says, and queueing it in the order's transaction."""

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings

from shop import outbox
from shop.emails import send_templated_email
from shop.models import SentEmail

from .models import Order

KINDS = ("placed", "cancelled", "transfer_reminder")


def queue_order_email(*, order, kind):
    """Send the `kind` email for this order through the outbox, with the current transaction.

    When the broker is down the order still goes through; the outbox sends the email later.
    """
    _check_kind(kind)
    key = order_email_key(order.pk, kind)
    outbox.enqueue("orders.tasks.send_order_email", order.pk, kind, key=key)


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
