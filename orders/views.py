"""Cart, checkout and order pages: parse the request, call a service or selector, render."""

import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_countries import countries

from shipping.selectors import shipments_of
from shipping.services import OutOfStock, parcel_weight
from shop.http import safe_next

from . import selectors, services
from .forms import AddToCartForm, CartQuantityForm, CheckoutForm
from .models import Order

CHECKOUT_SESSION_KEY = "checkout"
TOKEN_SESSION_KEY = "checkout_token"  # noqa: S105 (a session key name, not a secret)


def _first_error(form):
    return next(iter(form.errors.values()))[0]


def _show_price_changes(request, cart):
    for change in services.refresh_cart_prices(cart=cart):
        messages.warning(
            request,
            _("The price of “%(item)s” changed from %(old)s to %(new)s.")
            % {"item": change.item, "old": change.old, "new": change.new},
        )


def _cart_page(request, *, status=200):
    cart = selectors.get_cart(request)
    if cart is not None:
        _show_price_changes(request, cart)
    context = {"cart": selectors.cart_view(cart)}
    return render(request, "orders/cart.html", context, status=status)


def _refused(request, message):
    """A cart change we refuse: the cart page with the reason, as a 400."""
    messages.error(request, message)
    return _cart_page(request, status=400)


def cart(request):
    return _cart_page(request)


@require_POST
def cart_add(request):
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        return _refused(request, _first_error(form))
    try:
        line = services.add_to_cart(
            cart=services.open_cart(request),
            variant_id=form.cleaned_data["variant"],
            quantity=form.cleaned_data["quantity"],
        )
    except services.CartError as error:
        return _refused(request, str(error))
    messages.success(request, _("“%(item)s” is in your cart.") % {"item": line.variant})
    return safe_next(request, "orders:cart")


@require_POST
def cart_update(request, line_id):
    form = CartQuantityForm(request.POST)
    cart = selectors.get_cart(request)
    if cart is None:
        return _refused(request, _("This item is not in your cart."))
    if not form.is_valid():
        return _refused(request, _first_error(form))
    try:
        services.set_cart_quantity(
            cart=cart, line_id=line_id, quantity=form.cleaned_data["quantity"]
        )
    except services.CartError as error:
        return _refused(request, str(error))
    messages.success(request, _("Your cart was updated."))
    return redirect("orders:cart")


@require_POST
def cart_remove(request, line_id):
    cart = selectors.get_cart(request)
    if cart is None:
        return _refused(request, _("This item is not in your cart."))
    try:
        services.remove_from_cart(cart=cart, line_id=line_id)
    except services.CartError as error:
        return _refused(request, str(error))
    messages.success(request, _("The item was removed from your cart."))
    return redirect("orders:cart")


def _cart_ready_for_checkout(request):
    """The cart view if it can be checked out, else None with a message saying why."""
    cart = selectors.get_cart(request)
    if cart is not None:
        _show_price_changes(request, cart)
    view = selectors.cart_view(cart)
    if not view:
        messages.info(request, _("Your cart is empty."))
        return None, None
    if view.has_problems:
        messages.warning(request, _("Some items in your cart can't be bought as they are."))
        return None, None
    return cart, view


def _weight(view):
    return parcel_weight((row.line.variant, row.line.quantity) for row in view.rows)


def _quote(view, data, user):
    country = data["address"]["country"]
    return services.quote_order(
        amounts=[(row.unit_price, row.line.quantity, row.line.variant.price) for row in view.rows],
        shipping_method=services.active_shipping_method(
            data["shipping_method_id"], country=country, weight_grams=_weight(view)
        ),
        country=country,
        voucher=services.find_voucher(data["voucher_code"]) if data["voucher_code"] else None,
        email=data["email"],
        user=user,
        weight_grams=_weight(view),
    )


def checkout(request):
    cart, view = _cart_ready_for_checkout(request)
    if cart is None:
        return redirect("orders:cart")
    saved = request.session.get(CHECKOUT_SESSION_KEY)
    form = CheckoutForm(
        request.POST if request.method == "POST" else None,
        user=request.user,
        subtotal=view.subtotal,
        weight_grams=_weight(view),
        initial=CheckoutForm.initial_from(saved, request.user),
    )
    if request.method == "POST" and form.is_valid():
        data = form.checkout_data()
        try:
            _quote(view, data, request.user)
        except services.VoucherError as error:
            form.add_error("voucher_code", str(error))
        except services.CheckoutError as error:
            form.add_error(None, str(error))
        else:
            request.session[CHECKOUT_SESSION_KEY] = data
            return redirect("orders:checkout_review")
    status = 400 if form.errors else 200
    return render(request, "orders/checkout.html", {"form": form, "cart": view}, status=status)


