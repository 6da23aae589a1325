"""Sales figures for staff, from orders, refunds and the stock ledger: one query per block.

Each figure is counted on the day of its own event: gross on the day the order was placed,
refunds on the day the money went back, returns on the day the units were received. A later
refund or return never moves an order out of the day it was sold.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from orders.models import Order, OrderLine
from shipping.models import StockMovement
from shop.money import quantize

from .models import Refund

ZERO = Decimal("0.00")
AMOUNT = DecimalField(max_digits=20, decimal_places=6)
LINE_PAID = F("line_total") - F("discount")

# An order is a sale once paid or confirmed for cash on delivery; awaiting payment it is not
# one yet, and a cancelled order never was (its refunds are left out with it).
NOT_SALES = (Order.Status.PENDING_PAYMENT, Order.Status.CANCELLED)
# Statuses that goods must have left for: shipped, delivered, or refunded in full (a full
# refund before shipping cancels the order). Such an order with no unit shipped was moved
# along without a shipment and is left out like a cancelled one.
AFTER_SHIPPING = (
    Order.Status.PARTIALLY_SHIPPED,
    Order.Status.SHIPPED,
    Order.Status.DELIVERED,
    Order.Status.COMPLETED,
    Order.Status.REFUNDED,
)


@dataclass(frozen=True, kw_only=True)
class SalesFigures:
    orders: int = 0
    gross: Decimal = ZERO
    units_sold: int = 0
    refunds: Decimal = ZERO
    to_pay_back: Decimal = ZERO
    units_returned: int = 0
    returns_value: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.gross - self.refunds

    @property
    def net_units(self) -> int:
        return self.units_sold - self.units_returned

    @property
    def average_order(self) -> Decimal:
        return quantize(self.gross / self.orders) if self.orders else ZERO


@dataclass(frozen=True, kw_only=True)
class DailySales(SalesFigures):
    day: date


@dataclass(frozen=True)
class ProductSales:
    title: str
    units: int
    revenue: Decimal


def sale_orders(order="") -> Q:
    """The condition for an order to count as a sale; `order` is the path to it ("order__")."""
    shipped_something = Exists(
        OrderLine.objects.filter(order=OuterRef(f"{order}pk"), quantity_shipped__gt=0)
    )
    status = f"{order}status__in"
    return ~Q(**{status: NOT_SALES}) & (~Q(**{status: AFTER_SHIPPING}) | shipped_something)


def _local_days(start, end):
    """The half-open datetime range of the shop's local days `start` to `end`, inclusive.

    A range on the indexed columns, not a date function of them, so the indexes are used.
    """
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def _by_day(queryset, moment, **figures):
    local_day = TruncDate(moment, tzinfo=timezone.get_current_timezone())
    rows = queryset.annotate(day=local_day).values("day").annotate(**figures).order_by()
    return {row.pop("day"): row for row in rows}


def _gross(since, until):
    units = (
        OrderLine.objects.filter(order=OuterRef("pk"))
        .order_by()
        .values("order")
        .annotate(units=Sum("quantity"))
        .values("units")
    )
    orders = Order.objects.filter(sale_orders(), created_at__gte=since, created_at__lt=until)
    return _by_day(
        orders,
        "created_at",
        orders=Count("pk"),
        gross=Sum("total"),
        units_sold=Sum(Subquery(units, output_field=IntegerField())),
    )


def _refunds(since, until):
    """Money given back, by the day it went back; manual refunds not yet paid back apart,
    by the day they were asked for."""
    succeeded = Q(status=Refund.Status.SUCCEEDED)
    to_pay_back = Q(status=Refund.Status.PENDING, is_manual=True)
    refunds = Refund.objects.filter(
        sale_orders("payment__order__"),
        (succeeded & Q(completed_at__gte=since, completed_at__lt=until))
        | (to_pay_back & Q(created_at__gte=since, created_at__lt=until)),
    )
    return _by_day(
        refunds,
        Coalesce("completed_at", "created_at"),
        refunds=Sum("amount", filter=succeeded),
        to_pay_back=Sum("amount", filter=to_pay_back),
    )


def _paid_for(units):
    """What the shopper paid for `units` of an order line, after the line's share of the voucher.

    The quantity is made a decimal in SQL (`* 1.0`, numeric on PostgreSQL): SQLite keeps whole
    amounts as integers and would divide them as integers, dropping the cents. It is declared a
    float so that Django does not cast it back to SQLite's NUMERIC, which is an integer again.
    """
    quantity = Func(F("quantity"), template="(%(expressions)s * 1.0)", output_field=FloatField())
    return CombinedExpression(units * LINE_PAID, "/", quantity, output_field=AMOUNT)


def _returned_value():
    """What was paid for a return movement's units on their order line."""
    line = OrderLine.objects.filter(
        order=OuterRef("order"), variant=OuterRef("stock_level__variant")
    ).order_by()
    value = line.annotate(value=_paid_for(OuterRef("on_hand_change"))).values("value")[:1]
    return Subquery(value, output_field=AMOUNT)


