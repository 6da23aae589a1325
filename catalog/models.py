"""Catalog: the category tree, brands, products with their variants, images and reviews,
and what prices and recommends them: promotions, price rules and precomputed recommendations.
"""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=140, unique=True)
    description = models.TextField(_("description"), blank=True)
    image = models.ImageField(_("image"), upload_to="categories/", blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "name"]
        indexes = [models.Index(fields=["parent", "position"])]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:category", args=[self.slug])


class Brand(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    slug = models.SlugField(_("slug"), max_length=140, unique=True)

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Attribute(models.Model):
    """A property shoppers filter by, such as colour, material or size."""

    name = models.CharField(_("name"), max_length=60)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("attribute")
        verbose_name_plural = _("attributes")
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class AttributeValue(models.Model):
    attribute = models.ForeignKey(Attribute, on_delete=models.CASCADE, related_name="values")
    value = models.CharField(_("value"), max_length=60)
    slug = models.SlugField(_("slug"), max_length=60)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("attribute value")
        verbose_name_plural = _("attribute values")
        ordering = ["attribute__position", "position", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["attribute", "slug"], name="unique_attribute_value_slug"
            )
        ]

    def __str__(self):
        return f"{self.attribute.name}: {self.value}"


class Product(models.Model):
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=220, unique=True)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="products", verbose_name=_("category")
    )
    brand = models.ForeignKey(
        Brand,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="products",
        verbose_name=_("brand"),
    )
    attributes = models.ManyToManyField(
        AttributeValue, blank=True, related_name="products", verbose_name=_("attributes")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Kept up to date by catalog.services from the variants and reviews, so listings
    # can filter and sort on them without joins or aggregates.
    min_price = models.DecimalField(_("from price"), max_digits=10, decimal_places=2, default=0)
    in_stock = models.BooleanField(_("in stock"), default=False)
    rating_average = models.DecimalField(
        _("average rating"), max_digits=3, decimal_places=2, null=True, blank=True
    )
    rating_count = models.PositiveIntegerField(_("reviews"), default=0)
    units_sold = models.PositiveIntegerField(_("units sold"), default=0)
    # Title (weight A) and description (weight B) as PostgreSQL full-text lexemes, written by
    # a database trigger (migration 0003) so bulk writes keep it right too; unused on SQLite.
    # That migration also adds the GIN indexes for search and the best-rated sort's index.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["is_active", "category", "-created_at"]),
            models.Index(fields=["is_active", "min_price"]),
            models.Index(fields=["is_active", "-created_at"]),
            models.Index(fields=["is_active", "-rating_average"]),
            models.Index(fields=["is_active", "-units_sold"]),
            models.Index(fields=["brand", "is_active"]),
            models.Index(fields=["is_active", "in_stock"], name="product_active_in_stock"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("catalog:product_detail", args=[self.slug])


class UnitsSold(models.Model):
    """Units an order sold of a product (negative when cancelled), not yet in `units_sold`.

    Checkouts append these rows instead of updating `Product.units_sold`: a bestseller's
    product row would otherwise be a hot row every order of it waits for. The
    `fold_units_sold` task adds them into the products every minute and deletes them.
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    units = models.IntegerField()

    class Meta:
        verbose_name = _("units sold, to count")
        verbose_name_plural = _("units sold, to count")
        constraints = [models.CheckConstraint(condition=~Q(units=0), name="units_sold_not_zero")]

    def __str__(self):
        return f"{self.product_id}: {self.units:+d}"


class Variant(models.Model):
    """A thing a shopper can put in a cart: one SKU with its own price and stock."""

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="variants", verbose_name=_("product")
    )
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=120, blank=True)
    options = models.ManyToManyField(
        AttributeValue, blank=True, related_name="variants", verbose_name=_("options")
    )
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2)
    compare_at_price = models.DecimalField(
        _("compare-at price"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    weight_grams = models.PositiveIntegerField(_("weight (g)"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    # Units that can still be sold, summed over warehouses; shipping's stock services
    # keep it equal to sum(on_hand - reserved) in the same transaction as each change.
    stock_available = models.IntegerField(_("available"), default=0)
    # What a unit costs the shop: dynamic pricing never goes below it plus a minimum margin.
    cost = models.DecimalField(_("cost"), max_digits=10, decimal_places=2, null=True, blank=True)
    price_locked = models.BooleanField(
        _("price locked"), default=False, help_text=_("Dynamic pricing never changes it.")
    )
    sale_price = models.DecimalField(
        _("sale price"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    sale_starts_at = models.DateTimeField(_("sale starts"), null=True, blank=True)
    sale_ends_at = models.DateTimeField(_("sale ends"), null=True, blank=True)

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering = ["product", "position", "pk"]
        indexes = [
            # SKU search ignores case (`sku__iexact`).
            models.Index(Upper("sku"), name="variant_sku_upper"),
            models.Index(fields=["product", "is_active", "price"], name="variant_cheapest"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="variant_price_not_negative"),
            models.CheckConstraint(
                condition=Q(compare_at_price__isnull=True) | Q(compare_at_price__gt=F("price")),
                name="variant_compare_at_above_price",
            ),
            models.CheckConstraint(
                condition=Q(sale_price__isnull=True) | Q(sale_price__gte=0),
                name="variant_sale_price_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(sale_ends_at__isnull=True)
                | Q(sale_starts_at__isnull=True)
                | Q(sale_ends_at__gt=F("sale_starts_at")),
                name="variant_sale_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(cost__isnull=True) | Q(cost__gte=0), name="variant_cost_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.product.title} – {self.name}" if self.name else self.product.title

    @property
    def is_available(self):
        return self.is_active and self.stock_available > 0

    @property
    def label(self):
        """What a shopper picks: the variant's name, else its options ("Red / M")."""
        return self.name or " / ".join(option.value for option in self.options.all())


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(_("image"), upload_to="products/")
    thumbnail = models.ImageField(upload_to="products/thumbs/", blank=True, editable=False)
    card = models.ImageField(upload_to="products/cards/", blank=True, editable=False)
    alt = models.CharField(_("alternative text"), max_length=200, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("product image")
        verbose_name_plural = _("product images")
        ordering = ["product", "position", "pk"]
        indexes = [models.Index(fields=["product", "position"], name="product_image_order")]

    def __str__(self):
        return self.alt or self.image.name


class Review(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reviews")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews"
    )
    rating = models.PositiveSmallIntegerField(_("rating"))
    title = models.CharField(_("title"), max_length=120, blank=True)
    body = models.TextField(_("review"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["product", "-created_at"], name="review_latest")]
        constraints = [
            models.UniqueConstraint(fields=["product", "user"], name="one_review_per_shopper"),
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_to_5"
            ),
        ]

    def __str__(self):
        return f"{self.product} – {self.rating}★"

    @property
    def author_name(self):
        """First name and initial: enough to trust a review, too little to find the shopper."""
        initial = f" {self.user.last_name[:1]}." if self.user.last_name else ""
        return f"{self.user.first_name}{initial}".strip()


class CategoryPromotion(models.Model):
    """A percentage off every product in a category and its subcategories, for a while."""

    name = models.CharField(_("name"), max_length=120)
    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="promotions", verbose_name=_("category")
    )
    percent_off = models.DecimalField(_("percent off"), max_digits=5, decimal_places=2)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category promotion")
        verbose_name_plural = _("category promotions")
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(percent_off__gt=0) & Q(percent_off__lt=100),
                name="promotion_percent_between_0_and_100",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="promotion_ends_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.name} (−{self.percent_off}%)"


class PriceRule(models.Model):
    """How dynamic pricing moves the prices of one product's or one category's variants."""

    class Strategy(models.TextChoices):
        MARK_DOWN_SLOW = "mark_down_slow", _("Mark down overstocked or slow sellers")
        RAISE_FAST = "raise_fast", _("Raise fast sellers with little stock left")

    name = models.CharField(_("name"), max_length=120)
    strategy = models.CharField(_("strategy"), max_length=30, choices=Strategy.choices)
    product = models.ForeignKey(
        Product,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="price_rules",
        verbose_name=_("product"),
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="price_rules",
        verbose_name=_("category"),
    )
    # A variant is slow with fewer units sold than this over the window, fast with at least as many.
    sales_threshold = models.PositiveIntegerField(_("units sold in the window"), default=5)
    window_days = models.PositiveIntegerField(_("window (days)"), default=30)
    # Overstocked above this many units available; "little stock left" at or below it.
    stock_threshold = models.PositiveIntegerField(_("stock threshold"), default=50)
    step_percent = models.DecimalField(_("step (%)"), max_digits=5, decimal_places=2, default=5)
    min_margin_percent = models.DecimalField(
        _("minimum margin over cost (%)"), max_digits=6, decimal_places=2, default=10
    )
    max_daily_change_percent = models.DecimalField(
        _("maximum change per day (%)"), max_digits=5, decimal_places=2, default=10
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("price rule")
        verbose_name_plural = _("price rules")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(product__isnull=True) ^ Q(category__isnull=True),
                name="price_rule_targets_product_or_category",
            ),
            models.CheckConstraint(
                condition=Q(step_percent__gt=0) & Q(step_percent__lt=100),
                name="price_rule_step_between_0_and_100",
            ),
            models.CheckConstraint(
                condition=Q(max_daily_change_percent__gt=0) & Q(max_daily_change_percent__lt=100),
                name="price_rule_daily_change_between_0_and_100",
            ),
            models.CheckConstraint(
                condition=Q(min_margin_percent__gte=0), name="price_rule_margin_not_negative"
            ),
        ]

    def __str__(self):
        return self.name


