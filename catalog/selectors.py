"""Reads for the storefront: the category tree, listings with their facets, product pages.

Every read here runs a fixed number of queries, whatever the page size or the number of
variants and images. The pages built from them are cached whole (catalog.pagecache); the category
tree and the filter facts, read on every page built, are cached on their own (catalog.cache).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps
from django.core.paginator import EmptyPage, Paginator
from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    prefetch_related_objects,
)

from .cache import cached, memoised
from .models import (
    Attribute,
    AttributeValue,
    Brand,
    Category,
    PersonalRecommendation,
    Product,
    ProductImage,
    Recommendation,
    Review,
    Variant,
)
from .search import product_search

PER_PAGE_CHOICES = (24, 48, 96)
DEFAULT_PER_PAGE = PER_PAGE_CHOICES[0]
HOME_SHELF_SIZE = 8
REVIEWS_SHOWN = 20
# At or below this many units a product page says "Only 3 left".
LOW_STOCK = 5
# Orders in these statuses were never paid for (or were called off): they don't make a buyer.
UNBOUGHT_ORDER_STATUSES = ("pending_payment", "cancelled")

SORTS = {
    "relevance": None,  # by search rank with a query, by units sold without one
    "price": ("min_price", "pk"),
    "-price": ("-min_price", "-pk"),
    "newest": ("-created_at", "-pk"),
    "rating": (F("rating_average").desc(nulls_last=True), "-rating_count", "-pk"),
}
DEFAULT_SORT = "relevance"
BESTSELLING = ("-units_sold", "-created_at", "-pk")


# The category tree


class CategoryTree:
    """Every category in memory: the tree is small and read on every page, so it is cached whole.

    A category is visible when it and all its ancestors are active; products filed under a
    hidden category are not listed.
    """

    def __init__(self, categories, promotions=()):
        # Active category promotions as (category id, percent off, starts, ends).
        self.promotions = list(promotions)
        self.by_id = {category.pk: category for category in categories}
        self._children = defaultdict(list)
        for category in categories:
            self._children[category.parent_id].append(category)
        self.visible_ids = set()
        self.depth = {}
        stack = [(root, 0) for root in self._children[None] if root.is_active]
        while stack:
            category, depth = stack.pop()
            if category.pk in self.visible_ids:
                continue
            self.visible_ids.add(category.pk)
            self.depth[category.pk] = depth
            stack.extend(
                (child, depth + 1) for child in self._children[category.pk] if child.is_active
            )
        self.by_slug = {
            category.slug: category for category in categories if category.pk in self.visible_ids
        }
        self.has_hidden = len(self.visible_ids) < len(self.by_id)

    @property
    def roots(self):
        return self.children(None)

    def children(self, category):
        parent_id = category.pk if category is not None else None
        return [child for child in self._children[parent_id] if child.pk in self.visible_ids]

    def subtree_ids(self, category):
        """The category and every visible category below it."""
        ids, stack = [], [category]
        while stack:
            current = stack.pop()
            if current.pk in ids:
                continue
            ids.append(current.pk)
            stack.extend(self.children(current))
        return ids

    def ancestors(self, category):
        """From the top of the tree down to the category's parent."""
        chain, seen = [], {category.pk}
        parent = self.by_id.get(category.parent_id)
        while parent is not None and parent.pk not in seen:
            chain.append(parent)
            seen.add(parent.pk)
            parent = self.by_id.get(parent.parent_id)
        return chain[::-1]

    def in_tree_order(self):
        """Every category (hidden ones too), each followed by its children: for admin."""
        ordered, seen = [], set()
        stack = list(reversed(self._children[None]))
        while stack:
            category = stack.pop()
            if category.pk in seen:
                continue
            seen.add(category.pk)
            ordered.append(category)
            stack.extend(reversed(self._children[category.pk]))
        # Categories caught in a parent loop are not reachable from the top: list them last.
        ordered.extend(category for pk, category in self.by_id.items() if pk not in seen)
        return ordered

    def level(self, category):
        """Depth below the top of the tree, hidden categories included."""
        return len(self.ancestors(category))


