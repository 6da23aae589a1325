"""Cart, checkout and the order life cycle: every change to a cart or an order goes through here."""

import re
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django_countries import countries

from catalog.models import Variant
from catalog.services import record_units_sold
from shipping.models import ShippingMethod
from shipping.services import (
    OutOfStock,
    Shortage,
    parcel_weight,
    release_reservation,
    reserve_stock,
    serves,
    shipping_price,
)
from shop import outbox
from shop.audit import record
from shop.money import quantize

from . import selectors
from .emails import queue_order_email, sent_order_emails
from .models import (
    Cart,
    CartLine,
    Order,
    OrderEvent,
    OrderLine,
    StaffAction,
    Voucher,
    VoucherRedemption,
)

Status = Order.Status

# The order state machine: the only moves change_status allows. Cash on delivery orders
# start "confirmed" and go to fulfilment at once; the others start awaiting payment. Money
# given back moves an order only once its goods have arrived: before that a full refund
# cancels it (and releases its stock), and a partial one leaves it to be shipped.
TRANSITIONS = {
    Status.PENDING_PAYMENT: {Status.PAID, Status.CANCELLED},
    Status.CONFIRMED: {Status.PARTIALLY_SHIPPED, Status.SHIPPED, Status.CANCELLED},
    Status.PAID: {Status.PARTIALLY_SHIPPED, Status.SHIPPED, Status.CANCELLED},
    Status.PARTIALLY_SHIPPED: {Status.SHIPPED},
    Status.SHIPPED: {Status.DELIVERED},
    Status.DELIVERED: {Status.COMPLETED, Status.PARTIALLY_REFUNDED, Status.REFUNDED},
    Status.PARTIALLY_REFUNDED: {Status.REFUNDED, Status.PARTIALLY_REFUNDED},
    Status.COMPLETED: {Status.PARTIALLY_REFUNDED, Status.REFUNDED},
    Status.CANCELLED: set(),
    Status.REFUNDED: set(),
}
# Statuses only an order's shipments move it into (through follow_shipments): goods leave
# the warehouse in parcels, never by a status change alone.
FULFILMENT_STATUSES = frozenset({Status.PARTIALLY_SHIPPED, Status.SHIPPED, Status.DELIVERED})


# What staff may do to an order in each status; the admin offers these and nothing else.
STAFF_ACTIONS = {
    Status.PENDING_PAYMENT: {StaffAction.MARK_PAID, StaffAction.CANCEL},
    Status.CONFIRMED: {StaffAction.SHIP, StaffAction.CANCEL},
    Status.PAID: {StaffAction.SHIP, StaffAction.CANCEL, StaffAction.REFUND},
    Status.PARTIALLY_SHIPPED: {StaffAction.SHIP, StaffAction.DELIVER, StaffAction.REFUND},
    Status.SHIPPED: {StaffAction.DELIVER, StaffAction.REFUND},
    Status.DELIVERED: {StaffAction.COMPLETE, StaffAction.REFUND},
    Status.COMPLETED: {StaffAction.REFUND},
    Status.PARTIALLY_REFUNDED: {StaffAction.REFUND},
    # A transfer arriving after the order expired is still recorded, and paid back.
    Status.CANCELLED: {StaffAction.MARK_PAID},
    Status.REFUNDED: set(),
}

ADDRESS_FIELDS = ("full_name", "line1", "line2", "city", "postal_code", "country", "phone")
REQUIRED_ADDRESS_FIELDS = ("full_name", "line1", "city", "postal_code", "country")

# Postal codes checked per country (on the code in capitals without spaces), with an
# example for the message; countries not listed take any short code of letters and digits.
POSTAL_CODES = {
    "CN": (r"\d{6}", "100000"),
    "DE": (r"\d{5}", "10115"),
    "FR": (r"\d{5}", "75001"),
    "GB": (r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}", "SW1A 1AA"),
    "NL": (r"[1-9]\d{3}[A-Z]{2}", "1012 AB"),
    "US": (r"\d{5}(-\d{4})?", "94103"),
}
# Where these countries write the space: before the last 3 (GB) or 2 (NL) characters.
POSTAL_CODE_SPACE = {"GB": 3, "NL": 2}
ANY_POSTAL_CODE = r"[A-Z0-9][A-Z0-9 -]{1,14}"

