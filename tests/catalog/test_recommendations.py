import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from catalog.models import PersonalRecommendation, Product, Recommendation
from catalog.recommendations import (
    Basket,
    build_recommendations,
    co_purchase_lift,
    evaluate,
    similar_products,
)
from orders.models import Order
from tests.accounts.factories import PASSWORD, UserFactory
from tests.orders.factories import OrderFactory, OrderLineFactory

from .factories import CategoryFactory, ProductFactory, ProductImageFactory, VariantFactory

pytestmark = pytest.mark.django_db


def stocked_product(**kwargs):
    product = ProductFactory(**kwargs)
    VariantFactory(product=product, stock_available=5)
    product.refresh_from_db()
    return product


def buy(*products, status=Order.Status.PAID, user=None):
    order = OrderFactory(status=status, user=user)
    for product in products:
        OrderLineFactory(order=order, variant=product.variants.first())
    return order


def baskets(*sets):
    return [Basket(user_id=None, product_ids=frozenset(ids)) for ids in sets]


def test_co_purchase_lift_on_a_hand_made_order_set_equals_the_hand_computed_values():
    # 5 baskets; a in 4, b in 4, c in 3; ab together 3 times, ac 2, bc 2, and "d" once.
    orders = baskets("ab", "ab", "ac", "bc", "abcd")

    lift = co_purchase_lift(orders, min_support=2)

    assert lift[("a", "b")] == pytest.approx(3 * 5 / (4 * 4))  # 0.9375
    assert lift[("a", "c")] == pytest.approx(2 * 5 / (4 * 3))  # 0.8333
    assert lift[("c", "b")] == lift[("b", "c")] == pytest.approx(2 * 5 / (4 * 3))
    assert ("a", "d") not in lift  # bought together once: below the minimum support


def test_build_writes_bought_together_scores_from_paid_orders_only():
    mug, saucer, spoon = (stocked_product() for _ in range(3))
    buy(mug, saucer)
    buy(mug, saucer)
    buy(mug, spoon)
    buy(saucer)
    buy(mug, spoon, status=Order.Status.PENDING_PAYMENT)  # never went ahead: ignored
    buy(mug, spoon, status=Order.Status.CANCELLED)

    build_recommendations()

    row = Recommendation.objects.get(
        product=mug, recommended=saucer, kind=Recommendation.Kind.BOUGHT_TOGETHER
    )
    # 4 baskets: mug in 3, saucer in 3, both in 2 → lift = 2·4 / (3·3).
    assert row.score == pytest.approx(8 / 9)
    assert not Recommendation.objects.filter(
        product=mug, recommended=spoon, kind=Recommendation.Kind.BOUGHT_TOGETHER
    ).exists()


def test_similar_products_rank_the_closest_text_first_within_the_category():
    products = [
        (1, 10, "Blue ceramic mug", "A ceramic mug for coffee"),
        (2, 10, "Red ceramic mug", "A ceramic mug for tea"),
        (3, 10, "Garden hose", "Twenty metres of hose"),
        (4, 20, "Ceramic mug twin", "A ceramic mug for coffee"),  # other category
    ]

    similar = similar_products(products)

    assert [other for _, other in similar[1]] == [2]
    assert 4 not in [other for _, other in similar[1]]


def test_nothing_out_of_stock_or_inactive_is_recommended():
    kitchen = CategoryFactory()
    mug = stocked_product(category=kitchen, title="Ceramic mug")
    in_stock = stocked_product(category=kitchen, title="Ceramic mug large")
    sold_out = ProductFactory(category=kitchen, title="Ceramic mug small")
    VariantFactory(product=sold_out, stock_available=0)
    retired = stocked_product(category=kitchen, title="Ceramic mug old", is_active=False)
    for product in (in_stock, sold_out, retired):
        buy(mug, product)
        buy(mug, product)
    shopper = UserFactory()
    buy(mug, user=shopper)

    build_recommendations()

    recommended = set(Recommendation.objects.values_list("recommended_id", flat=True))
    picked = set(PersonalRecommendation.objects.values_list("product_id", flat=True))
    assert in_stock.pk in recommended
    assert sold_out.pk not in recommended | picked
    assert retired.pk not in recommended | picked


