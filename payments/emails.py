"""Payment emails: payment received, payment failed, refund issued; each sent once, after commit."""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from orders.emails import order_link
from shop import outbox
from shop.emails import send_templated_email

from .models import Payment, Refund

# "refund_due" tells the shopper what staff will pay back by hand; "refunded", that it went back.
KINDS = ("received", "failed", "refund_due", "refunded")


def queue_payment_email(*, kind, pk):
    """Send the `kind` email about payment (or refund) `pk` through the outbox.

    When the broker is down the payment still goes through; the outbox sends the email later.
    """
    _check_kind(kind)
    key = payment_email_key(kind, pk)
    outbox.enqueue("payments.tasks.send_payment_email", kind, pk, key=key)


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"Unknown payment email kind: {kind!r}")


def payment_email_key(kind, pk):
    return f"payment:{kind}:{pk}"


def pay_link(order):
    """The absolute link to the order's payment page; a guest's carries the order's secret key."""
    path = reverse("payments:pay", args=[order.number])
    if order.user_id is None:
        path = f"{path}?{urlencode({'key': order.access_key})}"
    return settings.SHOP_BASE_URL.rstrip("/") + path


def deliver_payment_email(*, kind, pk):
    """Render and send the email in the order's language; False when it went out before or
    no longer applies (a failed payment that has since gone through)."""
    _check_kind(kind)
    refund = None
    if kind in ("refund_due", "refunded"):
        refund = Refund.objects.select_related("payment__order").filter(pk=pk).first()
        payment = refund.payment if refund else None
        wanted = Refund.Status.SUCCEEDED if kind == "refunded" else Refund.Status.PENDING
        current = refund is not None and refund.status == wanted
    else:
        payment = Payment.objects.select_related("order").filter(pk=pk).first()
        wanted = Payment.Status.SUCCEEDED if kind == "received" else Payment.Status.FAILED
        current = payment is not None and payment.status == wanted
    if not current:
        return False
    order = payment.order
    context = {
        "order": order,
        "payment": payment,
        "refund": refund,
        "order_url": order_link(order),
        "pay_url": pay_link(order),
        "shop_name": settings.SHOP_NAME,
    }
    return send_templated_email(
        key=payment_email_key(kind, pk),
        to=order.email,
        template_prefix=f"payments/email/{kind}",
        context=context,
        language=order.language,
    )