def load_category_tree():
    """The tree and its promotions in one query: every price shown depends on both.

    A category with several promotions comes back once per promotion; the duplicates fold.
    """
    rows = (
        Category.objects.only(
            "pk", "parent_id", "name", "slug", "description", "image", "position", "is_active"
        )
        .annotate(
            live=FilteredRelation("promotions", condition=Q(promotions__is_active=True)),
            promotion_percent=F("live__percent_off"),
            promotion_starts_at=F("live__starts_at"),
            promotion_ends_at=F("live__ends_at"),
        )
        .order_by("position", "name", "pk")
    )
    categories, promotions = {}, []
    for category in rows:
        categories.setdefault(category.pk, category)
        if category.promotion_percent is not None:
            promotions.append(
                (
                    category.pk,
                    category.promotion_percent,
                    category.promotion_starts_at,
                    category.promotion_ends_at,
                )
            )
    return CategoryTree(list(categories.values()), promotions)


def category_tree():
    """The cached tree, read once per request however many cards ask for their promotion."""
    return memoised("tree", lambda: cached("tree", "", load_category_tree))


# What shoppers can filter by


@dataclass
class FilterFacts:
    """Brands and attributes with their values, to turn slugs in a URL into ids."""

    brands: list
    attributes: list  # each with `.choices`, its values in order

    def __post_init__(self):
        self.brand_by_slug = {brand.slug: brand for brand in self.brands}
        self.brand_by_id = {brand.pk: brand for brand in self.brands}
        self.value_by_id = {
            value.pk: value for attribute in self.attributes for value in attribute.choices
        }


def load_filter_facts():
    attributes = list(
        Attribute.objects.prefetch_related(
            Prefetch("values", queryset=AttributeValue.objects.order_by("position", "value"))
        )
    )
    for attribute in attributes:
        attribute.choices = list(attribute.values.all())
        attribute._prefetched_objects_cache = {}
    return FilterFacts(brands=list(Brand.objects.only("pk", "name", "slug")), attributes=attributes)


def filter_facts():
    return cached("facts", "", load_filter_facts)


# Listings


@dataclass(frozen=True)
class ListingQuery:
    """What a listing shows, normalised: equal queries are the same cached page."""

    category_id: int | None = None
    q: str = ""
    brand_ids: tuple = ()
    # ((attribute id, (value id, ...)), ...): values of one attribute are alternatives.
    value_ids: tuple = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    in_stock: bool = False
    sort: str = DEFAULT_SORT
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def has_filters(self):
        return bool(
            self.brand_ids
            or self.value_ids
            or self.price_min is not None
            or self.price_max is not None
            or self.in_stock
        )

    @property
    def is_filtered(self):
        return bool(self.q) or self.has_filters


@dataclass
class FacetOption:
    value: str
    label: str
    count: int
    selected: bool


@dataclass
class Facet:
    name: str  # the query parameter
    label: str
    options: list


@dataclass
class Listing:
    query: ListingQuery
    count: int
    in_stock_count: int
    num_pages: int
    page: object = None  # a django.core.paginator.Page of products; None past the last page
    categories: list = field(default_factory=list)  # [(category, count)] one level down
    brands: Facet | None = None
    attributes: list = field(default_factory=list)


def product_listing(query, *, tree, facts):
    """One page of products for `query`, with counts for every facet.

    Each facet is counted with every filter applied except its own, so its counts say how many
    products the shopper gets by ticking an option (values of one facet are alternatives).
    Queries: a search's SKU lookup, totals, one page of products and their cover images,
    categories, brands, and attribute values (one more per attribute the shopper filtered by).
    """
    filters = Filters(query, tree)
    totals = filters.products(skip="in_stock").aggregate(
        all=Count("pk"), in_stock=Count("pk", filter=Q(in_stock=True))
    )
    count = totals["in_stock"] if query.in_stock else totals["all"]
    paginator = Paginator(range(count), query.per_page)
    listing = Listing(
        query=query,
        count=count,
        in_stock_count=totals["in_stock"],
        num_pages=paginator.num_pages,
    )
    try:
        page = paginator.page(query.page)
    except EmptyPage:
        return listing
    products = _with_card_data(filters.ordered())
    page.object_list = list(products[page.start_index() - 1 : page.end_index()] if count else [])
    listing.page = page
    listing.categories = _category_facet(filters)
    listing.brands = _brand_facet(filters, facts)
    listing.attributes = _attribute_facets(filters, facts)
    return listing


