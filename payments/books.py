"""The books check: orders, stock, shipments and money must all tell the same story.

Each check is a handful of aggregate queries (subqueries summed per row, filtered in the
database), so a shop with a hundred thousand orders is checked in seconds and only the rows
that disagree come back. It lives in payments because payments sits above orders and
shipping and may read them all; it only reads.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.models import Order, OrderLine
from shipping.models import Allocation, Shipment, ShipmentLine, StockLevel, StockMovement
from shop.emails import send_templated_email

from .models import Payment, Refund

Status = Order.Status
Method = Order.PaymentMethod
# Statuses whose lines still hold their unshipped units reserved: awaiting payment, or
# waiting to be (fully) shipped.
HOLDING = (Status.PENDING_PAYMENT, Status.CONFIRMED, Status.PAID, Status.PARTIALLY_SHIPPED)
# Statuses in which a card or bank transfer order has been paid, and kept paid through
# fulfilment and refunds.
PAID = (
    Status.PAID,
    Status.PARTIALLY_SHIPPED,
    Status.SHIPPED,
    Status.DELIVERED,
    Status.COMPLETED,
    Status.PARTIALLY_REFUNDED,
    Status.REFUNDED,
)
# Cash on delivery is paid at the door: before delivery nothing is collected, after it all is.
CASH_UNPAID = (Status.CONFIRMED, Status.PARTIALLY_SHIPPED, Status.SHIPPED)
CASH_PAID = (Status.DELIVERED, Status.COMPLETED, Status.PARTIALLY_REFUNDED, Status.REFUNDED)
GONE = (Status.SHIPPED, Status.DELIVERED, Status.COMPLETED)
ARRIVED = (Status.DELIVERED, Status.COMPLETED)
NOT_SENT = (Status.PENDING_PAYMENT, Status.CONFIRMED, Status.PAID)
# Refunds that give money back: paid back already, or on their way.
COMMITTED_REFUNDS = (Refund.Status.PENDING, Refund.Status.SUCCEEDED)
# The staff who hear about disagreements besides superusers (a role in accounts.roles.ROLES).
ORDER_MANAGERS = "Order managers"
# The email lists this many disagreements; the command lists them all.
EMAILED_AT_MOST = 100

UNITS = models.IntegerField()
MONEY = models.DecimalField(max_digits=12, decimal_places=2)


@dataclass(frozen=True)
class Disagreement:
    """One thing the books disagree on: what kind, about which row, and where staff look."""

    kind: str
    object: models.Model
    message: str
    url: str

    def __str__(self):
        return f"[{self.kind}] {self.message} {self.url}"


class Rule(NamedTuple):
    """A disagreement of `kind` wherever `broken` holds; `message` is filled from the row."""

    kind: str
    broken: Q
    message: str


def admin_url(obj):
    """The absolute link to the object's change page in admin."""
    opts = obj._meta
    path = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return settings.SHOP_BASE_URL.rstrip("/") + path


def _total(rows, field, *, per, output_field=UNITS):
    """Sum of `field` over `rows` belonging to the outer row through `per`; 0 when none."""
    summed = (
        rows.filter(**{per: OuterRef("pk")})
        .order_by()
        .values(per)
        .annotate(total=Sum(field))
        .values("total")
    )
    zero = Decimal(0) if isinstance(output_field, models.DecimalField) else 0
    return Coalesce(Subquery(summed, output_field=output_field), zero, output_field=output_field)


def _count(rows, *, per):
    counted = rows.filter(**{per: OuterRef("pk")}).order_by().values(per).annotate(n=Count("pk"))
    return Coalesce(Subquery(counted.values("n"), output_field=UNITS), 0)


def _order_facts(order, annotations):
    return {
        **{name: getattr(order, name) for name in annotations},
        "number": order.number,
        "status": order.get_status_display(),
        "method": order.get_payment_method_display(),
        "total": order.total,
        "currency": order.currency,
    }


def _broken_orders(orders, rules):
    """A disagreement for each order, annotated with the facts the rules read, that breaks one."""
    for rule in rules:
        for order in orders.filter(rule.broken).order_by("pk"):
            yield Disagreement(
                kind=rule.kind,
                object=order,
                message=str(rule.message) % _order_facts(order, orders.query.annotations),
                url=admin_url(order),
            )


# 1. Every reservation belongs to an open order line.