# Order numbers are read out on the phone: no 0/O, 1/I/L to mix up.
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BIGGEST_ID = 2**63 - 1


class CartError(Exception):
    """A cart change the shop refuses; the message is for the shopper."""


class CheckoutError(Exception):
    """An order that can't be placed as asked; the message is for the shopper."""


class VoucherError(CheckoutError):
    """A voucher code that does not apply to this order."""


class PriceChanged(CheckoutError):
    """A price changed after the shopper last saw it: they must review the order again."""


class InvalidTransition(Exception):
    """A status change the order state machine does not allow."""


def _as_id(value):
    """A positive database id from untrusted input, or None."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= BIGGEST_ID else None


def _as_quantity(quantity):
    if isinstance(quantity, bool):
        quantity = None
    try:
        quantity = int(quantity)
    except (TypeError, ValueError):
        raise CartError(_("Enter the quantity as a whole number.")) from None
    if quantity < 1:
        raise CartError(_("The quantity must be at least 1."))
    return quantity


def _check_quantity(variant, quantity):
    if quantity > settings.CART_MAX_QUANTITY:
        raise CartError(
            _("You can buy at most %(max)s of “%(item)s” per order.")
            % {"max": settings.CART_MAX_QUANTITY, "item": variant}
        )
    if variant.stock_available <= 0:
        raise CartError(_("Sorry, “%(item)s” is sold out.") % {"item": variant})
    if quantity > variant.stock_available:
        raise CartError(
            _("Only %(available)s of “%(item)s” left.")
            % {"available": variant.stock_available, "item": variant}
        )


# Cart


def open_cart(request) -> Cart:
    """The shopper's cart, made on first use; a guest finds theirs again through the session."""
    cart = selectors.get_cart(request)
    if cart is not None:
        return cart
    if request.user.is_authenticated:
        return open_customer_cart(user=request.user)
    cart = Cart.objects.create(session_key=secrets.token_urlsafe(32))
    request.session[selectors.CART_SESSION_KEY] = cart.session_key
    return cart


def open_customer_cart(*, user) -> Cart:
    """A customer's cart, made on first use; for code that shops on a customer's behalf."""
    cart, _created = Cart.objects.get_or_create(user=user)
    return cart


@transaction.atomic
def add_to_cart(*, cart, variant_id, quantity) -> CartLine:
    quantity = _as_quantity(quantity)
    variant_id = _as_id(variant_id)
    variant = (
        Variant.objects.select_related("product")
        .filter(pk=variant_id, is_active=True, product__is_active=True)
        .first()
        if variant_id
        else None
    )
    if variant is None:
        raise CartError(_("This product is not available."))
    # Locking the cart makes a double-clicked "add" wait for the first, then add to its line.
    Cart.objects.select_for_update().filter(pk=cart.pk).exists()
    line = CartLine.objects.filter(cart=cart, variant=variant).first()
    total = quantity + (line.quantity if line else 0)
    _check_quantity(variant, total)
    price = selectors.unit_price(variant)
    if line is None:
        line = CartLine.objects.create(cart=cart, variant=variant, quantity=total, price_seen=price)
    else:
        line.quantity, line.price_seen = total, price
        line.save(update_fields=["quantity", "price_seen"])
    cart.save(update_fields=["updated_at"])
    return line


def _cart_line(cart, line_id):
    line_id = _as_id(line_id)
    line = (
        cart.lines.select_for_update(of=("self",))
        .select_related("variant__product")
        .filter(pk=line_id)
        .first()
        if line_id
        else None
    )
    if line is None:
        raise CartError(_("This item is not in your cart."))
    return line


@transaction.atomic
def set_cart_quantity(*, cart, line_id, quantity) -> CartLine:
    quantity = _as_quantity(quantity)
    line = _cart_line(cart, line_id)
    variant = line.variant
    if not (variant.is_active and variant.product.is_active):
        raise CartError(_("“%(item)s” is no longer available.") % {"item": variant})
    _check_quantity(variant, quantity)
    line.quantity = quantity
    line.save(update_fields=["quantity"])
    cart.save(update_fields=["updated_at"])
    return line