class PriceHistoryIsFinal(Exception):
    """Price history is only ever added to: a row once written is never changed or deleted."""

    def __init__(self):
        super().__init__(_("Price history can't be changed or deleted."))


class PriceHistoryQuerySet(models.QuerySet):
    """Refuses the bulk writes that would rewrite or erase history."""

    def update(self, **kwargs):
        raise PriceHistoryIsFinal()

    def delete(self):
        raise PriceHistoryIsFinal()


class PriceHistory(models.Model):
    """One price change, who made it and why: the record repricing's daily limit counts from.

    Rows of the kinds in `PRICE_KINDS` move a variant's regular price; a sale row records a
    variant's sale price and window; a promotion row records a category promotion being
    created, changed or deleted. Written only by catalog.services; never changed or deleted,
    which is also why the variants, categories and users they name are protected or kept.
    """

    class Kind(models.TextChoices):
        MANUAL = "manual", _("Changed by hand")
        IMPORT = "import", _("Catalog import")
        REPRICING = "repricing", _("Dynamic pricing")
        SALE = "sale", _("Sale")
        PROMOTION = "promotion", _("Category promotion")

    PRICE_KINDS = (Kind.MANUAL, Kind.IMPORT, Kind.REPRICING)

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    variant = models.ForeignKey(
        Variant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="price_history",
        verbose_name=_("variant"),
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="price_history",
        verbose_name=_("category"),
    )
    old_price = models.DecimalField(
        _("old price"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    new_price = models.DecimalField(
        _("new price"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    rule = models.ForeignKey(
        PriceRule,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="changes",
        verbose_name=_("rule"),
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    reason = models.CharField(_("reason"), max_length=255)
    changed_at = models.DateTimeField(_("changed"), auto_now_add=True)

    objects = PriceHistoryQuerySet.as_manager()

    class Meta:
        verbose_name = _("price change")
        verbose_name_plural = _("price history")
        ordering = ["-changed_at", "-pk"]
        # Only "view": no role, however broad, can be given a way to add, edit or delete rows.
        default_permissions = ("view",)
        indexes = [models.Index(fields=["variant", "-changed_at"], name="price_history_latest")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        kind__in=["manual", "import", "repricing"],
                        variant__isnull=False,
                        category__isnull=True,
                        old_price__isnull=False,
                        new_price__isnull=False,
                    )
                    | Q(kind="sale", variant__isnull=False, category__isnull=True)
                    | Q(
                        kind="promotion",
                        variant__isnull=True,
                        category__isnull=False,
                        old_price__isnull=True,
                        new_price__isnull=True,
                    )
                ),
                name="price_history_kind_names_its_subject",
            ),
            models.CheckConstraint(
                condition=Q(rule__isnull=True) | Q(kind="repricing"),
                name="price_history_rule_only_for_repricing",
            ),
        ]

    def __str__(self):
        if self.kind == self.Kind.PROMOTION:
            return f"{self.category}: {self.reason}"
        return f"{self.variant}: {self.old_price or '—'} → {self.new_price or '—'}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PriceHistoryIsFinal()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PriceHistoryIsFinal()


class Recommendation(models.Model):
    """A product shown on another's page, precomputed by `build_recommendations`."""

    class Kind(models.TextChoices):
        BOUGHT_TOGETHER = "bought_together", _("Frequently bought together")
        SIMILAR = "similar", _("Similar products")
        VIEWED_TOGETHER = "viewed_together", _("Shoppers who viewed this also viewed")

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="recommendations")
    recommended = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    score = models.FloatField()
    rank = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = _("recommendation")
        verbose_name_plural = _("recommendations")
        ordering = ["product", "kind", "rank"]
        indexes = [models.Index(fields=["product", "kind", "rank"], name="recommendation_order")]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "kind", "recommended"], name="one_recommendation_per_pair"
            )
        ]

    def __str__(self):
        return f"{self.product_id} → {self.recommended_id} ({self.kind})"


class PersonalRecommendation(models.Model):
    """A product picked for one shopper from their own history, for the home page."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recommendations"
    )
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    rank = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = _("personal recommendation")
        verbose_name_plural = _("personal recommendations")
        ordering = ["user", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["user", "product"], name="one_pick_per_shopper")
        ]

    def __str__(self):
        return f"{self.user_id} → {self.product_id}"


class ProductView(models.Model):
    """A session looked at a product on a day, for "shoppers who viewed this also viewed".

    The session is kept only as a keyed hash (`catalog.services.session_hash`): views can be
    grouped by session, but a stored row cannot be turned back into a session cookie. One row
    per session, product and day, whatever the number of visits, so reloads weigh nothing.
    """

    session_hash = models.CharField(max_length=64)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        verbose_name = _("product view")
        verbose_name_plural = _("product views")
        indexes = [models.Index(fields=["day"], name="product_view_day")]
        constraints = [
            models.UniqueConstraint(
                fields=["session_hash", "product", "day"], name="one_view_per_session_and_day"
            )
        ]

    def __str__(self):
        return f"{self.session_hash[:8]} → {self.product_id} ({self.day})"
