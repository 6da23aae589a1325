"""Recommendations: what to show next to a product and to each signed-in shopper.

Everything is computed in memory from purchase histories, product views and product texts, then
written into two tables the pages read in one query each. Scores are plain Python: lift for
co-purchases, sessions in common for co-views, TF-IDF cosine similarity for texts, so staff can
follow every number by hand.
"""

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from itertools import combinations

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from . import selectors
from .models import PersonalRecommendation, Product, ProductView, Recommendation

PER_PRODUCT = 10
PER_SHOPPER = 10
# A pair bought together in fewer baskets than this is chance, not a pattern.
MIN_PAIR_SUPPORT = 2
# Orders that never went ahead, or were paid back, say nothing about what shoppers want.
# How much a shopper's favourite categories weigh against companions' lift. On the demo data
# (`build_recommendations --evaluate`) any weight from 1 up doubles the hit rate of lift alone.
TASTE_WEIGHT = 3
NOT_BOUGHT = (*selectors.UNBOUGHT_ORDER_STATUSES, "refunded")
WORD = re.compile(r"\w{3,}", re.UNICODE)


@dataclass(frozen=True)
class Basket:
    user_id: int | None
    product_ids: frozenset


def load_baskets():
    """Each order that went ahead as the set of products in it, oldest first."""
    order_line = apps.get_model("orders", "OrderLine")
    rows = (
        order_line.objects.exclude(order__status__in=NOT_BOUGHT)
        .filter(variant__isnull=False)
        .order_by("order__created_at", "order_id")
        .values_list("order_id", "order__user_id", "variant__product_id")
    )
    products, owners = defaultdict(set), {}
    for order_id, user_id, product_id in rows.iterator(chunk_size=5000):
        products[order_id].add(product_id)
        owners[order_id] = user_id
    return [
        Basket(user_id=owners[order_id], product_ids=frozenset(ids))
        for order_id, ids in products.items()
    ]


# Frequently bought together


def co_purchase_lift(baskets, *, min_support=MIN_PAIR_SUPPORT):
    """{(a, b): lift} for every ordered pair of products bought together often enough.

    lift(a, b) = P(a and b) / (P(a) · P(b)) = n(ab) · N / (n(a) · n(b)) over N baskets:
    above 1, buying one makes the other likelier than its popularity alone says.
    """
    item_counts, pair_counts = Counter(), Counter()
    for basket in baskets:
        item_counts.update(basket.product_ids)
        pair_counts.update(combinations(sorted(basket.product_ids), 2))
    total = len(baskets)
    lift = {}
    for (a, b), together in pair_counts.items():
        if together >= min_support:
            score = together * total / (item_counts[a] * item_counts[b])
            lift[(a, b)] = lift[(b, a)] = score
    return lift


def _top_by_product(pair_scores, *, allowed, size):
    by_product = defaultdict(list)
    for (a, b), score in pair_scores.items():
        if b in allowed:
            by_product[a].append((score, b))
    return {
        product_id: sorted(scored, key=lambda pair: (-pair[0], pair[1]))[:size]
        for product_id, scored in by_product.items()
    }


# Shoppers who viewed this also viewed

# Views older than this say little about today's catalog; each build deletes them.
VIEW_WINDOW_DAYS = 90
# Two products seen together in fewer sessions than this is chance, not a pattern.
MIN_CO_VIEW_SUPPORT = 2
# A session that looked at more products than this is a crawler, not a shopper: its pairs would
# swamp the real ones, and they grow with the square of its views.
MAX_VIEWS_PER_SESSION = 50


def load_view_sessions(*, since):
    """The products each session looked at from the day `since` on, as one set per session."""
    rows = ProductView.objects.filter(day__gte=since).values_list("session_hash", "product_id")
    sessions = defaultdict(set)
    for session, product_id in rows.iterator(chunk_size=5000):
        sessions[session].add(product_id)
    return [frozenset(ids) for ids in sessions.values()]


def co_view_counts(sessions, *, min_support=MIN_CO_VIEW_SUPPORT, max_views=MAX_VIEWS_PER_SESSION):
    """{(a, b): sessions that viewed both} for every ordered pair seen together often enough."""
    pair_counts = Counter()
    for viewed in sessions:
        if len(viewed) <= max_views:
            pair_counts.update(combinations(sorted(viewed), 2))
    counts = {}
    for (a, b), together in pair_counts.items():
        if together >= min_support:
            counts[(a, b)] = counts[(b, a)] = float(together)
    return counts


# Similar products


def tokens(text):
    return WORD.findall(text.lower())