@transaction.atomic
def remove_from_cart(*, cart, line_id):
    _cart_line(cart, line_id).delete()
    cart.save(update_fields=["updated_at"])


@dataclass(frozen=True)
class PriceChange:
    item: str
    old: Decimal
    new: Decimal


@transaction.atomic
def refresh_cart_prices(*, cart) -> list[PriceChange]:
    """Note the current prices as seen, returning the ones that changed since last time."""
    changes = []
    for line in cart.lines.select_related("variant__product"):
        price = selectors.unit_price(line.variant)
        if price != line.price_seen:
            changes.append(PriceChange(item=str(line.variant), old=line.price_seen, new=price))
            line.price_seen = price
            line.save(update_fields=["price_seen"])
    return changes


@transaction.atomic
def merge_carts(*, source, target) -> Cart:
    """Move the source cart's lines into the target and delete the source.

    A variant in both carts keeps the larger of the two needs, their sum, up to the per-line
    maximum; the cart page flags any line that is now more than the stock left.
    """
    if source.pk == target.pk:
        return target
    held = {line.variant_id: line for line in target.lines.select_for_update()}
    for line in source.lines.all():
        mine = held.get(line.variant_id)
        if mine is None:
            line.cart = target
            line.save(update_fields=["cart"])
        else:
            mine.quantity = min(mine.quantity + line.quantity, settings.CART_MAX_QUANTITY)
            mine.save(update_fields=["quantity"])
    source.delete()
    target.save(update_fields=["updated_at"])
    return target


@transaction.atomic
def claim_guest_cart(*, session, user):
    """Give the guest cart of this session to the user who just signed in in it."""
    key = session.pop(selectors.CART_SESSION_KEY, None)
    guest = Cart.objects.filter(session_key=key, user=None).first() if key else None
    if guest is None:
        return Cart.objects.filter(user=user).first()
    target = Cart.objects.filter(user=user).first()
    if target is None:
        guest.user, guest.session_key = user, None
        guest.save(update_fields=["user", "session_key", "updated_at"])
        return guest
    return merge_carts(source=guest, target=target)


# Checkout


def clean_postal_code(*, country, postal_code) -> str:
    """The postal code written the country's way, or CheckoutError saying what fits."""
    code = " ".join(str(postal_code).upper().split())
    compact = code.replace(" ", "")
    pattern, example = POSTAL_CODES.get(country, (None, None))
    if pattern is None:
        if re.fullmatch(ANY_POSTAL_CODE, code):
            return code
        raise CheckoutError(_("Enter a valid postal code."))
    if not re.fullmatch(pattern, compact):
        raise CheckoutError(
            _("Enter a valid postal code for %(country)s, for example %(example)s.")
            % {"country": countries.name(country), "example": example}
        )
    if country in POSTAL_CODE_SPACE:
        split = len(compact) - POSTAL_CODE_SPACE[country]
        return f"{compact[:split]} {compact[split:]}"
    return compact


def clean_address(address) -> dict:
    """The shipping address with its fields trimmed and its postal code checked."""
    cleaned = {name: str(address.get(name) or "").strip() for name in ADDRESS_FIELDS}
    cleaned["country"] = cleaned["country"].upper()
    if any(not cleaned[name] for name in REQUIRED_ADDRESS_FIELDS):
        raise CheckoutError(_("Enter the full shipping address."))
    if cleaned["country"] not in countries:
        raise CheckoutError(_("Choose the country to ship to."))
    cleaned["postal_code"] = clean_postal_code(
        country=cleaned["country"], postal_code=cleaned["postal_code"]
    )
    return cleaned


def find_voucher(code, *, lock=False):
    """The voucher with this code (any case), or VoucherError; locked for checkout."""
    code = str(code).strip()
    vouchers = Voucher.objects.select_for_update() if lock else Voucher.objects.all()
    voucher = vouchers.filter(code__iexact=code).first() if code else None
    if voucher is None:
        raise VoucherError(_("There is no voucher with the code “%(code)s”.") % {"code": code})
    return voucher


