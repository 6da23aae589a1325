import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache

from catalog.models import CategoryPromotion
from catalog.pricing import effective_price
from orders.models import CartLine
from orders.services import add_to_cart
from tests.orders.factories import CartFactory

from .factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SALE_START = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)
SALE_END = datetime(2026, 3, 8, 0, 0, tzinfo=UTC)


def on_sale_variant(**kwargs):
    return VariantFactory(
        price=Decimal("20.00"),
        sale_price=Decimal("15.00"),
        sale_starts_at=SALE_START,
        sale_ends_at=SALE_END,
        stock_available=10,
        **kwargs,
    )


def promote(category, percent, *, starts_at=SALE_START, ends_at=SALE_END):
    promotion = CategoryPromotion.objects.create(
        name="Spring",
        category=category,
        percent_off=Decimal(percent),
        starts_at=starts_at,
        ends_at=ends_at,
    )
    cache.clear()  # the catalog version bumps on commit, which tests never reach
    return promotion


@pytest.mark.parametrize(
    ("moment", "price"),
    [
        (datetime(2026, 3, 4, 23, 59, 59, tzinfo=UTC), Decimal("20.00")),
        (SALE_START, Decimal("15.00")),
        (datetime(2026, 3, 7, 23, 59, 59, tzinfo=UTC), Decimal("15.00")),
        (SALE_END, Decimal("20.00")),
    ],
)
def test_a_sale_starts_and_ends_on_time(moment, price):
    variant = on_sale_variant()

    with time_machine.travel(moment, tick=False):
        assert effective_price(variant) == price


def test_the_cart_charges_the_sale_price_only_while_the_sale_runs():
    variant = on_sale_variant()
    cart = CartFactory()

    with time_machine.travel(MONDAY, tick=False):
        add_to_cart(cart=cart, variant_id=variant.pk, quantity=1)
        assert CartLine.objects.get(cart=cart).price_seen == Decimal("20.00")
    with time_machine.travel(SALE_START, tick=False):
        add_to_cart(cart=cart, variant_id=variant.pk, quantity=1)
        assert CartLine.objects.get(cart=cart).price_seen == Decimal("15.00")


def test_a_category_promotion_covers_its_subcategories():
    kitchen = CategoryFactory()
    cups = CategoryFactory(parent=kitchen)
    variant = VariantFactory(product=ProductFactory(category=cups), price=Decimal("20.00"))
    promote(kitchen, "10")

    with time_machine.travel(SALE_START, tick=False):
        assert effective_price(variant) == Decimal("18.00")
    with time_machine.travel(SALE_END, tick=False):
        assert effective_price(variant) == Decimal("20.00")


@pytest.mark.parametrize(("percent", "price"), [("20", Decimal("15.00")), ("30", Decimal("14.00"))])
def test_only_the_best_single_promotion_applies(percent, price):
    variant = on_sale_variant()
    promote(variant.product.category, "5")
    promote(variant.product.category, percent)

    with time_machine.travel(SALE_START, tick=False):
        assert effective_price(variant) == price  # never 15.00 minus a percentage


def test_cards_and_the_product_page_strike_through_the_regular_price(client):
    variant = on_sale_variant()
    product = variant.product

    with time_machine.travel(SALE_START, tick=False):
        listing = client.get(product.category.get_absolute_url()).content.decode()
        page = client.get(product.get_absolute_url()).content.decode()

    card = re.search(r'<article class="product-card">.*?</article>', listing, re.S).group(0)
    for html in (card, page):
        assert re.search(r'price-now on-sale">15\.00', html)
        assert re.search(r'<s class="price-was">.*?20\.00', html, re.S)
