"""Prices as shoppers pay them: sales and category promotions, and dynamic repricing.

`effective_price` is the one place the cart and checkout ask what a unit costs now. Repricing
moves `Variant.price` itself, within bounds staff set, through `services.change_prices`, which
writes every move to the price history.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.apps import apps
from django.db import transaction
from django.db.models import Min, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from shop.money import quantize

from . import selectors, services
from .models import PriceHistory, PriceRule, Variant

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


# What a unit costs now


@dataclass(frozen=True)
class Offer:
    """The price a shopper pays, and the higher one struck through beside it (or None)."""

    price: Decimal
    was: Decimal | None = None


def _running(starts_at, ends_at, now):
    return (starts_at is None or starts_at <= now) and (ends_at is None or now < ends_at)


def best_promotion_percent(category_id, *, now, tree=None):
    """The largest percentage off running now for the category or any category above it.

    Promotions come cached with the category tree and are checked against the clock on each
    read, so one starts and ends on time without rebuilding anything.
    """
    tree = tree or selectors.category_tree()
    category = tree.by_id.get(category_id)
    if category is None:
        return None
    covered = {category_id, *(ancestor.pk for ancestor in tree.ancestors(category))}
    percents = [
        percent
        for promoted_id, percent, starts_at, ends_at in tree.promotions
        if promoted_id in covered and _running(starts_at, ends_at, now)
    ]
    return max(percents, default=None)


def offer(
    *,
    price,
    category_id,
    compare_at_price=None,
    sale_price=None,
    sale_starts_at=None,
    sale_ends_at=None,
    now=None,
):
    """The best single promotion for one unit: the running sale or the category percentage.

    Promotions never stack; whichever gives the lower price wins, and never raises the price.
    """
    now = now or timezone.now()
    candidates = [price]
    if sale_price is not None and _running(sale_starts_at, sale_ends_at, now):
        candidates.append(sale_price)
    percent = best_promotion_percent(category_id, now=now)
    if percent is not None:
        candidates.append(quantize(price * (HUNDRED - percent) / HUNDRED))
    best = min(candidates)
    if best < price:
        return Offer(price=best, was=max(price, compare_at_price or price))
    return Offer(price=price, was=compare_at_price)


def variant_offer(variant, *, now=None):
    return offer(
        price=variant.price,
        category_id=variant.product.category_id,
        compare_at_price=variant.compare_at_price,
        sale_price=variant.sale_price,
        sale_starts_at=variant.sale_starts_at,
        sale_ends_at=variant.sale_ends_at,
        now=now,
    )


def effective_price(variant, now=None) -> Decimal:
    """What one unit of the variant costs a shopper now, promotions applied."""
    return variant_offer(variant, now=now).price


def card_offer(product, *, now=None):
    """The offer on a product card, from the cheapest variant's figures the listing annotated."""
    return offer(
        price=product.min_price,
        category_id=product.category_id,
        compare_at_price=getattr(product, "compare_at_price", None),
        sale_price=getattr(product, "sale_price", None),
        sale_starts_at=getattr(product, "sale_starts_at", None),
        sale_ends_at=getattr(product, "sale_ends_at", None),
        now=now,
    )


# Dynamic pricing


@dataclass(frozen=True)
class PriceMove:
    """A price change a rule asks for, already held within its bounds."""

    variant: Variant
    rule: PriceRule
    old_price: Decimal
    new_price: Decimal
    reason: str


@dataclass(frozen=True)
class Bounds:
    floor: Decimal
    ceiling: Decimal


def price_bounds(*, cost, compare_at_price, day_start_price, min_margin_percent, max_daily_percent):
    """Where a variant's price may go today.

    Floor: cost plus the minimum margin, and no lower than the day's starting price allows.
    Ceiling: just under the compare-at price (which must stay above the price), and no higher
    than the day's starting price allows. Floor is rounded up and ceiling down, so both hold.
    """
    daily = day_start_price * max_daily_percent / HUNDRED
    floor = max(
        cost * (HUNDRED + min_margin_percent) / HUNDRED,
        day_start_price - daily,
    ).quantize(CENT, rounding=ROUND_CEILING)
    ceiling = day_start_price + daily
    if compare_at_price is not None:
        ceiling = min(ceiling, compare_at_price - CENT)
    return Bounds(floor=floor, ceiling=ceiling.quantize(CENT, rounding=ROUND_FLOOR))


def proposed_price(*, strategy, price, step_percent):
    step = price * step_percent / HUNDRED
    moved = price - step if strategy == PriceRule.Strategy.MARK_DOWN_SLOW else price + step
    return moved.quantize(CENT, rounding=ROUND_HALF_UP)


def bounded_price(*, proposed, current, bounds):
    """The proposal held within bounds, never moving the other way than it asked.

    A price already outside its bounds (set by hand) is left where it is rather than pulled
    across: a mark-down never raises and a raise never lowers.
    """
    if bounds.floor > bounds.ceiling:
        return current
    held = min(max(proposed, bounds.floor), bounds.ceiling)
    return min(held, current) if proposed < current else max(held, current)


