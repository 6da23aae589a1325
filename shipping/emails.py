"""Shipment emails: the parcel has left, the parcel has arrived; each sent once."""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from shop.emails import send_templated_email

from .models import Shipment

KINDS = ("shipped", "delivered")


def tracking_link(order):
    """The public tracking page for this order, filled in for its shopper."""
    query = urlencode({"number": order.number, "email": order.email})
    return f"{settings.SHOP_BASE_URL.rstrip('/')}{reverse('shipping:track')}?{query}"


def deliver_shipment_email(*, shipment, kind):
    """Render and send the `kind` email in the order's language; False when it went out before."""
    if kind not in KINDS:
        raise ValueError(f"Unknown shipment email kind: {kind!r}")
    order = shipment.order
    context = {
        "shipment": shipment,
        "order": order,
        "lines": list(shipment.lines.select_related("order_line")),
        "tracking_url": tracking_link(order),
        "order_url": tracking_link(order),
        "shop_name": settings.SHOP_NAME,
    }
    return send_templated_email(
        key=f"shipment:{shipment.pk}:{kind}",
        to=order.email,
        template_prefix=f"shipping/email/{kind}",
        context=context,
        language=order.language,
    )


def shipment_for_email(shipment_id):
    return Shipment.objects.select_related("order").filter(pk=shipment_id).first()