class Filters:
    """A listing query's filters, applied all together or all but one."""

    def __init__(self, query, tree):
        self.query = query
        self.tree = tree
        self.search = product_search(query.q) if query.q else None

    def products(self, *, skip=None):
        """Active, visible products matching the query, leaving out the filter named `skip`."""
        query, tree = self.query, self.tree
        products = Product.objects.filter(is_active=True)
        if tree.has_hidden:
            products = products.filter(category_id__in=tree.visible_ids)
        if self.search is not None:
            products = products.filter(self.search.condition)
        if query.category_id is not None and skip != "category":
            products = products.filter(
                category_id__in=tree.subtree_ids(tree.by_id[query.category_id])
            )
        if query.brand_ids and skip != "brand":
            products = products.filter(brand_id__in=query.brand_ids)
        through = Product.attributes.through
        for attribute_id, value_ids in query.value_ids:
            if skip != attribute_id:
                products = products.filter(
                    Exists(
                        through.objects.filter(
                            product_id=OuterRef("pk"), attributevalue_id__in=value_ids
                        )
                    )
                )
        if query.price_min is not None:
            products = products.filter(min_price__gte=query.price_min)
        if query.price_max is not None:
            products = products.filter(min_price__lte=query.price_max)
        if query.in_stock and skip != "in_stock":
            products = products.filter(in_stock=True)
        return products

    def ordered(self):
        products = self.products()
        if self.query.sort == "relevance" and self.search is not None:
            return products.annotate(rank=self.search.rank).order_by("-rank", "-pk")
        return products.order_by(*(SORTS.get(self.query.sort) or BESTSELLING))


def _card_figures(product_ref, min_price_ref):
    """Annotations a product card needs from the cheapest variant: its compare-at price and
    sale, and whether other variants cost more ("from …")."""
    cheapest = Variant.objects.filter(product=OuterRef(product_ref), is_active=True).order_by(
        "price", "position", "pk"
    )
    return {
        "compare_at_price": Subquery(cheapest.values("compare_at_price")[:1]),
        "sale_price": Subquery(cheapest.values("sale_price")[:1]),
        "sale_starts_at": Subquery(cheapest.values("sale_starts_at")[:1]),
        "sale_ends_at": Subquery(cheapest.values("sale_ends_at")[:1]),
        "has_price_range": Exists(cheapest.filter(price__gt=OuterRef(min_price_ref))),
    }


def _with_card_data(products):
    """What a product card shows: brand, cover image and the cheapest variant's figures."""
    return (
        products.select_related("brand")
        .defer("description", "search_vector")
        .annotate(**_card_figures("pk", "min_price"))
        .prefetch_related(
            Prefetch(
                "images",
                queryset=ProductImage.objects.order_by("position", "pk")[:1],
                to_attr="covers",
            )
        )
    )


def _category_facet(filters):
    tree = filters.tree
    children = tree.children(tree.by_id.get(filters.query.category_id))
    if not children:
        return []
    counts = dict(
        filters.products(skip="category")
        .order_by()
        .values_list("category_id")
        .annotate(count=Count("pk"))
    )
    facet = [
        (child, sum(counts.get(pk, 0) for pk in tree.subtree_ids(child))) for child in children
    ]
    return [(child, count) for child, count in facet if count]


def _brand_facet(filters, facts):
    counts = dict(
        filters.products(skip="brand")
        .order_by()
        .values_list("brand_id")
        .annotate(count=Count("pk"))
    )
    chosen = filters.query.brand_ids
    options = [
        FacetOption(
            value=brand.slug,
            label=brand.name,
            count=counts.get(brand.pk, 0),
            selected=brand.pk in chosen,
        )
        for brand in facts.brands
        if counts.get(brand.pk) or brand.pk in chosen
    ]
    return Facet(name="brand", label="", options=options)


def _attribute_facets(filters, facts):
    through = Product.attributes.through
    filtered_by = dict(filters.query.value_ids)

    def value_counts(products, value_ids=None):
        rows = through.objects.filter(product_id__in=products.order_by().values("pk"))
        if value_ids is not None:
            rows = rows.filter(attributevalue_id__in=value_ids)
        return dict(rows.order_by().values_list("attributevalue_id").annotate(count=Count("pk")))

    counts = value_counts(filters.products())
    for attribute in facts.attributes:
        if attribute.pk in filtered_by:
            counts.update(
                value_counts(
                    filters.products(skip=attribute.pk),
                    [value.pk for value in attribute.choices],
                )
            )
    facets = []
    for attribute in facts.attributes:
        selected = filtered_by.get(attribute.pk, ())
        options = [
            FacetOption(
                value=value.slug,
                label=value.value,
                count=counts.get(value.pk, 0),
                selected=value.pk in selected,
            )
            for value in attribute.choices
            if counts.get(value.pk) or value.pk in selected
        ]
        if options:
            facets.append(Facet(name=attribute.slug, label=attribute.name, options=options))
    return facets


