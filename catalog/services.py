"""Catalog actions: what changes products, variants, images, reviews, their figures and views."""

from decimal import Decimal
from io import BytesIO
from pathlib import PurePath

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    Exists,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Greatest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from . import selectors
from .cache import invalidate_catalog
from .models import Product, ProductImage, ProductView, Review, Variant

# Image sizes the pages show (twice their CSS size, for sharp screens): thumbnails in the
# gallery strip, cards in listings and as the product page's main picture.
THUMBNAIL_SIZE = 160
CARD_SIZE = 480
JPEG_QUALITY = 85


class InvalidImage(Exception):
    """The file is not an image Pillow can read."""


class ReviewNotAllowed(Exception):
    """The shopper may not review this product: they never bought it, or already reviewed it."""


def update_availability(*, variant_ids):
    """Recompute the available units of these variants from their stock rows.

    Shipping's stock services call this inside the transaction that changed the stock, so
    `Variant.stock_available` and `Product.in_stock` never disagree with the stock levels.
    Only active warehouses count: reservations never take stock from the others.
    """
    variant_ids = list(variant_ids)
    sellable_from = Q(stock_levels__warehouse__is_active=True)
    free_units = (
        Variant.objects.filter(pk=OuterRef("pk"))
        .annotate(
            free=Sum("stock_levels__on_hand", filter=sellable_from)
            - Sum("stock_levels__reserved", filter=sellable_from)
        )
        .values("free")
    )
    Variant.objects.filter(pk__in=variant_ids).update(
        stock_available=Coalesce(Subquery(free_units), 0)
    )
    sellable = Variant.objects.filter(product=OuterRef("pk"), is_active=True, stock_available__gt=0)
    Product.objects.filter(variants__in=variant_ids).update(in_stock=Exists(sellable))
    invalidate_catalog()


def refresh_product_figures(*, product_ids):
    """Recompute the figures listings filter and sort on, from variants and reviews.

    `min_price` is the cheapest active variant's price (0 without one), `in_stock` whether an
    active variant can be sold, and the rating figures summarise the product's reviews.
    Units sold are counted as orders are placed and cancelled (`record_units_sold`).
    """
    active = Variant.objects.filter(product=OuterRef("pk"), is_active=True)
    cheapest = active.order_by().values("product").annotate(low=Min("price")).values("low")
    reviews = Review.objects.filter(product=OuterRef("pk")).order_by().values("product")
    average = reviews.annotate(
        average=Cast(Avg("rating"), DecimalField(max_digits=3, decimal_places=2))
    ).values("average")
    count = reviews.annotate(count=Count("pk")).values("count")
    with transaction.atomic():
        Product.objects.filter(pk__in=list(product_ids)).update(
            min_price=Coalesce(Subquery(cheapest), Value(Decimal("0.00"))),
            in_stock=Exists(active.filter(stock_available__gt=0)),
            rating_average=Subquery(average),
            rating_count=Coalesce(Subquery(count), Value(0), output_field=IntegerField()),
        )
        invalidate_catalog()


def record_units_sold(*, quantities):
    """Count units sold per product for the bestsellers: `quantities` maps product id to units.

    Orders add what they sell and take it back when cancelled (negative units); the count
    never drops below zero. Rows are updated in id order, so two checkouts selling the same
    products queue up instead of deadlocking.
    """
    changes = {product_id: units for product_id, units in quantities.items() if units}
    if not changes:
        return
    with transaction.atomic():
        for product_id in sorted(changes):
            Product.objects.filter(pk=product_id).update(
                units_sold=Greatest(
                    F("units_sold") + changes[product_id], Value(0), output_field=IntegerField()
                )
            )
        invalidate_catalog()


# Images