def tfidf_vectors(documents):
    """{key: {term: weight}} with unit length, from {key: text}; idf = log(N / df) + 1."""
    counts = {key: Counter(tokens(text)) for key, text in documents.items()}
    document_frequency = Counter(term for terms in counts.values() for term in terms)
    total = len(documents)
    vectors = {}
    for key, terms in counts.items():
        vector = {
            term: count * (math.log(total / document_frequency[term]) + 1)
            for term, count in terms.items()
        }
        norm = math.sqrt(sum(weight * weight for weight in vector.values())) or 1.0
        vectors[key] = {term: weight / norm for term, weight in vector.items()}
    return vectors


def cosine(left, right):
    if len(left) > len(right):
        left, right = right, left
    return sum(weight * right.get(term, 0.0) for term, weight in left.items())


def similar_products(products, *, size=PER_PRODUCT):
    """{product id: [(similarity, other id)]} among products of the same category.

    `products` are (id, category id, title, description); the title counts twice, as the
    words that name a product matter more than the ones that sell it.
    """
    by_category = defaultdict(list)
    for product_id, category_id, title, description in products:
        by_category[category_id].append((product_id, f"{title} {title} {description}"))
    similar = {}
    for members in by_category.values():
        vectors = tfidf_vectors(dict(members))
        for product_id, vector in vectors.items():
            scored = [
                (cosine(vector, other), other_id)
                for other_id, other in vectors.items()
                if other_id != product_id
            ]
            scored = [pair for pair in scored if pair[0] > 0]
            similar[product_id] = sorted(scored, key=lambda pair: (-pair[0], pair[1]))[:size]
    return similar


# Recommended for you


def popularity(baskets):
    return Counter(product_id for basket in baskets for product_id in basket.product_ids)


def popular_by_category(popular, category_of):
    """{category id: [(product id, times bought)]}, so a shopper's tastes are looked up at once."""
    table = defaultdict(list)
    for product_id, count in popular.items():
        if product_id in category_of:
            table[category_of[product_id]].append((product_id, count))
    return table


def neighbours(lift):
    """{a: {b: lift}} from the pair scores, to look up one product's companions at once."""
    table = defaultdict(dict)
    for (a, b), score in lift.items():
        table[a][b] = score
    return table


def personal_picks(
    history, *, companions, category_of, popular, by_category, size=PER_SHOPPER, allowed=None
):
    """The products a shopper with this purchase `history` is likeliest to buy next.

    Each candidate scores the lift it has with everything bought before, plus the shopper's
    share of purchases in its category times its popularity there: tastes and companions
    together. Already bought products and ones not `allowed` are left out; bestsellers fill up.
    """
    bought = Counter(history)
    taste = Counter(category_of[product_id] for product_id in history if product_id in category_of)
    most_popular = max(popular.values(), default=1)
    scores = defaultdict(float)
    for product_id, times in bought.items():
        for other_id, score in companions.get(product_id, {}).items():
            scores[other_id] += score * times
    total = sum(taste.values()) or 1
    for category_id, times in taste.items():
        share = times / total
        for product_id, count in by_category.get(category_id, ()):
            scores[product_id] += TASTE_WEIGHT * share * count / most_popular
    ranked = sorted(
        (
            (score, product_id)
            for product_id, score in scores.items()
            if product_id not in bought and (allowed is None or product_id in allowed)
        ),
        key=lambda pair: (-pair[0], pair[1]),
    )
    picks = ranked[:size]
    if len(picks) < size:
        picked = {product_id for _, product_id in picks}
        for product_id, _count in popular.most_common():
            if len(picks) >= size:
                break
            if product_id in bought or product_id in picked:
                continue
            if allowed is not None and product_id not in allowed:
                continue
            picks.append((0.0, product_id))
    return picks


# Building the tables


