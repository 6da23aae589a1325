from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import override_settings
from django.urls import reverse

from orders import reports
from orders.models import Order
from tests.accounts.factories import StaffFactory, UserFactory

from .factories import OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db

SALES_URL = reverse("admin:orders_order_sales")
MARCH = {"start": "2026-03-01", "end": "2026-03-03"}
S = Order.Status


def staff_with(*codenames):
    staff = StaffFactory()
    staff.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="orders", codename__in=codenames)
    )
    return staff


def order_at(when, status, lines, *, shipping="0.00", discount="0.00"):
    """An order placed at `when` (UTC) with lines of (title, quantity, unit price)."""
    subtotal = sum(Decimal(price) * quantity for _title, quantity, price in lines)
    total = subtotal - Decimal(discount) + Decimal(shipping)
    order = OrderFactory(
        status=status,
        subtotal=subtotal,
        discount_total=Decimal(discount),
        shipping_total=Decimal(shipping),
        total=total,
    )
    for title, quantity, price in lines:
        OrderLineFactory(
            order=order,
            variant=None,
            product_title=title,
            sku=title.upper(),
            quantity=quantity,
            unit_price=Decimal(price),
            line_total=Decimal(price) * quantity,
        )
    Order.objects.filter(pk=order.pk).update(created_at=when)
    return order


@pytest.fixture
def march_orders():
    """Three sales on 1 and 3 March; the rest are not sales or fall outside the period."""
    order_at(datetime(2026, 3, 1, 10, tzinfo=UTC), S.PAID, [("Mug", 2, "20.00")], shipping="10.00")
    order_at(datetime(2026, 3, 1, 18, tzinfo=UTC), S.CONFIRMED, [("Tea", 1, "25.00")], shipping="5")
    order_at(datetime(2026, 3, 2, 9, tzinfo=UTC), S.CANCELLED, [("Mug", 5, "20.00")])
    order_at(datetime(2026, 3, 2, 9, tzinfo=UTC), S.PENDING_PAYMENT, [("Tea", 1, "25.00")])
    order_at(
        datetime(2026, 3, 3, 12, tzinfo=UTC),
        S.DELIVERED,
        [("Mug", 2, "20.00"), ("Tea", 2, "45.00")],
        discount="10.00",
    )
    order_at(datetime(2026, 3, 3, 13, tzinfo=UTC), S.REFUNDED, [("Mug", 3, "20.00")])
    order_at(datetime(2026, 2, 28, 23, 59, tzinfo=UTC), S.PAID, [("Mug", 1, "20.00")])
    order_at(datetime(2026, 3, 4, 0, 0, tzinfo=UTC), S.PAID, [("Tea", 1, "25.00")])


def test_daily_sales_match_the_figures_worked_out_by_hand(march_orders):
    days = reports.daily_sales(start=date(2026, 3, 1), end=date(2026, 3, 3))

    assert [(day.day, day.orders, day.revenue) for day in days] == [
        (date(2026, 3, 1), 2, Decimal("80.00")),
        (date(2026, 3, 2), 0, Decimal("0.00")),
        (date(2026, 3, 3), 1, Decimal("120.00")),
    ]
    summary = reports.summarize(days)
    assert summary.orders == 3
    assert summary.revenue == Decimal("200.00")
    assert summary.average_order == Decimal("66.67")


def test_top_products_rank_by_units_or_by_revenue(march_orders):
    by_units = reports.top_products(start=date(2026, 3, 1), end=date(2026, 3, 3))
    by_revenue = reports.top_products(
        start=date(2026, 3, 1), end=date(2026, 3, 3), rank_by="revenue"
    )

    assert [(p.title, p.units, p.revenue) for p in by_units] == [
        ("Mug", 4, Decimal("80.00")),
        ("Tea", 3, Decimal("115.00")),
    ]
    assert [p.title for p in by_revenue] == ["Tea", "Mug"]


def test_top_products_show_ten_at_most():
    for number in range(12):
        order_at(datetime(2026, 3, 1, 10, tzinfo=UTC), S.PAID, [(f"Thing {number}", 1, "5.00")])

    products = reports.top_products(start=date(2026, 3, 1), end=date(2026, 3, 1))

    assert len(products) == 10


def test_each_block_of_figures_is_one_query_whatever_the_number_of_days(
    march_orders, django_assert_num_queries
):
    with django_assert_num_queries(1):
        reports.daily_sales(start=date(2026, 1, 1), end=date(2026, 3, 31))
    with django_assert_num_queries(1):
        reports.top_products(start=date(2026, 1, 1), end=date(2026, 3, 31))


@override_settings(TIME_ZONE="Asia/Shanghai")
def test_days_are_the_shops_local_days():
    # 20:00 UTC on 28 February is 04:00 on 1 March in Shanghai.
    order_at(datetime(2026, 2, 28, 20, tzinfo=UTC), S.PAID, [("Mug", 1, "20.00")])

    days = reports.daily_sales(start=date(2026, 2, 28), end=date(2026, 3, 1))

    assert [(day.day, day.orders) for day in days] == [
        (date(2026, 2, 28), 0),
        (date(2026, 3, 1), 1),
    ]


def test_staff_without_order_permission_get_403_on_the_sales_page(client):
    client.force_login(staff_with("view_voucher"))

    assert client.get(SALES_URL).status_code == 403


def test_shoppers_are_sent_to_the_admin_login(client):
    client.force_login(UserFactory())

    response = client.get(SALES_URL)

    assert response.status_code == 302
    assert "login" in response.url


def test_sales_page_shows_the_figures_a_chart_and_the_top_products(client, march_orders):
    client.force_login(staff_with("view_order"))

    response = client.get(SALES_URL, MARCH)

    assert response.status_code == 200
    assert response.context["summary"] == reports.SalesSummary(
        orders=3, revenue=Decimal("200.00"), average_order=Decimal("66.67")
    )
    page = response.content.decode()
    assert "200.00 EUR" in page
    assert page.count('<rect class="bar"') == 3
    assert 'src="http' not in page
    assert [p.title for p in response.context["products"]] == ["Mug", "Tea"]


def test_sales_page_ranks_by_revenue_when_asked(client, march_orders):
    client.force_login(staff_with("view_order"))

    response = client.get(SALES_URL, {**MARCH, "rank_by": "revenue"})

    assert [p.title for p in response.context["products"]] == ["Tea", "Mug"]


def test_sales_page_shows_the_last_30_days_by_default(client):
    client.force_login(staff_with("view_order"))

    response = client.get(SALES_URL)

    assert response.status_code == 200
    assert len(response.context["days"]) == 30


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2026-03-03", "end": "2026-03-01"}, "must not be after"),
        ({"start": "2024-01-01", "end": "2026-03-01"}, "at most 366 days"),
        ({"start": "yesterday", "end": "2026-03-01"}, "Enter a valid date"),
        ({"start": "2026-03-01", "end": "2026-03-03", "rank_by": "price"}, "Select a valid choice"),
    ],
)
def test_a_bad_period_is_refused_with_a_message(client, query, message):
    client.force_login(staff_with("view_order"))

    response = client.get(SALES_URL, query)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_order_list_links_to_the_sales_page(client):
    client.force_login(staff_with("view_order"))

    response = client.get(reverse("admin:orders_order_changelist"))

    assert SALES_URL in response.content.decode()
