from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db.models import F, Q, Sum
from django.test import override_settings
from django.urls import reverse

from orders.models import Order
from payments import reports
from payments.models import Payment, Refund
from shipping.models import StockMovement
from shipping.services import return_stock
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import VariantFactory
from tests.orders.factories import OrderFactory, OrderLineFactory
from tests.shipping.factories import WarehouseFactory

from .factories import PaymentFactory, RefundFactory

pytestmark = pytest.mark.django_db

SALES_URL = reverse("sales")
MARCH = {"start": "2026-03-01", "end": "2026-03-05"}
S = Order.Status
M = Order.PaymentMethod


def march(day, hour=12):
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def staff_with(*codenames):
    staff = StaffFactory()
    staff.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="orders", codename__in=codenames),
        *Permission.objects.filter(content_type__app_label="payments", codename="view_payment"),
    )
    return staff


def order_at(when, status, lines, *, method=M.CARD, shipping="0.00", discount="0.00", shipped=0):
    """An order placed at `when` with lines of (variant or title, quantity, unit price).

    The discount goes to the first line; each line has `shipped` units shipped. The order's
    payment is received, except awaiting payment and for cash on delivery, where it is due.
    """
    subtotal = sum(Decimal(price) * quantity for _item, quantity, price in lines)
    total = subtotal - Decimal(discount) + Decimal(shipping)
    order = OrderFactory(
        status=status,
        payment_method=method,
        subtotal=subtotal,
        discount_total=Decimal(discount),
        shipping_total=Decimal(shipping),
        total=total,
    )
    for index, (item, quantity, price) in enumerate(lines):
        variant = item if not isinstance(item, str) else None
        OrderLineFactory(
            order=order,
            variant=variant,
            product_title=variant.product.title if variant else item,
            sku=variant.sku if variant else item.upper(),
            quantity=quantity,
            unit_price=Decimal(price),
            line_total=Decimal(price) * quantity,
            discount=Decimal(discount) if index == 0 else Decimal("0.00"),
            quantity_shipped=shipped,
        )
    Order.objects.filter(pk=order.pk).update(created_at=when)
    due = status == S.PENDING_PAYMENT or method == M.CASH_ON_DELIVERY
    order.payment = PaymentFactory(
        order=order,
        status=Payment.Status.PENDING if due else Payment.Status.SUCCEEDED,
        paid_at=None if due else when,
    )
    return order


def refund(order, amount, *, on, paid_back=True):
    """A refund of the order's payment: paid back `on` that day, or still to pay back by hand."""
    made = RefundFactory(
        payment=order.payment,
        amount=Decimal(amount),
        status=Refund.Status.SUCCEEDED if paid_back else Refund.Status.PENDING,
        is_manual=order.payment_method != M.CARD,
        completed_at=on if paid_back else None,
    )
    Refund.objects.filter(pk=made.pk).update(created_at=on)
    if paid_back:
        Payment.objects.filter(pk=order.payment.pk).update(
            amount_refunded=F("amount_refunded") + Decimal(amount)
        )
    return made


def receive_return(order, variant, quantity, *, on):
    """Units of the order received back into stock through the stock service, on that day."""
    return_stock(variant=variant, warehouse=WarehouseFactory(), quantity=quantity, order=order)
    StockMovement.objects.filter(order=order, kind=StockMovement.Kind.RETURN).update(created_at=on)


@pytest.fixture
def sales():
    """Sales on 1 to 3 March, refunds on 3 and 5 March, returns on 4 March; and orders that
    are not sales: cancelled (and refunded), awaiting payment, delivered without a shipment.

    Returns the orders that are sales.
    """
    mug = VariantFactory(product__title="Mug")
    tea = VariantFactory(product__title="Tea")
    paid = order_at(march(1, 10), S.PARTIALLY_REFUNDED, [(mug, 3, "20.00")], shipping="10.00")
    refund(paid, "15.00", on=march(3))
    discounted = order_at(march(2, 9), S.DELIVERED, [(tea, 2, "45.00")], discount="9.00", shipped=2)
    receive_return(discounted, tea, 1, on=march(4))
    refund(discounted, "40.50", on=march(5))
    by_transfer = order_at(
        march(2, 18),
        S.DELIVERED,
        [(mug, 1, "20.00")],
        method=M.BANK_TRANSFER,
        shipping="5.00",
        shipped=1,
    )
    receive_return(by_transfer, mug, 1, on=march(4))
    refund(by_transfer, "20.00", on=march(4), paid_back=False)
    cash = order_at(
        march(3),
        S.CONFIRMED,
        [(tea, 1, "25.00"), (mug, 1, "5.00")],
        method=M.CASH_ON_DELIVERY,
        shipping="5.00",
    )
    cancelled = order_at(march(3), S.CANCELLED, [(mug, 2, "20.00")])
    refund(cancelled, "40.00", on=march(3))
    order_at(march(3), S.PENDING_PAYMENT, [(tea, 1, "25.00")], method=M.BANK_TRANSFER)
    order_at(march(3), S.DELIVERED, [(tea, 4, "25.00")], method=M.CASH_ON_DELIVERY)
    return [paid, discounted, by_transfer, cash]


def figures(day):
    return (
        day.day,
        day.orders,
        day.gross,
        day.refunds,
        day.net,
        day.units_sold,
        day.units_returned,
    )