def rule_applies(rule, *, units_sold, available):
    if rule.strategy == PriceRule.Strategy.MARK_DOWN_SLOW:
        return available > rule.stock_threshold or units_sold < rule.sales_threshold
    return units_sold >= rule.sales_threshold and 0 < available <= rule.stock_threshold


def _rule_variants(rule):
    variants = Variant.objects.filter(
        is_active=True, product__is_active=True, price_locked=False, cost__isnull=False
    ).select_related("product")
    if rule.product_id:
        return variants.filter(product_id=rule.product_id)
    tree = selectors.load_category_tree()
    category = tree.by_id[rule.category_id]
    return variants.filter(product__category_id__in=tree.subtree_ids(category))


def _units_sold(variant_ids, *, since):
    order_line = apps.get_model("orders", "OrderLine")
    return dict(
        order_line.objects.filter(variant_id__in=variant_ids, order__created_at__gte=since)
        .exclude(order__status__in=(*selectors.UNBOUGHT_ORDER_STATUSES, "refunded"))
        .order_by()
        .values_list("variant_id")
        .annotate(units=Sum("quantity"))
    )


def _day_start_prices(variant_ids, *, now):
    """Each variant's price when the day began: the old price of its first change today.

    Whoever made that change (staff by hand, an import, repricing), so a hand edit followed by
    repricing still moves the price no further than the daily limit from where the day began.
    """
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    first_changes = (
        PriceHistory.objects.filter(
            variant_id__in=variant_ids,
            kind__in=PriceHistory.PRICE_KINDS,
            changed_at__gte=midnight,
        )
        .order_by()
        .values("variant_id")
        .annotate(first=Min("pk"))
        .values_list("first", flat=True)
    )
    return dict(
        PriceHistory.objects.filter(pk__in=list(first_changes)).values_list(
            "variant_id", "old_price"
        )
    )


def preview_rule(rule, *, now=None):
    """The moves a rule would make now, without making them: for staff to check a rule."""
    now = now or timezone.now()
    variants = list(_rule_variants(rule))
    ids = [variant.pk for variant in variants]
    sold = _units_sold(ids, since=now - timedelta(days=rule.window_days))
    day_start = _day_start_prices(ids, now=now)
    moves = []
    for variant in variants:
        units = sold.get(variant.pk, 0)
        if not rule_applies(rule, units_sold=units, available=variant.stock_available):
            continue
        bounds = price_bounds(
            cost=variant.cost,
            compare_at_price=variant.compare_at_price,
            day_start_price=day_start.get(variant.pk, variant.price),
            min_margin_percent=rule.min_margin_percent,
            max_daily_percent=rule.max_daily_change_percent,
        )
        new_price = bounded_price(
            proposed=proposed_price(
                strategy=rule.strategy, price=variant.price, step_percent=rule.step_percent
            ),
            current=variant.price,
            bounds=bounds,
        )
        if new_price != variant.price:
            moves.append(
                PriceMove(
                    variant=variant,
                    rule=rule,
                    old_price=variant.price,
                    new_price=new_price,
                    reason=_("%(rule)s: %(units)s sold in %(days)s days, %(stock)s in stock")
                    % {
                        "rule": rule.get_strategy_display(),
                        "units": units,
                        "days": rule.window_days,
                        "stock": variant.stock_available,
                    },
                )
            )
    return moves


def reprice(*, dry_run=False, now=None):
    """Apply every active rule once; a product's own rules win over its category's.

    Returns the moves made (or that would be made). Safe to run twice a day: the daily limit
    is measured from the price the variant had when the day began.
    """
    now = now or timezone.now()
    rules = PriceRule.objects.filter(is_active=True).order_by("product_id", "pk")
    moves_by_variant = {}
    for rule in sorted(rules, key=lambda rule: rule.product_id is None):
        for move in preview_rule(rule, now=now):
            moves_by_variant.setdefault(move.variant.pk, move)
    moves = list(moves_by_variant.values())
    if dry_run or not moves:
        return moves
    with transaction.atomic():
        # A price changed since the moves were worked out (by hand, say) voids its move:
        # its bounds were measured from a price it no longer has.
        locked = dict(
            Variant.objects.select_for_update()
            .filter(pk__in=list(moves_by_variant), price_locked=False)
            .order_by("pk")
            .values_list("pk", "price")
        )
        moves = [move for move in moves if locked.get(move.variant.pk) == move.old_price]
        services.change_prices(
            changes=[
                services.NewPrice(
                    variant_id=move.variant.pk,
                    price=move.new_price,
                    reason=move.reason,
                    rule=move.rule,
                )
                for move in moves
            ],
            kind=PriceHistory.Kind.REPRICING,
        )
    return moves