def check_voucher(*, voucher, subtotal, email, user=None, now=None):
    """Raise VoucherError when the voucher does not apply to this order by this customer.

    The usage limits are only safe against concurrent checkouts when the voucher row is
    locked, as place_order does.
    """
    now = now or timezone.now()
    if not voucher.is_active or (voucher.valid_until and now >= voucher.valid_until):
        raise VoucherError(_("The voucher “%(code)s” has expired.") % {"code": voucher.code})
    if voucher.valid_from and now < voucher.valid_from:
        raise VoucherError(
            _("The voucher “%(code)s” can be used from %(date)s.")
            % {"code": voucher.code, "date": formats.date_format(voucher.valid_from)}
        )
    if subtotal < voucher.min_subtotal:
        raise VoucherError(
            _("The voucher “%(code)s” needs a subtotal of at least %(amount)s %(currency)s.")
            % {
                "code": voucher.code,
                "amount": voucher.min_subtotal,
                "currency": settings.SHOP_CURRENCY,
            }
        )
    if voucher.max_uses is not None and voucher.times_used >= voucher.max_uses:
        raise VoucherError(_("The voucher “%(code)s” has been used up.") % {"code": voucher.code})
    if voucher.max_uses_per_customer is not None:
        customer = Q(email__iexact=email)
        if user is not None and user.is_authenticated:
            customer |= Q(user=user)
        used = voucher.redemptions.filter(customer).count()
        if used >= voucher.max_uses_per_customer:
            raise VoucherError(
                _("You have already used the voucher “%(code)s”.") % {"code": voucher.code}
            )


def discount_for(voucher, subtotal) -> Decimal:
    if voucher.kind == Voucher.Kind.PERCENTAGE:
        return quantize(subtotal * voucher.value / 100)
    return min(quantize(voucher.value), subtotal)


def _voucher_covers(voucher, price, regular) -> bool:
    """Whether the voucher discounts a line selling at `price` (its regular price `regular`)."""
    return voucher.combination != Voucher.Combination.FULL_PRICE_ONLY or price >= regular


def voucher_base(voucher, amounts) -> Decimal:
    """The part of the goods a voucher discounts, by the combination rule staff chose.

    `amounts` are (unit price, quantity, regular unit price) triples; a line is on
    promotion when it sells below its regular price.
    """
    eligible = [
        (price, quantity)
        for price, quantity, regular in amounts
        if _voucher_covers(voucher, price, regular)
    ]
    if not eligible:
        raise VoucherError(
            _("The voucher “%(code)s” applies only to items not on promotion.")
            % {"code": voucher.code}
        )
    return quantize(sum((price * quantity for price, quantity in eligible), Decimal("0")))


def share_discount(discount, weights) -> list[Decimal]:
    """Split `discount` over lines in proportion to their `weights` (amounts), to the cent.

    The shares add up to the discount exactly: each line gets its proportional cents rounded
    down, and the cents left over go to the lines that lost most in the rounding (first line
    first on a tie). No share exceeds its line's weight.
    """
    total = sum(weights, Decimal("0"))
    if not discount or not total:
        return [Decimal("0.00") for _weight in weights]
    cents = int(quantize(discount) * 100)
    exact = [weight * cents / total for weight in weights]
    shares = [int(value) for value in exact]
    left_over = cents - sum(shares)
    by_loss = sorted(range(len(weights)), key=lambda i: (shares[i] - exact[i], i))
    for index in by_loss[:left_over]:
        shares[index] += 1
    return [Decimal(share) / 100 for share in shares]


@dataclass(frozen=True)
class Quote:
    """An order's sums, tax included; the review page and place_order compute them alike."""

    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    total: Decimal
    tax_rate: Decimal
    tax_total: Decimal
    shipping_method: ShippingMethod
    voucher: Voucher | None


def quote_order(
    *, amounts, shipping_method, country, voucher=None, email="", user=None, weight_grams=0
) -> Quote:
    """Sum up (unit price, quantity, regular unit price) lines with shipping, voucher and tax."""
    subtotal = quantize(
        sum((price * quantity for price, quantity, _regular in amounts), Decimal("0"))
    )
    discount = Decimal("0.00")
    if voucher is not None:
        check_voucher(voucher=voucher, subtotal=subtotal, email=email, user=user)
        discount = discount_for(voucher, voucher_base(voucher, amounts))
    # Free shipping thresholds count what the shopper pays for the goods, after the discount.
    shipping = quantize(
        shipping_price(
            method=shipping_method, subtotal=subtotal - discount, weight_grams=weight_grams
        )
    )
    total = subtotal - discount + shipping
    rate = selectors.tax_rate_for(country)
    return Quote(
        subtotal=subtotal,
        discount=discount,
        shipping=shipping,
        total=total,
        tax_rate=rate,
        tax_total=selectors.included_tax(total, rate),
        shipping_method=shipping_method,
        voucher=voucher,
    )


