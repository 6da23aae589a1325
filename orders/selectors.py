"""Reads for the cart, checkout and order pages, and the few facts they are computed from."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.http import Http404
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.roles import CUSTOMER_DETAILS
from catalog.pricing import effective_price
from shop.money import quantize

from .models import Cart, CartLine, Order

# Staff who may open a customer's order page, and who may cancel someone else's order there.
STAFF_SEE_ORDERS = ("orders.view_order", CUSTOMER_DETAILS)
STAFF_CANCEL_ORDERS = (*STAFF_SEE_ORDERS, "orders.change_order")

# Where a guest's cart token lives in the session. It is our own random token rather than
# the session key, because signing in cycles the session key and the cart must survive that.
CART_SESSION_KEY = "cart_key"


def unit_price(variant) -> Decimal:
    """What one unit of the variant costs now, tax included: the one place prices come from.

    Sales and category promotions apply here, so the cart and checkout charge what the
    product page shows.
    """
    return effective_price(variant)


def tax_rate_for(country) -> Decimal:
    return settings.SHOP_TAX_RATES.get(str(country), settings.SHOP_DEFAULT_TAX_RATE)


def included_tax(amount, rate) -> Decimal:
    """The tax part of a price that includes tax at `rate`."""
    return quantize(Decimal(amount) * rate / (1 + rate))


def percent(rate) -> str:
    """A rate as a percentage to print: Decimal("0.1900") -> "19", Decimal("0.075") -> "7.5"."""
    return format(rate * 100, "f").rstrip("0").rstrip(".")


def delivery_time(method) -> str:
    if method.min_days == method.max_days:
        return ngettext("%(days)s day", "%(days)s days", method.max_days) % {
            "days": method.max_days
        }
    return _("%(min)s–%(max)s days") % {"min": method.min_days, "max": method.max_days}


def payment_methods():
    """Payment methods a shopper may choose now; card only once Stripe is configured."""
    methods = [Order.PaymentMethod.CASH_ON_DELIVERY, Order.PaymentMethod.BANK_TRANSFER]
    if settings.STRIPE_SECRET_KEY:
        methods.insert(0, Order.PaymentMethod.CARD)
    return methods


def get_cart(request):
    """The shopper's cart, or None when they have not put anything in one yet."""
    if request.user.is_authenticated:
        return Cart.objects.filter(user=request.user).first()
    key = request.session.get(CART_SESSION_KEY)
    return Cart.objects.filter(session_key=key).first() if key else None


def cart_count(request) -> int:
    """Units in the shopper's cart, for the header; no query for a guest without a cart."""
    if request.user.is_authenticated:
        lines = CartLine.objects.filter(cart__user=request.user)
    elif key := request.session.get(CART_SESSION_KEY):
        lines = CartLine.objects.filter(cart__session_key=key)
    else:
        return 0
    return lines.aggregate(units=Sum("quantity"))["units"] or 0


@dataclass(frozen=True)
class CartRow:
    line: CartLine
    unit_price: Decimal
    line_total: Decimal
    # The most the shopper may set this line to now: stock and the per-line maximum.
    max_quantity: int
    # Why the line can't be bought as it is ("" when it can).
    problem: str

    @property
    def variant(self):
        return self.line.variant


@dataclass(frozen=True)
class CartView:
    rows: list
    subtotal: Decimal
    count: int

    @property
    def has_problems(self):
        return any(row.problem for row in self.rows)

    def __bool__(self):
        return bool(self.rows)


def line_problem(variant, quantity) -> str:
    if not (variant.is_active and variant.product.is_active) or variant.stock_available <= 0:
        return _("No longer available.")
    if quantity > variant.stock_available:
        return _("Only %(available)s left.") % {"available": variant.stock_available}
    return ""


def cart_view(cart) -> CartView:
    """The cart's lines priced now, with what stands in the way of buying each."""
    if cart is None:
        return CartView(rows=[], subtotal=Decimal("0.00"), count=0)
    rows = []
    for line in cart.lines.select_related("variant__product"):
        price = unit_price(line.variant)
        rows.append(
            CartRow(
                line=line,
                unit_price=price,
                line_total=quantize(price * line.quantity),
                max_quantity=max(1, min(settings.CART_MAX_QUANTITY, line.variant.stock_available)),
                problem=line_problem(line.variant, line.quantity),
            )
        )
    return CartView(
        rows=rows,
        subtotal=quantize(sum((row.line_total for row in rows), Decimal("0.00"))),
        count=sum(row.line.quantity for row in rows),
    )


def orders_of(user):
    return Order.objects.filter(user=user).annotate(units=Sum("lines__quantity"))


def order_by_checkout_token(token):
    return Order.objects.filter(checkout_token=token).first() if token else None


def order_for_viewer(*, number, user, key="", staff_permissions=STAFF_SEE_ORDERS):
    """The order if this viewer may see it: its owner, whoever holds its secret key, or staff
    holding `staff_permissions` (an order page shows the customer's email and history, so
    seeing orders alone is not enough; acting on someone's order asks for more).

    Anyone else gets 404, the same as for a number that does not exist, so order numbers
    can't be probed.
    """
    order = Order.objects.filter(number=number).prefetch_related("lines", "events").first()
    if order is None or not viewer_may(
        order, user=user, key=key, staff_permissions=staff_permissions
    ):
        raise Http404(_("No such order."))
    return order


def viewer_may(order, *, user, key="", staff_permissions=STAFF_SEE_ORDERS) -> bool:
    """Whether this viewer is the order's owner, holds its secret key, or is such staff."""
    owner = user.is_authenticated and order.user_id == user.pk
    key_fits = bool(key) and constant_time_compare(str(key), order.access_key)
    return owner or key_fits or user.has_perms(staff_permissions)


def refund_for_units(line, *, units, returned_before=0) -> Decimal:
    """What giving back `units` of the line refunds: their share of what was paid for it.

    The line's paid total (after its share of the voucher) is spread over its units, rounded
    so that the refunds of all its units, in any number of returns, add up to exactly what
    was paid: each return gets the rounded running total less what earlier returns got.
    """
    paid = line.paid_total

    def share(count):
        return quantize(paid * count / line.quantity)

    return share(returned_before + units) - share(returned_before)
