"""Catalog: the category tree, brands, products with their variants, images and reviews."""

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