def active_shipping_method(shipping_method_id, *, country=None, weight_grams=None):
    """The chosen method, refused unless it serves this country and this parcel's weight."""
    method_id = _as_id(shipping_method_id)
    method = (
        ShippingMethod.objects.filter(pk=method_id, is_active=True).select_related("zone").first()
        if method_id
        else None
    )
    if method is None:
        raise CheckoutError(_("Choose a shipping method."))
    if not serves(method, country=country):
        raise CheckoutError(
            _("“%(method)s” does not deliver to %(country)s: choose another shipping method.")
            % {"method": method.name, "country": countries.name(country)}
        )
    if not serves(method, weight_grams=weight_grams):
        raise CheckoutError(
            _("Your parcel is too heavy for “%(method)s”: choose another shipping method.")
            % {"method": method.name}
        )
    return method


def _clean_email(email):
    email = str(email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise CheckoutError(_("Enter a valid email address.")) from None
    return email


def _new_order_number():
    chars = "".join(secrets.choice(NUMBER_ALPHABET) for _position in range(8))
    return f"SH-{chars[:4]}-{chars[4:]}"


def _create_order(**fields):
    """Insert the order under a fresh random number, drawing again in the rare clash."""
    for attempts_left in reversed(range(5)):
        try:
            with transaction.atomic():
                return Order.objects.create(number=_new_order_number(), **fields)
        except IntegrityError:
            if not attempts_left:
                raise


def _buyable_lines(cart):
    """The cart's lines in variant order with their unit prices now ({line id: price}),
    refusing any that can't be bought as they are.

    A line asking for more than the variant's availability figure is refused here, before
    anything is written or locked: the figure changes with the stock rows in one
    transaction, so it says what reserve_stock would find. reserve_stock still decides,
    under its locks, for the checkouts that race for the last units.
    """
    lines = list(
        cart.lines.select_related("variant__product")
        .defer("variant__product__description", "variant__product__search_vector")
        .order_by("variant_id")
    )
    if not lines:
        raise CheckoutError(_("Your cart is empty."))
    for line in lines:
        variant = line.variant
        if not (variant.is_active and variant.product.is_active):
            raise CheckoutError(
                _("“%(item)s” is no longer available; remove it from your cart.")
                % {"item": variant}
            )
        if line.quantity > settings.CART_MAX_QUANTITY:
            raise CheckoutError(
                _("You can buy at most %(max)s of “%(item)s” per order.")
                % {"max": settings.CART_MAX_QUANTITY, "item": variant}
            )
    prices = {line.pk: selectors.unit_price(line.variant) for line in lines}
    changed = [line for line in lines if prices[line.pk] != line.price_seen]
    if changed:
        raise PriceChanged(
            _("The price of %(items)s changed. Please review your order.")
            % {"items": ", ".join(f"“{line.variant}”" for line in changed)}
        )
    short = [line for line in lines if line.quantity > line.variant.stock_available]
    if short:
        raise OutOfStock(
            Shortage(
                variant_id=line.variant_id,
                sku=line.variant.sku,
                requested=line.quantity,
                available=max(line.variant.stock_available, 0),
            )
            for line in short
        )
    return lines, prices


def place_order(
    *,
    cart,
    checkout_token,
    email,
    address,
    shipping_method_id,
    payment_method,
    voucher_code="",
    user=None,
    language="en",
    notify=True,
) -> Order:
    """Turn the cart into an order in one transaction, or write nothing at all.

    Prices and sums come from the variants, never from the shopper. The stock is reserved
    in the same transaction (OutOfStock from shipping when it ran out), and the voucher row
    is locked so its usage limits hold under concurrent checkouts. A second call with the
    same checkout token returns the order the first one placed. notify=False sends no
    email, for orders recorded rather than placed by the shopper (demo data).

    Locks are taken cart, voucher, stock rows, as cancel_order takes them, and the stock
    rows last of all: every other checkout of a bestseller waits for them, so everything
    that can be read, priced and written first is done before reserve_stock, which leaves
    only its own writes between the lock and the commit. Units sold are noted in an
    append-only table rather than on the product row, which would be as hot.
    """
    if not checkout_token:
        raise CheckoutError(_("This checkout has expired. Please review your order again."))
    user = user if user is not None and user.is_authenticated else None
    email = _clean_email(email or (user.email if user else ""))
    address = clean_address(address)
    if payment_method not in selectors.payment_methods():
        raise CheckoutError(_("Choose a payment method."))

    with transaction.atomic():
        # Locking the cart serialises a double submit: the second waits, then finds the order.
        if not Cart.objects.select_for_update().filter(pk=cart.pk).exists():
            raise CheckoutError(_("Your cart is empty."))
        placed = Order.objects.filter(checkout_token=checkout_token).first()
        if placed is not None:
            return placed
        lines, prices = _buyable_lines(cart)
        weight = parcel_weight((line.variant, line.quantity) for line in lines)
        method = active_shipping_method(
            shipping_method_id, country=address["country"], weight_grams=weight
        )
        voucher = find_voucher(voucher_code, lock=True) if str(voucher_code).strip() else None
        quote = quote_order(
            amounts=[(prices[line.pk], line.quantity, line.variant.price) for line in lines],
            shipping_method=method,
            country=address["country"],
            voucher=voucher,
            email=email,
            user=user,
            weight_grams=weight,
        )
        paid_on_delivery = payment_method == Order.PaymentMethod.CASH_ON_DELIVERY
        order = _create_order(
            access_key=secrets.token_urlsafe(32),
            checkout_token=checkout_token,
            user=user,
            email=email,
            status=Status.CONFIRMED if paid_on_delivery else Status.PENDING_PAYMENT,
            payment_method=payment_method,
            currency=settings.SHOP_CURRENCY,
            language=language,
            shipping_method=method,
            shipping_method_name=method.name,
            voucher=voucher,
            voucher_code=voucher.code if voucher else "",
            subtotal=quote.subtotal,
            discount_total=quote.discount,
            shipping_total=quote.shipping,
            total=quote.total,
            tax_rate=quote.tax_rate,
            tax_total=quote.tax_total,
            **address,
        )
        covered = [
            prices[line.pk] * line.quantity
            if voucher is not None and _voucher_covers(voucher, prices[line.pk], line.variant.price)
            else Decimal("0")
            for line in lines
        ]
        discounts = share_discount(quote.discount, covered)
        order_lines = OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                variant=line.variant,
                product_title=line.variant.product.title,
                variant_name=line.variant.name,
                sku=line.variant.sku,
                unit_price=prices[line.pk],
                quantity=line.quantity,
                line_total=prices[line.pk] * line.quantity,
                discount=discount,
                tax_amount=selectors.included_tax(prices[line.pk] * line.quantity, quote.tax_rate),
            )
            for line, discount in zip(lines, discounts, strict=True)
        )
        record_units_sold(quantities=_units_per_product(order_lines))
        if voucher is not None:
            Voucher.objects.filter(pk=voucher.pk).update(times_used=F("times_used") + 1)
            VoucherRedemption.objects.create(voucher=voucher, order=order, user=user, email=email)
        OrderEvent.objects.create(order=order, to_status=order.status, user=user)
        cart.lines.all().delete()
        if notify:
            queue_order_email(order=order, kind="placed")
        outbox.enqueue(
            "orders.tasks.announce_order_placed", order.pk, key=f"order:{order.pk}:placed-signal"
        )
        reserve_stock(order_lines=order_lines, user=user)
    return order


