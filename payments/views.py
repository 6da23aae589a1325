"""Payment pages and the Stripe webhook: parse the request, call a service, answer."""

from urllib.parse import urlencode

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from orders.selectors import order_for_viewer

from . import selectors, services
from .gateways import InvalidWebhook, stripe_gateway

# Only the payment page loads Stripe: its script, its frames and its API, added to the shop's
# policy (settings.CONTENT_SECURITY_POLICY); other pages don't. Stripe.js sets inline styles on
# the elements it inserts, so this page alone allows inline styles; never inline scripts.
STRIPE_CSP = {
    "script-src": ["https://js.stripe.com", "https://*.js.stripe.com"],
    "frame-src": ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"],
    "connect-src": [SELF, "https://api.stripe.com"],
    "img-src": ["https://*.stripe.com"],
    "style-src": [UNSAFE_INLINE],
}


def _with_key(path, key):
    return f"{path}?{urlencode({'key': key})}" if key else path


def _order_url(order, key):
    return _with_key(order.get_absolute_url(), key)


@never_cache
@require_GET
@csp_update(STRIPE_CSP)
def pay(request, number):
    key = request.GET.get("key", "")
    order = order_for_viewer(number=number, user=request.user, key=key)
    if not (settings.STRIPE_SECRET_KEY and settings.STRIPE_PUBLISHABLE_KEY):
        messages.error(request, _("Card payments are not available right now."))
        return redirect(_order_url(order, key))
    try:
        checkout = services.start_card_payment(order=order)
    except services.PaymentError as error:
        messages.error(request, str(error))
        return redirect(_order_url(order, key))
    return_path = _with_key(reverse("payments:card_return", args=[order.number]), key)
    context = {
        "order": order,
        "payment": checkout.payment,
        "client_secret": checkout.client_secret,
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "return_url": request.build_absolute_uri(return_path),
        "order_url": _order_url(order, key),
    }
    return render(request, "payments/pay.html", context)


@never_cache
@require_GET
def card_return(request, number):
    """Where Stripe sends the shopper back: the outcome, asked of Stripe rather than awaited."""
    key = request.GET.get("key", "")
    order = order_for_viewer(number=number, user=request.user, key=key)
    payment = selectors.card_payment(order=order, reference=request.GET.get("payment_intent", ""))
    if payment is None:
        raise Http404(_("No such payment."))
    try:
        payment = services.refresh_card_payment(payment=payment)
    except services.PaymentError as error:
        messages.warning(request, str(error))
    order.refresh_from_db()
    context = {
        "order": order,
        "payment": payment,
        "order_url": _order_url(order, key),
        "pay_url": _with_key(reverse("payments:pay", args=[order.number]), key),
    }
    return render(request, "payments/card_return.html", context)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's events: verified, stored by id and queued; answered at once."""
    try:
        event = stripe_gateway().verify_webhook(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except InvalidWebhook:
        return HttpResponseBadRequest(_("Invalid webhook."), content_type="text/plain")
    services.record_webhook(event=event)
    return HttpResponse(status=200)