# Home page


@dataclass
class Home:
    categories: list
    new_arrivals: list
    bestsellers: list


def home_page(*, tree):
    products = _with_card_data(Filters(ListingQuery(), tree).products())
    return Home(
        categories=tree.roots,
        new_arrivals=list(products.order_by("-created_at", "-pk")[:HOME_SHELF_SIZE]),
        bestsellers=list(
            products.filter(units_sold__gt=0).order_by(*BESTSELLING)[:HOME_SHELF_SIZE]
        ),
    )


def recommended_for(user, *, tree):
    """A signed-in shopper's picks from `build_recommendations`, as cards, in one query."""
    picks = PersonalRecommendation.objects.filter(user=user).order_by("rank")
    return _recommended_cards(picks, "product", tree=tree, limit=HOME_SHELF_SIZE)


def _recommended_cards(rows, field_name, *, tree, limit=None):
    """The products that precomputed rows point to, ready for cards, in a single query.

    Products gone inactive, hidden or out of stock since the last build are left out here,
    so they are never shown even before the next build. The cover image is annotated rather
    than prefetched, to keep it to one query.
    """
    rows = rows.filter(
        **{f"{field_name}__is_active": True, f"{field_name}__in_stock": True}
    ).select_related(f"{field_name}__brand")
    if tree.has_hidden:
        rows = rows.filter(**{f"{field_name}__category_id__in": tree.visible_ids})
    cover = ProductImage.objects.filter(product=OuterRef(f"{field_name}_id")).order_by(
        "position", "pk"
    )
    figures = _card_figures(f"{field_name}_id", f"{field_name}__min_price")
    rows = rows.defer(f"{field_name}__description", f"{field_name}__search_vector").annotate(
        **{f"card_{name}": value for name, value in figures.items()},
        cover_image=Subquery(cover.values("image")[:1]),
        cover_card=Subquery(cover.values("card")[:1]),
        cover_alt=Subquery(cover.values("alt")[:1]),
    )
    cards = []
    for row in rows[:limit]:
        product = getattr(row, field_name)
        for name in figures:
            setattr(product, name, getattr(row, f"card_{name}"))
        product.covers = (
            [ProductImage(image=row.cover_image, card=row.cover_card, alt=row.cover_alt)]
            if row.cover_image
            else []
        )
        product.recommendation_kind = getattr(row, "kind", None)
        cards.append(product)
    return cards


# Product page


@dataclass
class ProductPage:
    product: Product
    variants: list  # active ones, each with its options
    images: list
    specs: list  # [(attribute name, [values])]
    reviews: list  # the latest ones
    breadcrumbs: list  # categories from the top of the tree down to the product's
    bought_together: list = field(default_factory=list)
    viewed_together: list = field(default_factory=list)
    similar: list = field(default_factory=list)

    @property
    def cheapest(self):
        return min(self.variants, key=lambda variant: variant.price, default=None)

    @property
    def highest_price(self):
        return max((variant.price for variant in self.variants), default=None)

    @property
    def has_price_range(self):
        return self.cheapest is not None and self.cheapest.price != self.highest_price

    @property
    def in_stock(self):
        return self.first_available is not None

    @property
    def first_available(self):
        return next((variant for variant in self.variants if variant.is_available), None)