def _units_per_product(order_lines, sign=1):
    units = Counter()
    for line in order_lines:
        if line.variant is not None:
            units[line.variant.product_id] += sign * line.quantity
    return units


# Order life cycle


def can_transition(order, to_status) -> bool:
    """Whether the state machine lets the order go from its status to `to_status`."""
    return to_status in TRANSITIONS.get(order.status, ())


def allowed_transitions(order) -> set:
    return set(TRANSITIONS.get(order.status, ()))


def staff_actions(order) -> list[StaffAction]:
    """What staff may do to this order now, in the order the admin shows them.

    STAFF_ACTIONS says what each status allows; the order's own facts narrow it: only a bank
    transfer is marked paid by hand, a packed order can't be cancelled, only parcels on their
    way can be delivered.
    """
    allowed = STAFF_ACTIONS.get(order.status, set())
    facts = {
        StaffAction.MARK_PAID: order.payment_method == Order.PaymentMethod.BANK_TRANSFER,
        StaffAction.CANCEL: StaffAction.CANCEL in allowed and can_cancel(order),
    }
    return [action for action in StaffAction if action in allowed and facts.get(action, True)]


def can_cancel(order) -> bool:
    """Packed goods have left their reservation, so an order with a shipment stays as it is."""
    return can_transition(order, Status.CANCELLED) and not order.shipments.exists()