def checkout_review(request):
    if request.method == "POST":
        return _place_order(request)
    data = request.session.get(CHECKOUT_SESSION_KEY)
    if not data:
        return redirect("orders:checkout")
    cart, view = _cart_ready_for_checkout(request)
    if cart is None:
        return redirect("orders:cart")
    try:
        quote = _quote(view, data, request.user)
    except services.CheckoutError as error:
        messages.error(request, str(error))
        return redirect("orders:checkout")
    method = quote.shipping_method
    token = request.session.setdefault(TOKEN_SESSION_KEY, secrets.token_urlsafe(32))
    context = {
        "cart": view,
        "data": data,
        "quote": quote,
        "shipping_method": method,
        "delivery_time": selectors.delivery_time(method),
        "payment_method_label": Order.PaymentMethod(data["payment_method"]).label,
        "checkout_token": token,
        "country_name": countries.name(data["address"]["country"]),
        "tax_percent": selectors.percent(quote.tax_rate),
    }
    return render(request, "orders/checkout_review.html", context)


def _confirmation(order):
    url = reverse("orders:order_confirmation", args=[order.number])
    return redirect(f"{url}?key={order.access_key}")


def _place_order(request):
    token = request.POST.get("checkout_token", "")
    if token != request.session.get(TOKEN_SESSION_KEY):
        placed = selectors.order_by_checkout_token(token)
        if placed is not None:
            return _confirmation(placed)
        messages.error(request, _("This checkout has expired. Please review your order again."))
        return redirect("orders:checkout_review")
    data = request.session.get(CHECKOUT_SESSION_KEY)
    cart = selectors.get_cart(request)
    if not data or cart is None:
        return redirect("orders:checkout")
    try:
        order = services.place_order(
            cart=cart,
            checkout_token=token,
            email=data["email"],
            address=data["address"],
            shipping_method_id=data["shipping_method_id"],
            payment_method=data["payment_method"],
            voucher_code=data["voucher_code"],
            user=request.user,
            language=request.LANGUAGE_CODE,
        )
    except OutOfStock as error:
        for reason in error.reasons:
            messages.error(request, reason)
        return redirect("orders:cart")
    except services.PriceChanged as error:
        messages.warning(request, str(error))
        return redirect("orders:checkout_review")
    except services.CheckoutError as error:
        messages.error(request, str(error))
        return redirect("orders:checkout")
    request.session.pop(CHECKOUT_SESSION_KEY, None)
    request.session.pop(TOKEN_SESSION_KEY, None)
    return _confirmation(order)


def _order_page(request, template, order, *, status=200, **context):
    context = {
        "order": order,
        "tax_percent": selectors.percent(order.tax_rate),
        "bank_account": settings.SHOP_BANK_ACCOUNT,
        **context,
    }
    return render(request, template, context, status=status)


def order_confirmation(request, number):
    order = selectors.order_for_viewer(
        number=number, user=request.user, key=request.GET.get("key", "")
    )
    secret_url = request.build_absolute_uri(
        f"{reverse('orders:order_detail', args=[order.number])}?key={order.access_key}"
    )
    return _order_page(request, "orders/order_confirmation.html", order, secret_url=secret_url)


def order_detail(request, number):
    key = request.GET.get("key", "")
    order = selectors.order_for_viewer(number=number, user=request.user, key=key)
    return _order_page(
        request,
        "orders/order_detail.html",
        order,
        key=key,
        can_cancel=services.can_cancel(order)
        and selectors.viewer_may(
            order, user=request.user, key=key, staff_permissions=selectors.STAFF_CANCEL_ORDERS
        ),
        shipments=shipments_of(order),
    )


@require_POST
def order_cancel(request, number):
    key = request.POST.get("key", "")
    order = selectors.order_for_viewer(
        number=number,
        user=request.user,
        key=key,
        staff_permissions=selectors.STAFF_CANCEL_ORDERS,
    )
    url = reverse("orders:order_detail", args=[order.number])
    if key:
        url = f"{url}?{urlencode({'key': key})}"
    try:
        services.cancel_order(order=order, user=request.user, note=_("Cancelled by the shopper."))
    except services.InvalidTransition:
        messages.error(request, _("This order can no longer be cancelled."))
        return _order_page(
            request, "orders/order_detail.html", order, status=409, key=key, can_cancel=False
        )
    messages.success(request, _("Your order was cancelled."))
    return redirect(url)


@login_required
def order_list(request):
    return render(request, "orders/order_list.html", {"orders": selectors.orders_of(request.user)})