def test_each_figure_counts_on_the_day_of_its_own_event(sales):
    days = reports.daily_sales(start=date(2026, 3, 1), end=date(2026, 3, 5))

    zero = Decimal("0.00")
    assert [figures(day) for day in days] == [
        (date(2026, 3, 1), 1, Decimal("70.00"), zero, Decimal("70.00"), 3, 0),
        (date(2026, 3, 2), 2, Decimal("106.00"), zero, Decimal("106.00"), 3, 0),
        (date(2026, 3, 3), 1, Decimal("35.00"), Decimal("15.00"), Decimal("20.00"), 2, 0),
        (date(2026, 3, 4), 0, zero, zero, zero, 0, 2),
        (date(2026, 3, 5), 0, zero, Decimal("40.50"), Decimal("-40.50"), 0, 0),
    ]


def test_returns_are_valued_at_what_was_paid_for_the_units_after_the_voucher(sales):
    days = reports.daily_sales(start=date(2026, 3, 4), end=date(2026, 3, 4))

    # One tea of a line of two that cost 90.00 less a 9.00 voucher, and one mug at 20.00.
    assert days[0].returns_value == Decimal("60.50")


def test_a_refund_still_to_pay_back_by_hand_is_shown_apart_and_not_in_net(sales):
    (day,) = reports.daily_sales(start=date(2026, 3, 4), end=date(2026, 3, 4))

    assert day.to_pay_back == Decimal("20.00")
    assert day.refunds == Decimal("0.00")
    assert day.net == Decimal("0.00")


def test_the_period_net_reconciles_with_the_payments_and_refunds_of_the_sale_orders(sales):
    summary = reports.summarize(reports.daily_sales(start=date(2026, 3, 1), end=date(2026, 3, 5)))

    paid_or_due = Payment.objects.filter(order__in=sales).filter(
        Q(status=Payment.Status.SUCCEEDED) | Q(method=M.CASH_ON_DELIVERY)
    )
    given_back = Refund.objects.filter(payment__order__in=sales, status=Refund.Status.SUCCEEDED)
    expected = (
        paid_or_due.aggregate(total=Sum("amount"))["total"]
        - given_back.aggregate(total=Sum("amount"))["total"]
    )
    assert summary.net == expected == Decimal("155.50")
    assert summary.gross == sum(order.total for order in sales)
    assert summary.orders == len(sales)
    returned = StockMovement.objects.filter(kind=StockMovement.Kind.RETURN)
    sold = sum(line.quantity for order in sales for line in order.lines.all())
    assert summary.net_units == sold - returned.aggregate(units=Sum("on_hand_change"))["units"]
    assert summary.net_units == 6


def test_cancelled_awaiting_payment_and_never_shipped_orders_are_not_sales(sales):
    (day,) = reports.daily_sales(start=date(2026, 3, 3), end=date(2026, 3, 3))

    # Only the cash-on-delivery order; the cancelled order's refund is left out with it.
    assert (day.orders, day.gross, day.refunds) == (1, Decimal("35.00"), Decimal("15.00"))


def test_a_refunded_order_stays_on_the_day_it_was_sold(sales):
    paid = sales[0]
    paid.lines.update(quantity_shipped=3)
    Order.objects.filter(pk=paid.pk).update(status=S.REFUNDED)
    refund(paid, "55.00", on=march(5))

    days = reports.daily_sales(start=date(2026, 3, 1), end=date(2026, 3, 5))

    assert days[0].gross == Decimal("70.00")
    assert days[4].refunds == Decimal("95.50")


def test_top_products_rank_by_units_or_by_revenue_net_of_returns(sales):
    by_units = reports.top_products(start=date(2026, 3, 1), end=date(2026, 3, 5))
    by_revenue = reports.top_products(
        start=date(2026, 3, 1), end=date(2026, 3, 5), rank_by="revenue"
    )

    assert [(p.title, p.units, p.revenue) for p in by_units] == [
        ("Mug", 4, Decimal("65.00")),
        ("Tea", 2, Decimal("65.50")),
    ]
    assert [p.title for p in by_revenue] == ["Tea", "Mug"]


def test_units_returned_come_off_in_the_period_they_were_received(sales):
    products = reports.top_products(start=date(2026, 3, 4), end=date(2026, 3, 4))

    assert [(p.title, p.units, p.revenue) for p in products] == [
        ("Mug", -1, Decimal("-20.00")),
        ("Tea", -1, Decimal("-40.50")),
    ]


def test_top_products_show_ten_at_most():
    for number in range(12):
        order_at(march(1), S.PAID, [(f"Thing {number}", 1, "5.00")])

    products = reports.top_products(start=date(2026, 3, 1), end=date(2026, 3, 1))

    assert len(products) == 10


def test_each_block_of_figures_is_one_query_whatever_the_number_of_days(
    sales, django_assert_max_num_queries
):
    # Gross, refunds and returns.
    with django_assert_max_num_queries(3):
        reports.daily_sales(start=date(2026, 1, 1), end=date(2026, 3, 31))
    with django_assert_max_num_queries(1):
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


def test_sales_page_shows_the_figures_a_chart_and_the_top_products(client, sales):
    client.force_login(staff_with("view_order"))

    response = client.get(SALES_URL, MARCH)

    assert response.status_code == 200
    summary = response.context["summary"]
    assert (summary.gross, summary.refunds, summary.net, summary.to_pay_back) == (
        Decimal("211.00"),
        Decimal("55.50"),
        Decimal("155.50"),
        Decimal("20.00"),
    )
    page = response.content.decode()
    assert "155.50 EUR" in page
    assert page.count('<rect class="bar"') == page.count('<rect class="refund"') == 5
    assert 'src="http' not in page
    assert [p.title for p in response.context["products"]] == ["Mug", "Tea"]


def test_sales_page_ranks_by_revenue_when_asked(client, sales):
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