def _refuse_cancelling_a_packed_order(order):
    # Shipments reach the order through its string-referenced reverse relation.
    if order.shipments.exists():
        raise InvalidTransition(
            _("Order %(number)s has a shipment packed: it can no longer be cancelled.")
            % {"number": order.number}
        )


def _record_status(*, order, to_status, user=None, note=""):
    """Apply one allowed transition to the locked order row and record it as an event."""
    if to_status not in Status.values:
        raise InvalidTransition(_("“%(status)s” is not an order status.") % {"status": to_status})
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if not can_transition(locked, to_status):
        raise InvalidTransition(
            _("An order that is “%(from)s” can't become “%(to)s”.")
            % {"from": locked.get_status_display(), "to": Status(to_status).label}
        )
    OrderEvent.objects.create(
        order=locked,
        from_status=locked.status,
        to_status=to_status,
        user=user if user is not None and user.is_authenticated else None,
        note=note[:255],
    )
    record(
        actor=user,
        action="order.status_changed",
        target=locked,
        before={"status": locked.status},
        after={"status": to_status},
        note=note,
    )
    locked.status = to_status
    locked.save(update_fields=["status", "updated_at"])
    order.status, order.updated_at = locked.status, locked.updated_at
    return order


def change_status(*, order, to_status, user=None, note="") -> Order:
    """Move the order to another status if TRANSITIONS allows it; cancelling also cancels.

    Shipped and delivered are not for the asking: goods move in shipments, and the order
    follows them (follow_shipments).
    """
    if to_status in FULFILMENT_STATUSES:
        raise InvalidTransition(
            _("Order %(number)s is shipped and delivered only through its shipments.")
            % {"number": order.number}
        )
    if to_status == Status.CANCELLED:
        return cancel_order(order=order, user=user, note=note)
    with transaction.atomic():
        return _record_status(order=order, to_status=to_status, user=user, note=note)


def follow_shipments(*, order_id, any_left, all_shipped, all_delivered) -> Order:
    """The order's status follows its parcels: partially shipped, shipped, delivered.

    Called when one of its shipments moved, with shipping's facts about all of them.
    """
    if all_delivered:
        steps = [Status.SHIPPED, Status.DELIVERED]
    elif all_shipped:
        steps = [Status.SHIPPED]
    elif any_left:
        steps = [Status.PARTIALLY_SHIPPED]
    else:
        steps = []
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        for step in steps:
            if order.status != step and can_transition(order, step):
                _record_status(order=order, to_status=step)
    return order


def _give_back_voucher(order):
    """A cancelled order did not use its voucher: the use counts for someone else."""
    redemption = VoucherRedemption.objects.filter(order=order).first()
    if redemption is None:
        return
    Voucher.objects.filter(pk=redemption.voucher_id, times_used__gt=0).update(
        times_used=F("times_used") - 1
    )
    redemption.delete()