def check_reservations():
    """Units are reserved only for orders that can still ship, exactly what each line has
    left to ship (a unit neither reserved nor shipped is lost), and each stock level's
    reserved count is the sum of its allocations."""
    found = []
    closed = (
        Order.objects.exclude(status__in=HOLDING)
        .annotate(reserved=_total(Allocation.objects.all(), "quantity", per="order_line__order"))
        .filter(reserved__gt=0)
        .order_by("pk")
    )
    for order in closed:
        found.append(
            Disagreement(
                kind="reserved_for_closed_order",
                object=order,
                message=_(
                    "Order %(number)s is “%(status)s” but still holds %(reserved)s reserved "
                    "units: only an order that can still ship holds stock."
                )
                % {
                    "number": order.number,
                    "status": order.get_status_display(),
                    "reserved": order.reserved,
                },
                url=admin_url(order),
            )
        )
    lines = (
        OrderLine.objects.filter(order__status__in=HOLDING)
        .annotate(allocated=_total(Allocation.objects.all(), "quantity", per="order_line"))
        .exclude(allocated=F("quantity") - F("quantity_shipped"))
        .select_related("order")
        .order_by("order_id", "pk")
    )
    for line in lines:
        found.append(
            Disagreement(
                kind="line_reservation",
                object=line,
                message=_(
                    "Order %(number)s, %(sku)s: %(allocated)s units reserved, but %(left)s are "
                    "left to ship (%(quantity)s ordered, %(shipped)s shipped)."
                )
                % {
                    "number": line.order.number,
                    "sku": line.sku,
                    "allocated": line.allocated,
                    "left": line.quantity - line.quantity_shipped,
                    "quantity": line.quantity,
                    "shipped": line.quantity_shipped,
                },
                url=admin_url(line.order),
            )
        )
    levels = (
        StockLevel.objects.annotate(
            allocated=_total(Allocation.objects.all(), "quantity", per="stock_level")
        )
        .exclude(reserved=F("allocated"))
        .select_related("variant", "warehouse")
        .order_by("pk")
    )
    for level in levels:
        found.append(
            Disagreement(
                kind="level_reservations",
                object=level,
                message=_(
                    "Stock %(level)s: %(reserved)s reserved, but its allocations to orders "
                    "add up to %(allocated)s."
                )
                % {"level": level, "reserved": level.reserved, "allocated": level.allocated},
                url=admin_url(level),
            )
        )
    return found


# 2. Every shipped unit has a shipment.


def check_shipments():
    """Units counted as shipped on a line are the units in its parcels, and the ledger took
    out of stock exactly the units of each order's parcels."""
    found = []
    lines = (
        OrderLine.objects.annotate(
            in_parcels=_total(ShipmentLine.objects.all(), "quantity", per="order_line")
        )
        .exclude(quantity_shipped=F("in_parcels"))
        .select_related("order")
        .order_by("order_id", "pk")
    )
    for line in lines:
        found.append(
            Disagreement(
                kind="line_shipped",
                object=line,
                message=_(
                    "Order %(number)s, %(sku)s: %(shipped)s units counted as shipped, but its "
                    "shipments hold %(in_parcels)s."
                )
                % {
                    "number": line.order.number,
                    "sku": line.sku,
                    "shipped": line.quantity_shipped,
                    "in_parcels": line.in_parcels,
                },
                url=admin_url(line.order),
            )
        )
    shipped_out = StockMovement.objects.filter(kind=StockMovement.Kind.SHIPMENT)
    orders = (
        Order.objects.annotate(
            ledger=_total(shipped_out, "on_hand_change", per="order"),
            in_parcels=_total(ShipmentLine.objects.all(), "quantity", per="shipment__order"),
        )
        .exclude(ledger=-F("in_parcels"))
        .order_by("pk")
    )
    for order in orders:
        found.append(
            Disagreement(
                kind="order_shipment_ledger",
                object=order,
                message=_(
                    "Order %(number)s: its shipments hold %(in_parcels)s units, but the stock "
                    "ledger shipped %(ledger)s."
                )
                % {"number": order.number, "in_parcels": order.in_parcels, "ledger": -order.ledger},
                url=admin_url(order),
            )
        )
    return found


# 3. On hand and reserved per stock level equal the ledger sums.