def test_a_product_sold_out_after_the_build_disappears_from_the_product_page(client):
    kitchen = CategoryFactory()
    mug = stocked_product(category=kitchen, title="Ceramic mug")
    saucer = stocked_product(category=kitchen, title="Ceramic mug saucer")
    build_recommendations()
    assert saucer.title in client.get(mug.get_absolute_url()).content.decode()

    saucer.variants.update(stock_available=0)
    Product.objects.filter(pk=saucer.pk).update(in_stock=False)
    cache.clear()  # the page cache's version bumps on commit, which tests never reach

    assert saucer.title not in client.get(mug.get_absolute_url()).content.decode()


@pytest.mark.parametrize("size", [1, 10])
def test_the_product_page_with_recommendation_blocks_runs_the_same_queries(
    client, size, django_assert_max_num_queries
):
    kitchen = CategoryFactory()
    mug = stocked_product(category=kitchen, title="Ceramic mug")
    others = [stocked_product(category=kitchen, title=f"Ceramic mug {n}") for n in range(size)]
    for other in others:
        ProductImageFactory(product=other)
        buy(mug, other)
        buy(mug, other)
    build_recommendations()

    with django_assert_max_num_queries(8):
        html = client.get(mug.get_absolute_url()).content.decode()

    together = re.search(r'id="bought-together-heading".*?</section>', html, re.S).group(0)
    similar = re.search(r'id="similar-heading".*?</section>', html, re.S).group(0)
    assert together.count('class="product-card"') == size
    assert similar.count('class="product-card"') == size
    assert together.count("<img ") == size


def test_signed_in_shopper_sees_picks_from_their_history_on_the_home_page(client):
    kitchen = CategoryFactory()
    mug, saucer = stocked_product(category=kitchen), stocked_product(category=kitchen)
    shopper = UserFactory()
    buy(mug, user=shopper)
    buy(mug, saucer)
    buy(mug, saucer)
    build_recommendations()

    client.login(email=shopper.email, password=PASSWORD)
    html = client.get(reverse("catalog:home")).content.decode()

    section = re.search(r'id="for-you-heading".*?</section>', html, re.S).group(0)
    assert saucer.title in section
    assert mug.title not in section  # already bought


def test_shopper_without_useful_history_gets_bestsellers():
    bestseller, other = stocked_product(), stocked_product()
    buy(bestseller)
    buy(bestseller)
    shopper = UserFactory()
    buy(other, user=shopper)

    build_recommendations()

    assert list(
        PersonalRecommendation.objects.filter(user=shopper).values_list("product_id", flat=True)
    ) == [bestseller.pk]


def test_evaluation_scores_the_model_and_popularity_on_held_out_orders():
    # Shopper 1 bought a then b; shopper 2 a then c. Others bought b with a and d a lot.
    history = [
        Basket(user_id=1, product_ids=frozenset({"a"})),
        Basket(user_id=2, product_ids=frozenset({"a"})),
        Basket(user_id=1, product_ids=frozenset({"b"})),
        Basket(user_id=2, product_ids=frozenset({"c"})),
        *baskets("ab", "ab", "d", "d", "d", "d"),
    ]

    result = evaluate(history, category_of={}, k=1)

    assert result.shoppers == 2
    # The model picks b (companion of a) for both: right for shopper 1 only.
    assert result.model.hit_rate == pytest.approx(0.5)
    assert result.model.precision == pytest.approx(0.5)
    # Popularity picks d for both: never bought next.
    assert result.popularity.hit_rate == 0


def test_build_recommendations_command_builds_and_evaluates():
    mug, saucer = stocked_product(), stocked_product()
    buy(mug, saucer)
    buy(mug, saucer)
    out = []

    call_command("build_recommendations", stdout=_Collect(out))
    call_command("build_recommendations", "--evaluate", stdout=_Collect(out))

    text = "".join(out)
    assert "Built recommendations" in text
    assert "| popularity baseline |" in text
    assert Recommendation.objects.filter(product=mug, recommended=saucer).exists()
    assert Decimal("0") <= Decimal(str(Recommendation.objects.first().score))


class _Collect:
    def __init__(self, sink):
        self.sink = sink

    def write(self, text):
        self.sink.append(text)

    def flush(self):
        pass