def cancel_order(*, order, user=None, note="", notify=True) -> Order:
    """Cancel the order, release its stock and voucher, and tell payments and the shopper.

    The order's units no longer count as sold. notify=False sends the shopper no email.
    """
    user = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        # Lock the order first: create_shipment locks it too, so no parcel is packed meanwhile.
        Order.objects.select_for_update().only("pk").get(pk=order.pk)
        _refuse_cancelling_a_packed_order(order)
        _record_status(order=order, to_status=Status.CANCELLED, user=user, note=note)
        # The voucher row before the stock rows: the order place_order locks them in.
        _give_back_voucher(order)
        release_reservation(order=order, user=user, note=note)
        lines = order.lines.select_related("variant")
        record_units_sold(quantities=_units_per_product(lines, sign=-1))
        outbox.enqueue(
            "orders.tasks.announce_order_cancelled",
            order.pk,
            key=f"order:{order.pk}:cancelled-signal",
        )
        if notify:
            queue_order_email(order=order, kind="cancelled")
    return order


def backdate_order(*, order, times) -> Order:
    """Move an order's history into the past; only for demo data and imported past orders.

    `times` says when each of the order's events happened, oldest first: the first is when
    it was placed. Nothing a shopper or staff member does may rewrite history, but a demo
    shop needs weeks of sales to show. Stock ledger rows keep the time they were written.
    """
    times = list(times)
    events = list(order.events.order_by("created_at", "pk"))
    if len(times) != len(events) or times != sorted(times) or times[-1] > timezone.now():
        raise ValueError("Give one time per order event, oldest first, none in the future.")
    with transaction.atomic():
        for event, when in zip(events, times, strict=True):
            OrderEvent.objects.filter(pk=event.pk).update(created_at=when)
        Order.objects.filter(pk=order.pk).update(created_at=times[0], updated_at=times[-1])
    order.created_at, order.updated_at = times[0], times[-1]
    return order


def cancel_unpaid_orders(*, now=None) -> list[Order]:
    """Cancel the orders left unpaid too long, oldest first; safe to run again at any time.

    A card is paid on the spot, so card orders wait ORDER_UNPAID_MINUTES; a bank transfer
    takes days to arrive, so transfer orders wait ORDER_BANK_TRANSFER_DAYS. Cancelling puts
    the stock back on sale and gives the voucher back; money arriving later is refunded.
    """
    now = now or timezone.now()
    minutes, days = settings.ORDER_UNPAID_MINUTES, settings.ORDER_BANK_TRANSFER_DAYS
    Method = Order.PaymentMethod
    overdue = Order.objects.filter(
        Q(payment_method=Method.CARD, created_at__lt=now - timedelta(minutes=minutes))
        | Q(payment_method=Method.BANK_TRANSFER, created_at__lt=now - timedelta(days=days)),
        status=Status.PENDING_PAYMENT,
    ).order_by("created_at")
    notes = {
        Method.CARD: _("Not paid within %(minutes)s minutes.") % {"minutes": minutes},
        Method.BANK_TRANSFER: _("The bank transfer did not arrive within %(days)s days.")
        % {"days": days},
    }
    cancelled = []
    for order in list(overdue):
        try:
            cancelled.append(cancel_order(order=order, note=notes[order.payment_method]))
        except InvalidTransition:
            continue  # paid or cancelled by someone else since we looked
    return cancelled


def remind_unpaid_transfers(*, now=None) -> list[Order]:
    """Remind shoppers whose bank transfer has not arrived halfway to its deadline, once each.

    An order whose reminder went out (its email log row exists) is left out, so running
    this every few minutes sends each reminder once, and one lost on the way (the broker
    was down) goes out with the next run. Returns the orders reminded now.
    """
    now = now or timezone.now()
    period = timedelta(days=settings.ORDER_BANK_TRANSFER_DAYS)
    due = list(
        Order.objects.filter(
            status=Status.PENDING_PAYMENT,
            payment_method=Order.PaymentMethod.BANK_TRANSFER,
            created_at__lte=now - period / 2,
            created_at__gt=now - period,
        ).order_by("created_at")
    )
    reminded = sent_order_emails(orders=due, kind="transfer_reminder")
    due = [order for order in due if order.pk not in reminded]
    for order in due:
        queue_order_email(order=order, kind="transfer_reminder")
    return due


def record_shipped(*, quantities):
    """Count units as shipped on order lines ({line id: units}); the DB keeps it within ordered."""
    for line_id, units in sorted(quantities.items()):
        OrderLine.objects.filter(pk=line_id).update(quantity_shipped=F("quantity_shipped") + units)