def check_ledger():
    """Each stock level is the sum of its ledger rows, and its latest row ends where it is."""
    found = []
    latest = StockMovement.objects.filter(stock_level=OuterRef("pk")).order_by("-created_at", "-pk")
    levels = (
        StockLevel.objects.annotate(
            ledger_on_hand=_total(StockMovement.objects.all(), "on_hand_change", per="stock_level"),
            ledger_reserved=_total(
                StockMovement.objects.all(), "reserved_change", per="stock_level"
            ),
            last_on_hand=Subquery(latest.values("on_hand_after")[:1]),
            last_reserved=Subquery(latest.values("reserved_after")[:1]),
        )
        .select_related("variant", "warehouse")
        .order_by("pk")
    )
    unbalanced = ~Q(on_hand=F("ledger_on_hand")) | ~Q(reserved=F("ledger_reserved"))
    for level in levels.filter(unbalanced):
        found.append(
            Disagreement(
                kind="level_ledger",
                object=level,
                message=_(
                    "Stock %(level)s: %(on_hand)s on hand and %(reserved)s reserved, but its "
                    "ledger adds up to %(ledger_on_hand)s and %(ledger_reserved)s."
                )
                % {
                    "level": level,
                    "on_hand": level.on_hand,
                    "reserved": level.reserved,
                    "ledger_on_hand": level.ledger_on_hand,
                    "ledger_reserved": level.ledger_reserved,
                },
                url=admin_url(level),
            )
        )
    stale = Q(last_on_hand__isnull=False) & (
        ~Q(on_hand=F("last_on_hand")) | ~Q(reserved=F("last_reserved"))
    )
    for level in levels.filter(stale):
        found.append(
            Disagreement(
                kind="level_last_movement",
                object=level,
                message=_(
                    "Stock %(level)s: %(on_hand)s on hand and %(reserved)s reserved, but its "
                    "latest ledger row left it at %(last_on_hand)s and %(last_reserved)s."
                )
                % {
                    "level": level,
                    "on_hand": level.on_hand,
                    "reserved": level.reserved,
                    "last_on_hand": level.last_on_hand,
                    "last_reserved": level.last_reserved,
                },
                url=admin_url(level),
            )
        )
    return found


# 4. Paid minus refunded equals each order's balance.

MONEY_RULES = (
    Rule(
        "cancelled_order_balance",
        Q(status=Status.CANCELLED) & ~Q(paid=F("committed")),
        gettext_lazy(
            "Order %(number)s is cancelled but keeps money: %(paid)s %(currency)s received, "
            "%(committed)s given back or on its way."
        ),
    ),
    Rule(
        "paid_order_payment",
        (
            (Q(payment_method__in=[Method.CARD, Method.BANK_TRANSFER]) & Q(status__in=PAID))
            | (Q(payment_method=Method.CASH_ON_DELIVERY) & Q(status__in=CASH_PAID))
        )
        & Q(total__gt=0)
        & ~(Q(paid_count=1) & Q(paid=F("total"))),
        gettext_lazy(
            "Order %(number)s (%(method)s) is “%(status)s” but has %(paid_count)s received "
            "payments of %(paid)s %(currency)s; it should have one of its total, "
            "%(total)s %(currency)s."
        ),
    ),
    Rule(
        "unpaid_order_payment",
        (
            Q(status=Status.PENDING_PAYMENT)
            | (Q(payment_method=Method.CASH_ON_DELIVERY) & Q(status__in=CASH_UNPAID))
        )
        & Q(paid_count__gt=0),
        gettext_lazy(
            "Order %(number)s (%(method)s) is “%(status)s”, so nothing is paid yet, but "
            "%(paid)s %(currency)s was received."
        ),
    ),
    Rule(
        "refunded_order_balance",
        Q(status=Status.REFUNDED) & ~Q(committed=F("paid")),
        gettext_lazy(
            "Order %(number)s is refunded, but %(committed)s %(currency)s of the %(paid)s "
            "%(currency)s received is given back or on its way."
        ),
    ),
    Rule(
        "partially_refunded_order_balance",
        Q(status=Status.PARTIALLY_REFUNDED) & ~(Q(committed__gt=0) & Q(committed__lt=F("paid"))),
        gettext_lazy(
            "Order %(number)s is partially refunded, but %(committed)s %(currency)s of the "
            "%(paid)s %(currency)s received is given back or on its way."
        ),
    ),
)