def recommendable_ids():
    """Products a page may recommend: active, in a visible category and in stock."""
    tree = selectors.load_category_tree()
    return set(
        Product.objects.filter(
            is_active=True, in_stock=True, category_id__in=tree.visible_ids
        ).values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class BuildSummary:
    products: int
    baskets: int
    sessions: int
    bought_together: int
    viewed_together: int
    similar: int
    shoppers: int


def build_recommendations():
    """Recompute every recommendation from scratch and swap the tables in one transaction.

    Product views older than the window are deleted in the same transaction.
    """
    baskets = load_baskets()
    views_since = timezone.localdate() - timedelta(days=VIEW_WINDOW_DAYS)
    sessions = load_view_sessions(since=views_since)
    allowed = recommendable_ids()
    products = list(
        Product.objects.filter(is_active=True).values_list(
            "pk", "category_id", "title", "description"
        )
    )
    category_of = {product_id: category_id for product_id, category_id, _, _ in products}
    lift = co_purchase_lift(baskets)
    together = _top_by_product(lift, allowed=allowed, size=PER_PRODUCT)
    viewed = _top_by_product(co_view_counts(sessions), allowed=allowed, size=PER_PRODUCT)
    similar = {
        product_id: [(score, other_id) for score, other_id in scored if other_id in allowed]
        for product_id, scored in similar_products(products, size=PER_PRODUCT * 2).items()
    }
    rows = [
        Recommendation(
            product_id=product_id,
            recommended_id=other_id,
            kind=kind,
            score=score,
            rank=rank,
        )
        for kind, table in (
            (Recommendation.Kind.BOUGHT_TOGETHER, together),
            (Recommendation.Kind.VIEWED_TOGETHER, viewed),
            (Recommendation.Kind.SIMILAR, similar),
        )
        for product_id, scored in table.items()
        for rank, (score, other_id) in enumerate(scored[:PER_PRODUCT], start=1)
    ]
    histories = defaultdict(list)
    for basket in baskets:
        if basket.user_id is not None:
            histories[basket.user_id].extend(basket.product_ids)
    companions = neighbours(lift)
    popular = popularity(baskets)
    by_category = popular_by_category(popular, category_of)
    picks = [
        PersonalRecommendation(user_id=user_id, product_id=product_id, score=score, rank=rank)
        for user_id, history in histories.items()
        for rank, (score, product_id) in enumerate(
            personal_picks(
                history,
                companions=companions,
                category_of=category_of,
                popular=popular,
                by_category=by_category,
                allowed=allowed,
            ),
            start=1,
        )
    ]
    with transaction.atomic():
        Recommendation.objects.all().delete()
        PersonalRecommendation.objects.all().delete()
        Recommendation.objects.bulk_create(rows, batch_size=2000)
        PersonalRecommendation.objects.bulk_create(picks, batch_size=2000)
        ProductView.objects.filter(day__lt=views_since).delete()
    return BuildSummary(
        products=len(products),
        baskets=len(baskets),
        sessions=len(sessions),
        bought_together=sum(1 for row in rows if row.kind == Recommendation.Kind.BOUGHT_TOGETHER),
        viewed_together=sum(1 for row in rows if row.kind == Recommendation.Kind.VIEWED_TOGETHER),
        similar=sum(1 for row in rows if row.kind == Recommendation.Kind.SIMILAR),
        shoppers=len(histories),
    )


# Evaluation


@dataclass(frozen=True)
class Score:
    hit_rate: float
    precision: float


@dataclass(frozen=True)
class Evaluation:
    shoppers: int
    model: Score
    popularity: Score


def evaluate(baskets, *, category_of, k=PER_SHOPPER):
    """Hold out each shopper's last order, learn from the rest, and score the top `k` picks.

    Hit rate@k: share of shoppers with at least one held-out product among their picks.
    Precision@k: held-out products among the picks, over k. The baseline recommends the most
    bought products the shopper has not bought yet.
    """
    by_user = defaultdict(list)
    for basket in baskets:
        if basket.user_id is not None:
            by_user[basket.user_id].append(basket)
    held_out = {user_id: orders[-1] for user_id, orders in by_user.items() if len(orders) >= 2}
    training = [
        basket
        for user_id, orders in by_user.items()
        for basket in (orders[:-1] if user_id in held_out else orders)
    ] + [basket for basket in baskets if basket.user_id is None]
    companions = neighbours(co_purchase_lift(training))
    popular = popularity(training)
    by_category = popular_by_category(popular, category_of)
    model_hits = model_relevant = base_hits = base_relevant = 0
    for user_id, last in held_out.items():
        history = [
            product_id for basket in by_user[user_id][:-1] for product_id in basket.product_ids
        ]
        bought = set(history)
        model = {
            product_id
            for _, product_id in personal_picks(
                history,
                companions=companions,
                category_of=category_of,
                popular=popular,
                by_category=by_category,
                size=k,
            )
        }
        unbought = [
            product_id
            for product_id, _ in popular.most_common(k + len(bought))
            if product_id not in bought
        ]
        baseline = set(unbought[:k])
        model_found = len(model & last.product_ids)
        base_found = len(baseline & last.product_ids)
        model_hits += model_found > 0
        base_hits += base_found > 0
        model_relevant += model_found
        base_relevant += base_found
    shoppers = len(held_out) or 1
    return Evaluation(
        shoppers=len(held_out),
        model=Score(hit_rate=model_hits / shoppers, precision=model_relevant / (shoppers * k)),
        popularity=Score(hit_rate=base_hits / shoppers, precision=base_relevant / (shoppers * k)),
    )


def evaluate_shop(k=PER_SHOPPER):
    category_of = dict(Product.objects.values_list("pk", "category_id"))
    return evaluate(load_baskets(), category_of=category_of, k=k)
