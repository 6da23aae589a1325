from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse

from catalog.models import PriceHistory, PriceRule, Variant
from catalog.pricing import bounded_price, price_bounds, proposed_price, reprice
from orders.models import Order
from tests.accounts.factories import PASSWORD, UserFactory
from tests.orders.factories import OrderFactory, OrderLineFactory

from .factories import VariantFactory

pytestmark = pytest.mark.django_db

MORNING = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
D = Decimal


def overstocked(**kwargs):
    values = {"price": D("20.00"), "cost": D("10.00"), "stock_available": 200, **kwargs}
    return VariantFactory(**values)


def markdown_rule(product, **kwargs):
    values = {
        "name": "Clear the shelves",
        "strategy": PriceRule.Strategy.MARK_DOWN_SLOW,
        "product": product,
        "step_percent": D("5"),
        "min_margin_percent": D("10"),
        "max_daily_change_percent": D("10"),
        **kwargs,
    }
    return PriceRule.objects.create(**values)


def price_of(variant):
    return Variant.objects.get(pk=variant.pk).price


# The bounds, case by case: (price, cost, compare-at, price at the day's start, step, margin, daily)
BOUND_CASES = [
    (D("20.00"), D("10.00"), None, D("20.00"), D("5"), D("10"), D("10")),
    (D("11.50"), D("10.00"), None, D("11.50"), D("50"), D("10"), D("90")),  # floor binds
    (D("19.00"), D("10.00"), D("19.50"), D("19.00"), D("20"), D("10"), D("50")),  # compare-at
    (D("18.10"), D("1.00"), None, D("20.00"), D("30"), D("0"), D("10")),  # daily limit binds
    (D("9.99"), D("10.00"), None, D("9.99"), D("5"), D("25"), D("10")),  # already under floor
    (D("0.05"), D("0.01"), D("0.06"), D("0.05"), D("99"), D("0"), D("99")),
    (D("999.99"), D("0.00"), None, D("1000.00"), D("1"), D("0"), D("1")),
]


@pytest.mark.parametrize("strategy", list(PriceRule.Strategy))
@pytest.mark.parametrize(
    ("price", "cost", "compare_at", "day_start", "step", "margin", "daily"), BOUND_CASES
)
def test_a_new_price_never_crosses_floor_ceiling_or_daily_limit(
    strategy, price, cost, compare_at, day_start, step, margin, daily
):
    bounds = price_bounds(
        cost=cost,
        compare_at_price=compare_at,
        day_start_price=day_start,
        min_margin_percent=margin,
        max_daily_percent=daily,
    )
    new = bounded_price(
        proposed=proposed_price(strategy=strategy, price=price, step_percent=step),
        current=price,
        bounds=bounds,
    )

    if new == price:
        return  # staying put is always allowed
    assert new >= cost * (1 + margin / 100)
    assert abs(new - day_start) <= day_start * daily / 100
    if compare_at is not None:
        assert new < compare_at
    if strategy == PriceRule.Strategy.MARK_DOWN_SLOW:
        assert new < price
    else:
        assert new > price


def test_repricing_steps_down_an_overstocked_variant_until_the_daily_limit():
    variant = overstocked()
    markdown_rule(variant.product)

    prices = []
    with time_machine.travel(MORNING, tick=False):
        for _ in range(4):
            reprice()
            prices.append(price_of(variant))

    assert prices[:3] == [D("19.00"), D("18.05"), D("18.00")]
    assert prices[3] == D("18.00")  # 10 % below the 20.00 it started the day at
    history = list(PriceHistory.objects.filter(variant=variant).order_by("pk"))
    assert [(row.old_price, row.new_price) for row in history] == [
        (D("20.00"), D("19.00")),
        (D("19.00"), D("18.05")),
        (D("18.05"), D("18.00")),
    ]
    assert "Mark down" in history[0].reason and "200 in stock" in history[0].reason


def test_the_next_day_repricing_continues_but_stops_at_cost_plus_margin():
    variant = overstocked(price=D("12.00"))
    markdown_rule(variant.product, step_percent=D("20"), max_daily_change_percent=D("50"))

    for day in range(3):
        with time_machine.travel(MORNING + timedelta(days=day), tick=False):
            reprice()

    assert price_of(variant) == D("11.00")  # cost 10.00 plus 10 %


def test_fast_sellers_with_little_stock_go_up_but_stay_under_the_compare_at_price():
    variant = VariantFactory(
        price=D("20.00"), compare_at_price=D("20.50"), cost=D("10.00"), stock_available=3
    )
    PriceRule.objects.create(
        name="Scarce",
        strategy=PriceRule.Strategy.RAISE_FAST,
        product=variant.product,
        sales_threshold=2,
        stock_threshold=5,
        step_percent=D("10"),
    )
    with time_machine.travel(MORNING - timedelta(days=1), tick=False):
        order = OrderFactory(status=Order.Status.PAID)
        OrderLineFactory(order=order, variant=variant, quantity=2, line_total=D("40.00"))

    with time_machine.travel(MORNING, tick=False):
        reprice()

    assert price_of(variant) == D("20.49")


def test_a_locked_price_never_moves():
    variant = overstocked(price_locked=True)
    markdown_rule(variant.product)

    with time_machine.travel(MORNING, tick=False):
        assert reprice() == []

    assert price_of(variant) == D("20.00")
    assert not PriceHistory.objects.exists()


def test_a_variant_without_a_cost_is_never_repriced():
    variant = overstocked(cost=None)
    markdown_rule(variant.product)

    reprice()

    assert price_of(variant) == D("20.00")


def test_a_products_own_rule_wins_over_its_categorys():
    variant = overstocked()
    markdown_rule(None, category=variant.product.category, step_percent=D("1"))
    markdown_rule(variant.product, step_percent=D("5"))

    with time_machine.travel(MORNING, tick=False):
        reprice()

    assert price_of(variant) == D("19.00")


def test_dry_run_shows_the_changes_and_makes_none(capsys):
    variant = overstocked()
    markdown_rule(variant.product)

    call_command("reprice", "--dry-run")

    assert f"{variant.sku}: 20.00 → 19.00" in capsys.readouterr().out
    assert price_of(variant) == D("20.00")
    assert not PriceHistory.objects.exists()


def test_staff_preview_a_rules_effect_in_admin(client):
    variant = overstocked()
    rule = markdown_rule(variant.product)
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="change_pricerule"))
    client.login(email=staff.email, password=PASSWORD)

    html = client.get(reverse("admin:catalog_pricerule_change", args=[rule.pk])).content.decode()

    assert variant.sku in html and "19.00" in html
    assert price_of(variant) == D("20.00")