def check_money():
    """Each payment counts the refunds paid back on it, and what each order received and
    gave back fits its status and payment method."""
    found = []
    succeeded = Refund.objects.filter(status=Refund.Status.SUCCEEDED)
    payments = (
        Payment.objects.annotate(
            refunded=_total(succeeded, "amount", per="payment", output_field=MONEY)
        )
        .exclude(amount_refunded=F("refunded"))
        .select_related("order")
        .order_by("pk")
    )
    for payment in payments:
        found.append(
            Disagreement(
                kind="payment_refunded",
                object=payment,
                message=_(
                    "Payment of order %(number)s: %(amount_refunded)s %(currency)s counted as "
                    "refunded, but its refunds paid back %(refunded)s %(currency)s."
                )
                % {
                    "number": payment.order.number,
                    "amount_refunded": payment.amount_refunded,
                    "refunded": payment.refunded,
                    "currency": payment.currency,
                },
                url=admin_url(payment),
            )
        )
    received = Payment.objects.filter(status=Payment.Status.SUCCEEDED)
    committed = Refund.objects.filter(status__in=COMMITTED_REFUNDS)
    orders = Order.objects.annotate(
        paid=_total(received, "amount", per="order", output_field=MONEY),
        paid_count=_count(received, per="order"),
        committed=_total(committed, "amount", per="payment__order", output_field=MONEY),
    )
    found.extend(_broken_orders(orders, MONEY_RULES))
    return found


# 5. Every order's status is consistent with its shipments and payments.

STATUS_RULES = (
    Rule(
        "status_shipped",
        Q(status__in=GONE) & (Q(parcels=0) | ~Q(sent=F("units"))),
        gettext_lazy(
            "Order %(number)s is “%(status)s”, but %(sent)s of its %(units)s units have left "
            "in %(parcels)s shipments."
        ),
    ),
    Rule(
        "status_delivered",
        Q(status__in=ARRIVED) & Q(undelivered__gt=0),
        gettext_lazy(
            "Order %(number)s is “%(status)s”, but %(undelivered)s of its %(parcels)s "
            "shipments are not delivered."
        ),
    ),
    Rule(
        "status_partially_shipped",
        Q(status=Status.PARTIALLY_SHIPPED) & ~(Q(sent__gt=0) & Q(sent__lt=F("units"))),
        gettext_lazy(
            "Order %(number)s is “%(status)s”, but %(sent)s of its %(units)s units have left."
        ),
    ),
    Rule(
        "status_not_shipped",
        Q(status__in=NOT_SENT) & Q(sent__gt=0),
        gettext_lazy(
            "Order %(number)s is “%(status)s”, but %(sent)s of its units have left in a shipment."
        ),
    ),
    Rule(
        "status_cancelled",
        Q(status=Status.CANCELLED) & Q(parcels__gt=0),
        gettext_lazy("Order %(number)s is cancelled, but has %(parcels)s shipments."),
    ),
    Rule(
        "status_confirmed",
        Q(status=Status.CONFIRMED) & ~Q(payment_method=Method.CASH_ON_DELIVERY),
        gettext_lazy(
            "Order %(number)s is “%(status)s”, which only cash on delivery starts as, but is "
            "paid by %(method)s."
        ),
    ),
)


def check_statuses():
    """Each order's status says what its parcels did: packed parcels have not left, so they
    count for nothing until they do. Reservations of closed orders are check_reservations'."""
    left = ShipmentLine.objects.exclude(shipment__status=Shipment.Status.PACKED)
    orders = Order.objects.annotate(
        units=_total(OrderLine.objects.all(), "quantity", per="order"),
        sent=_total(left, "quantity", per="shipment__order"),
        parcels=_count(Shipment.objects.all(), per="order"),
        undelivered=_count(Shipment.objects.exclude(status=Shipment.Status.DELIVERED), per="order"),
    )
    return list(_broken_orders(orders, STATUS_RULES))


CHECKS = (check_reservations, check_shipments, check_ledger, check_money, check_statuses)


def check_books():
    """Every disagreement the checks find, check by check; an empty list when the books agree."""
    return [disagreement for check in CHECKS for disagreement in check()]


def staff_to_tell():
    """Active superusers and active staff in the order managers' group."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(is_staff=True, groups__name=ORDER_MANAGERS))
        .distinct()
        .order_by("pk")
    )


def email_disagreements(*, disagreements, day):
    """Send the list to each staff member once per day; how many emails went out now."""
    context = {
        "day": day,
        "count": len(disagreements),
        "disagreements": disagreements[:EMAILED_AT_MOST],
        "more": max(len(disagreements) - EMAILED_AT_MOST, 0),
        "shop_name": settings.SHOP_NAME,
    }
    sent = 0
    for user in staff_to_tell():
        sent += send_templated_email(
            key=f"books:{day:%Y-%m-%d}:{user.pk}",
            to=user.email,
            template_prefix="payments/email/books",
            context=context,
            language=settings.LANGUAGE_CODE,
        )
    return sent