def product_page(slug, *, tree, include_inactive=False):
    """Queries: the product, its variants, their options, images, attributes, reviews and
    the precomputed recommendations."""
    product = (
        Product.objects.select_related("brand", "category")
        .defer("search_vector")
        .filter(slug=slug)
        .first()
    )
    visible = product is not None and product.is_active and product.category_id in tree.visible_ids
    if product is None or not (visible or include_inactive):
        return None
    with_attribute = AttributeValue.objects.select_related("attribute")
    prefetch_related_objects(
        [product],
        Prefetch(
            "variants",
            queryset=Variant.objects.filter(is_active=True)
            .order_by("position", "pk")
            .prefetch_related(Prefetch("options", queryset=with_attribute)),
            to_attr="active_variants",
        ),
        Prefetch(
            "images", queryset=ProductImage.objects.order_by("position", "pk"), to_attr="gallery"
        ),
        Prefetch(
            "attributes",
            queryset=with_attribute.order_by(
                "attribute__position", "attribute__name", "position", "value"
            ),
            to_attr="attribute_values",
        ),
    )
    specs = defaultdict(list)
    for value in product.attribute_values:
        specs[value.attribute.name].append(value.value)
    category = tree.by_id.get(product.category_id, product.category)
    recommended = _recommended_cards(
        Recommendation.objects.filter(product=product).order_by("kind", "rank"),
        "recommended",
        tree=tree,
    )
    return ProductPage(
        product=product,
        variants=product.active_variants,
        images=product.gallery,
        specs=list(specs.items()),
        reviews=list(
            product.reviews.select_related("user").only(
                "pk",
                "rating",
                "title",
                "body",
                "created_at",
                "product_id",
                "user__first_name",
                "user__last_name",
            )[:REVIEWS_SHOWN]
        ),
        breadcrumbs=[*tree.ancestors(category), category],
        bought_together=[
            card
            for card in recommended
            if card.recommendation_kind == Recommendation.Kind.BOUGHT_TOGETHER
        ],
        viewed_together=[
            card
            for card in recommended
            if card.recommendation_kind == Recommendation.Kind.VIEWED_TOGETHER
        ],
        similar=[
            card for card in recommended if card.recommendation_kind == Recommendation.Kind.SIMILAR
        ],
    )


# Reviews


class ReviewState:
    SIGN_IN = "sign_in"
    NOT_BOUGHT = "not_bought"
    REVIEWED = "reviewed"
    CAN_REVIEW = "can_review"


def active_product(slug):
    return Product.objects.filter(slug=slug, is_active=True).defer("search_vector").first()


def has_bought(user, product):
    """Whether the shopper has an order of this product that went ahead (paid or on its way)."""
    order_line = apps.get_model("orders", "OrderLine")
    return (
        order_line.objects.filter(order__user=user, variant__product=product)
        .exclude(order__status__in=UNBOUGHT_ORDER_STATUSES)
        .exists()
    )


def has_reviewed(user, product):
    return product.reviews.filter(user=user).exists()


def review_state(user, slug):
    """What the product page offers this shopper under the reviews.

    It is part of the cached product page's key, so it runs on every signed-in product page,
    in SQL: the ORM spends several times longer building these queries than PostgreSQL takes
    to answer them. A shopper with no order that went ahead and no review (most who browse)
    is settled by a query on their own rows; the others by one on this product.
    """
    if not user.is_authenticated:
        return ReviewState.SIGN_IN
    order_line = apps.get_model("orders", "OrderLine")
    order = order_line._meta.get_field("order").related_model
    unbought = ", ".join(["%s"] * len(UNBOUGHT_ORDER_STATUSES))
    anything = f"""
        SELECT
            EXISTS (SELECT 1 FROM {Review._meta.db_table} WHERE user_id = %s)
            OR EXISTS (SELECT 1 FROM {order._meta.db_table}
                       WHERE user_id = %s AND status NOT IN ({unbought}))
    """  # noqa: S608 - table names from the models, values as parameters
    this_product = f"""
        SELECT
            EXISTS (SELECT 1 FROM {Review._meta.db_table} review
                    WHERE review.product_id = product.id AND review.user_id = %s),
            EXISTS (SELECT 1 FROM {order_line._meta.db_table} line
                    JOIN {order._meta.db_table} placed ON placed.id = line.order_id
                    JOIN {Variant._meta.db_table} variant ON variant.id = line.variant_id
                    WHERE variant.product_id = product.id AND placed.user_id = %s
                      AND placed.status NOT IN ({unbought}))
        FROM {Product._meta.db_table} product WHERE product.slug = %s
    """  # noqa: S608 - table names from the models, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(anything, [user.pk, user.pk, *UNBOUGHT_ORDER_STATUSES])
        if not cursor.fetchone()[0]:
            return ReviewState.NOT_BOUGHT
        cursor.execute(this_product, [user.pk, user.pk, *UNBOUGHT_ORDER_STATUSES, slug])
        reviewed, bought = cursor.fetchone() or (False, False)
    if reviewed:
        return ReviewState.REVIEWED
    return ReviewState.CAN_REVIEW if bought else ReviewState.NOT_BOUGHT


def menu_categories():
    return category_tree().roots