def add_product_image(*, product, image_file, alt="", position=0):
    """Store an image for the product with its thumbnail and card sizes, made once here."""
    picture = _read_picture(image_file)
    with transaction.atomic():
        image = ProductImage(product=product, alt=alt, position=position)
        image_file.seek(0)
        image.image.save(PurePath(image_file.name).name, image_file, save=False)
        _save_sizes(image, picture)
        image.save()
    return image


def make_image_sizes(*, image):
    """(Re)make the thumbnail and card of an image whose original was uploaded elsewhere."""
    with image.image.open("rb") as original:
        picture = _read_picture(original)
    _save_sizes(image, picture)
    image.save(update_fields=["thumbnail", "card"])
    return image


def _read_picture(file):
    try:
        picture = Image.open(file)
        picture = ImageOps.exif_transpose(picture)
        picture.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise InvalidImage(_("This file is not an image we can read.")) from error
    if picture.mode in ("RGBA", "LA", "P"):
        picture = picture.convert("RGBA")
        flat = Image.new("RGB", picture.size, "white")
        flat.paste(picture, mask=picture.getchannel("A"))
        return flat
    return picture.convert("RGB")


def _save_sizes(image, picture):
    stem = PurePath(image.image.name).stem
    for field, size in (("thumbnail", THUMBNAIL_SIZE), ("card", CARD_SIZE)):
        resized = picture.copy()
        resized.thumbnail((size, size), Image.Resampling.LANCZOS)
        buffer = BytesIO()
        resized.save(buffer, "JPEG", quality=JPEG_QUALITY, progressive=True)
        getattr(image, field).save(f"{stem}-{size}.jpg", ContentFile(buffer.getvalue()), save=False)


# Reviews


def submit_review(*, product, user, rating, title="", body=""):
    """Publish a shopper's review: only from a buyer of the product, once per product."""
    if not 1 <= rating <= 5:
        raise ReviewNotAllowed(_("Give the product between 1 and 5 stars."))
    if selectors.has_reviewed(user, product):
        raise ReviewNotAllowed(_("You have already reviewed this product."))
    if not selectors.has_bought(user, product):
        raise ReviewNotAllowed(_("Only shoppers who bought this product can review it."))
    with transaction.atomic():
        try:
            with transaction.atomic():
                review = Review.objects.create(
                    product=product, user=user, rating=rating, title=title, body=body
                )
        except IntegrityError:
            # The same shopper's other tab got there first.
            raise ReviewNotAllowed(_("You have already reviewed this product.")) from None
        refresh_product_figures(product_ids=[product.pk])
    return review


# Bulk actions from admin


def set_products_active(*, product_ids, active):
    """Show (active=True) or hide products in the shop; returns how many changed."""
    with transaction.atomic():
        changed = (
            Product.objects.filter(pk__in=list(product_ids))
            .exclude(is_active=active)
            .update(is_active=active, updated_at=timezone.now())
        )
        invalidate_catalog()
    return changed


def move_products_to_category(*, product_ids, category):
    """File products under another category; returns how many moved."""
    with transaction.atomic():
        moved = (
            Product.objects.filter(pk__in=list(product_ids))
            .exclude(category=category)
            .update(category=category, updated_at=timezone.now())
        )
        invalidate_catalog()
    return moved


def session_hash(session_key):
    """A session key hashed with SECRET_KEY: stable to group views by, useless as a cookie."""
    return salted_hmac("catalog.ProductView", session_key, algorithm="sha256").hexdigest()


def record_product_view(*, session_hash, product_id, day=None):
    """Note that a session saw a product on a day (today by default); repeats change nothing.

    The unique constraint drops duplicates inside the database, so this is one INSERT with no
    read first. A product deleted before the queued task ran is no error: there is nothing
    left to recommend it from.
    """
    view = ProductView(
        session_hash=session_hash, product_id=product_id, day=day or timezone.localdate()
    )
    try:
        with transaction.atomic():
            ProductView.objects.bulk_create([view], ignore_conflicts=True)
    except IntegrityError:
        return