def _returns(since, until):
    returns = StockMovement.objects.filter(
        sale_orders("order__"),
        order__isnull=False,
        kind=StockMovement.Kind.RETURN,
        created_at__gte=since,
        created_at__lt=until,
    )
    return _by_day(
        returns,
        "created_at",
        units_returned=Sum("on_hand_change"),
        returns_value=Sum(_returned_value()),
    )


def daily_sales(*, start, end) -> list[DailySales]:
    """The figures per local day from `start` to `end`, days without events as zeros."""
    since, until = _local_days(start, end)
    gross, refunds, returns = _gross(since, until), _refunds(since, until), _returns(since, until)
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    return [
        _day(day, gross.get(day, {}), refunds.get(day, {}), returns.get(day, {})) for day in days
    ]


def _day(day, gross, refunds, returns):
    return DailySales(
        day=day,
        orders=gross.get("orders", 0),
        gross=quantize(gross.get("gross") or 0),
        units_sold=gross.get("units_sold") or 0,
        refunds=quantize(refunds.get("refunds") or 0),
        to_pay_back=quantize(refunds.get("to_pay_back") or 0),
        units_returned=returns.get("units_returned") or 0,
        returns_value=quantize(returns.get("returns_value") or 0),
    )


def summarize(days) -> SalesFigures:
    """The period's figures: the sums of its days."""
    return SalesFigures(
        **{
            name: sum((getattr(day, name) for day in days), start)
            for name, start in [
                ("orders", 0),
                ("gross", ZERO),
                ("units_sold", 0),
                ("refunds", ZERO),
                ("to_pay_back", ZERO),
                ("units_returned", 0),
                ("returns_value", ZERO),
            ]
        }
    )


def top_products(*, start, end, rank_by="units", limit=10) -> list[ProductSales]:
    """The best sellers by units or by revenue, net of the units returned in the period.

    Units and what was paid for them (after the voucher) count for orders placed in the
    period; returned units and their value come off on the day they were received, whenever
    the order was placed. Grouped by the title frozen on the order line, so products deleted
    since still count.
    """
    if rank_by not in ("units", "revenue"):
        raise ValueError(f"Cannot rank products by {rank_by!r}")
    other = "revenue" if rank_by == "units" else "units"
    since, until = _local_days(start, end)
    placed = Q(order__created_at__gte=since, order__created_at__lt=until)
    returns = StockMovement.objects.filter(
        order__isnull=False,
        kind=StockMovement.Kind.RETURN,
        created_at__gte=since,
        created_at__lt=until,
    )
    returned = (
        returns.filter(order=OuterRef("order"), stock_level__variant=OuterRef("variant"))
        .order_by()
        .values("order")
        .annotate(units=Sum("on_hand_change"))
        .values("units")
    )
    rows = (
        OrderLine.objects.filter(sale_orders("order__"))
        .filter(placed | Q(order__in=returns.values("order")))
        .annotate(returned=Coalesce(Subquery(returned, output_field=IntegerField()), 0))
        .values("product_title")
        .annotate(
            units=Sum(Case(When(placed, then="quantity"), default=0)) - Sum("returned"),
            revenue=Sum(
                Case(When(placed, then=LINE_PAID), default=Value(ZERO)), output_field=AMOUNT
            )
            - Sum(_paid_for(F("returned")), output_field=AMOUNT),
        )
        .order_by(f"-{rank_by}", f"-{other}", "product_title")[:limit]
    )
    return [
        ProductSales(
            title=row["product_title"], units=row["units"], revenue=quantize(row["revenue"])
        )
        for row in rows
    ]
