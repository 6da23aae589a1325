"""Sales figures for staff: reads with aggregates, one query per block of the sales page."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from shop.money import quantize

from .models import Order, OrderLine

# Orders that are sales: confirmed (cash on delivery) or paid, and everything after that
# which still holds the money. Awaiting payment is not a sale yet; cancelled and fully
# refunded orders are not sales any more.
SOLD_STATUSES = (
    Order.Status.CONFIRMED,
    Order.Status.PAID,
    Order.Status.PARTIALLY_SHIPPED,
    Order.Status.SHIPPED,
    Order.Status.DELIVERED,
    Order.Status.COMPLETED,
    Order.Status.PARTIALLY_REFUNDED,
)


@dataclass(frozen=True)
class DailySales:
    day: date
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class SalesSummary:
    orders: int
    revenue: Decimal
    average_order: Decimal


@dataclass(frozen=True)
class ProductSales:
    title: str
    units: int
    revenue: Decimal


def _placed_between(start, end):
    """The half-open datetime range of the shop's local days `start` to `end`, inclusive.

    A range on the indexed column, not a date function of it, so the index is used.
    """
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def daily_sales(*, start, end) -> list[DailySales]:
    """Orders and revenue (order totals) per local day, with the days without sales as zero."""
    since, until = _placed_between(start, end)
    rows = (
        Order.objects.filter(status__in=SOLD_STATUSES, created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(orders=Count("pk"), revenue=Sum("total"))
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    return [
        DailySales(
            day=day,
            orders=by_day[day]["orders"] if day in by_day else 0,
            revenue=quantize(by_day[day]["revenue"]) if day in by_day else Decimal("0.00"),
        )
        for day in days
    ]


def summarize(days) -> SalesSummary:
    orders = sum(day.orders for day in days)
    revenue = sum((day.revenue for day in days), Decimal("0.00"))
    average = quantize(revenue / orders) if orders else Decimal("0.00")
    return SalesSummary(orders=orders, revenue=revenue, average_order=average)


def top_products(*, start, end, rank_by="units", limit=10) -> list[ProductSales]:
    """The best sellers by units or by revenue (line totals, before order discounts).

    Grouped by the title frozen on the order line, so products deleted since still count.
    """
    if rank_by not in ("units", "revenue"):
        raise ValueError(f"Cannot rank products by {rank_by!r}")
    other = "revenue" if rank_by == "units" else "units"
    since, until = _placed_between(start, end)
    rows = (
        OrderLine.objects.filter(
            order__status__in=SOLD_STATUSES,
            order__created_at__gte=since,
            order__created_at__lt=until,
        )
        .values("product_title")
        .annotate(units=Sum("quantity"), revenue=Sum("line_total"))
        .order_by(f"-{rank_by}", f"-{other}", "product_title")[:limit]
    )
    return [
        ProductSales(
            title=row["product_title"], units=row["units"], revenue=quantize(row["revenue"])
        )
        for row in rows
    ]
