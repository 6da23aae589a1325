"""Catalog actions: what changes products, variants, prices, images, reviews, figures and views."""

from collections import Counter
from dataclasses import dataclass
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
from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from shop.audit import record

from . import selectors
from .cache import invalidate_catalog, invalidate_listings, invalidate_products
from .models import (
    CategoryPromotion,
    PriceHistory,
    PriceRule,
    Product,
    ProductImage,
    ProductView,
    Review,
    UnitsSold,
    Variant,
)

# Image sizes the pages show (twice their CSS size, for sharp screens): thumbnails in the
# gallery strip, cards in listings and as the product page's main picture.
THUMBNAIL_SIZE = 160
CARD_SIZE = 480
JPEG_QUALITY = 85
# Rows of units sold `fold_units_sold` adds up in one transaction.
FOLD_BATCH = 5000


class InvalidImage(Exception):
    """The file is not an image Pillow can read."""


class ReviewNotAllowed(Exception):
    """The shopper may not review this product: they never bought it, or already reviewed it."""


class InvalidPrice(Exception):
    """A price the shop can't charge: negative, or not below the compare-at price."""


def update_availability(*, variant_ids):
    """Recompute the available units of these variants from their stock rows.

    Shipping's stock services call this inside the transaction that changed the stock, so
    `Variant.stock_available` and `Product.in_stock` never disagree with the stock levels.
    Only active warehouses count: reservations never take stock from the others. What the
    storefront shows is redrawn as set_availability decides.
    """
    sellable_from = Q(stock_levels__warehouse__is_active=True)
    variants = Variant.objects.filter(pk__in=list(variant_ids)).annotate(
        free=Coalesce(
            Sum("stock_levels__on_hand", filter=sellable_from)
            - Sum("stock_levels__reserved", filter=sellable_from),
            0,
        )
    )
    set_availability(
        figures={
            pk: (before, now)
            for pk, before, now in variants.values_list("pk", "stock_available", "free")
        }
    )


def set_availability(*, figures):
    """Store available units the stock services counted on the stock rows they hold locked.

    `figures` maps variant id to (units available before the change, units available now).
    reserve_stock knows both, so nothing is recounted. The products' `in_stock` is
    recomputed, and the cached pages dropped, only when what the storefront shows changes:
    a variant sold out or came back, or its count is low enough to be shown ("Only 3 left").
    Checkouts of a well-stocked variant thus leave the page cache alone.
    """
    for variant_id, (_before, now) in sorted(figures.items()):
        Variant.objects.filter(pk=variant_id).update(stock_available=now)
    shown = selectors.LOW_STOCK + 1
    redrawn = [pk for pk, (before, now) in figures.items() if min(before, shown) != min(now, shown)]
    if not redrawn:
        return
    flipped = [pk for pk, (before, now) in figures.items() if (before > 0) != (now > 0)]
    if flipped:
        sellable = Variant.objects.filter(
            product=OuterRef("pk"), is_active=True, stock_available__gt=0
        )
        Product.objects.filter(variants__in=flipped).update(in_stock=Exists(sellable))
    invalidate_products(
        slugs=list(Product.objects.filter(variants__in=redrawn).values_list("slug", flat=True)),
        availability_flipped=bool(flipped),
    )


def refresh_product_figures(*, product_ids):
    """Recompute the figures listings filter and sort on, from variants and reviews.

    `min_price` is the cheapest active variant's price (0 without one), `in_stock` whether an
    active variant can be sold, and the rating figures summarise the product's reviews.
    Units sold are noted as orders are placed and cancelled (`record_units_sold`).
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
    """Note units sold per product for the bestsellers: `quantities` maps product id to units.

    Orders add what they sell and take it back when cancelled (negative units). This only
    appends rows, one INSERT that waits for no lock; `fold_units_sold` adds them into
    `Product.units_sold` within a minute (the beat schedule).
    """
    UnitsSold.objects.bulk_create(
        UnitsSold(product_id=product_id, units=units)
        for product_id, units in sorted(quantities.items())
        if units
    )


def fold_units_sold(*, batch_size=FOLD_BATCH) -> int:
    """Add the units noted by `record_units_sold` into the products' counts; returns the rows.

    Each batch is one transaction: its rows are locked (skipping those another fold holds),
    summed per product, added in product id order, and deleted, so two folds at once never
    count a row twice. A count never drops below zero. Safe to run at any time.
    """
    folded = 0
    while True:
        with transaction.atomic():
            rows = list(
                UnitsSold.objects.select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", "product_id", "units")[:batch_size]
            )
            if not rows:
                return folded
            changes = Counter()
            for _pk, product_id, units in rows:
                changes[product_id] += units
            for product_id in sorted(changes):
                if changes[product_id]:
                    Product.objects.filter(pk=product_id).update(
                        units_sold=Greatest(
                            F("units_sold") + changes[product_id],
                            Value(0),
                            output_field=IntegerField(),
                        )
                    )
            UnitsSold.objects.filter(pk__in=[pk for pk, _product_id, _units in rows]).delete()
            invalidate_listings()
        folded += len(rows)


# Prices
#
# Every change of a variant's price, sale or a category promotion goes through these functions,
# which make the change and write its price history row in one transaction: who (the user,
# None for commands and tasks), what kind of change and why.

KEEP = object()  # NewPrice.compare_at_price: leave the compare-at price as it is
PRICE_LOCK_CHUNK = 1000


@dataclass(frozen=True)
class NewPrice:
    """The regular price one variant should have, and why.

    The compare-at price can change in the same write, because the database wants it above
    the price at every moment: lowering both, or raising both, works in one step only.
    """

    variant_id: int
    price: Decimal
    reason: str = ""
    rule: PriceRule | None = None
    compare_at_price: Decimal | None | object = KEEP


def change_prices(*, changes, kind, user=None, reason=""):
    """Give variants new regular prices, each change written to the price history.

    The one way `Variant.price` changes once a variant exists: staff in admin, catalog imports
    and repricing all come here, so the history holds every price a variant had, which is
    what repricing's daily limit counts from. `kind` is a `PriceHistory.Kind` of a regular
    price change; `reason` is used for changes that carry none of their own. Variants are
    locked in id order, so concurrent changes queue instead of deadlocking. A price that
    stays the same writes no history. Returns the history rows written.
    """
    if kind not in PriceHistory.PRICE_KINDS:
        raise ValueError(f"{kind} is not a kind of regular price change")
    wanted = {change.variant_id: change for change in changes}
    if not wanted:
        return []
    with transaction.atomic():
        current = {}
        ids = sorted(wanted)
        for start in range(0, len(ids), PRICE_LOCK_CHUNK):
            current.update(
                (variant.pk, variant)
                for variant in Variant.objects.select_for_update()
                .filter(pk__in=ids[start : start + PRICE_LOCK_CHUNK])
                .order_by("pk")
                .only("pk", "sku", "product_id", "price", "compare_at_price")
            )
        price_moved, both_moved, history = [], [], []
        for variant_id in ids:
            change, variant = wanted[variant_id], current[variant_id]
            compare_at = (
                variant.compare_at_price
                if change.compare_at_price is KEEP
                else change.compare_at_price
            )
            _check_price(sku=variant.sku, price=change.price, compare_at_price=compare_at)
            if change.price != variant.price:
                history.append(
                    PriceHistory(
                        kind=kind,
                        variant_id=variant_id,
                        old_price=variant.price,
                        new_price=change.price,
                        rule=change.rule,
                        changed_by=user,
                        reason=(change.reason or reason)[:255],
                    )
                )
            if compare_at != variant.compare_at_price:
                both_moved.append(variant)
            elif change.price != variant.price:
                price_moved.append(variant)
            variant.price, variant.compare_at_price = change.price, compare_at
        # One UPDATE per row for price and compare-at price together keeps "above" true.
        Variant.objects.bulk_update(price_moved, ["price"], batch_size=PRICE_LOCK_CHUNK)
        Variant.objects.bulk_update(
            both_moved, ["price", "compare_at_price"], batch_size=PRICE_LOCK_CHUNK
        )
        rows = PriceHistory.objects.bulk_create(history)
        for row in rows:
            record(
                actor=user,
                action="price.changed",
                target=current[row.variant_id],
                before={"price": row.old_price},
                after={"price": row.new_price},
                note=row.reason,
            )
        product_ids = sorted({variant.product_id for variant in price_moved + both_moved})
        for start in range(0, len(product_ids), PRICE_LOCK_CHUNK):
            refresh_product_figures(product_ids=product_ids[start : start + PRICE_LOCK_CHUNK])
    return rows


def _check_price(*, sku, price, compare_at_price):
    if price < 0:
        raise InvalidPrice(_("The price of %(sku)s can't be negative.") % {"sku": sku})
    if compare_at_price is not None and compare_at_price <= price:
        raise InvalidPrice(
            _("The price of %(sku)s must stay below its compare-at price %(compare_at)s.")
            % {"sku": sku, "compare_at": compare_at_price}
        )


def set_sale(*, variant, sale_price, starts_at=None, ends_at=None, user=None, reason=""):
    """Put a variant on sale for a while, change its sale, or end it (`sale_price=None`).

    The sale price is what a shopper pays while the sale runs; it is written to the price
    history with its window, the old sale price and the new. Returns the history row, or None
    when nothing changed.
    """
    if sale_price is not None and sale_price < 0:
        raise InvalidPrice(_("The sale price of %(sku)s can't be negative.") % {"sku": variant.sku})
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise InvalidPrice(_("A sale must end after it starts."))
    with transaction.atomic():
        locked = Variant.objects.select_for_update().get(pk=variant.pk)
        before = (locked.sale_price, locked.sale_starts_at, locked.sale_ends_at)
        if before == (sale_price, starts_at, ends_at):
            return None
        Variant.objects.filter(pk=variant.pk).update(
            sale_price=sale_price, sale_starts_at=starts_at, sale_ends_at=ends_at
        )
        row = PriceHistory.objects.create(
            kind=PriceHistory.Kind.SALE,
            variant=variant,
            old_price=locked.sale_price,
            new_price=sale_price,
            changed_by=user,
            reason=(reason or _describe_sale(sale_price, starts_at, ends_at))[:255],
        )
        record(
            actor=user,
            action="price.sale_changed",
            target=variant,
            before=dict(zip(("sale_price", "starts_at", "ends_at"), before, strict=True)),
            after={"sale_price": sale_price, "starts_at": starts_at, "ends_at": ends_at},
            note=row.reason,
        )
        invalidate_catalog()
    variant.sale_price, variant.sale_starts_at, variant.sale_ends_at = (
        sale_price,
        starts_at,
        ends_at,
    )
    return row


def _when(moment):
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def _window(starts_at, ends_at):
    if starts_at and ends_at:
        return _("from %(start)s until %(end)s") % {
            "start": _when(starts_at),
            "end": _when(ends_at),
        }
    if starts_at:
        return _("from %(start)s") % {"start": _when(starts_at)}
    if ends_at:
        return _("until %(end)s") % {"end": _when(ends_at)}
    return _("with no end set")


def _describe_sale(sale_price, starts_at, ends_at):
    if sale_price is None:
        return _("Sale ended")
    return _("On sale at %(price)s %(window)s") % {
        "price": sale_price,
        "window": _window(starts_at, ends_at),
    }


def _promotion_terms(promotion):
    return (
        promotion.category_id,
        promotion.percent_off,
        promotion.starts_at,
        promotion.ends_at,
        promotion.is_active,
    )


def _promotion_fields(promotion):
    names = ("category", "percent_off", "starts_at", "ends_at", "is_active")
    return dict(zip(names, _promotion_terms(promotion), strict=True))


def _describe_promotion(promotion):
    terms = _("“%(name)s”: %(percent)s%% off %(window)s") % {
        "name": promotion.name,
        "percent": floatformat(promotion.percent_off, -2),
        "window": _window(promotion.starts_at, promotion.ends_at),
    }
    return terms if promotion.is_active else _("%(terms)s, switched off") % {"terms": terms}


def _record_promotion(*, category_id, user, reason):
    PriceHistory.objects.create(
        kind=PriceHistory.Kind.PROMOTION,
        category_id=category_id,
        changed_by=user,
        reason=reason[:255],
    )


def save_category_promotion(*, promotion, user=None):
    """Create or change a category promotion, recorded in its category's price history.

    A promotion changes what every product under the category costs while it runs, without
    touching their prices: so it is recorded once, on the category, with its terms, not on
    each variant (whose number changes as products come and go). A change of name only is
    not a price change and writes nothing; moving it to another category writes a row for
    each of the two.
    """
    with transaction.atomic():
        before = (
            CategoryPromotion.objects.select_for_update().filter(pk=promotion.pk).first()
            if promotion.pk
            else None
        )
        promotion.save()
        if before is None:
            reason = _("Created %(terms)s") % {"terms": _describe_promotion(promotion)}
        elif _promotion_terms(before) != _promotion_terms(promotion):
            reason = _("Changed to %(terms)s") % {"terms": _describe_promotion(promotion)}
        else:
            return promotion
        record(
            actor=user,
            action="promotion.saved",
            target=promotion,
            before=None if before is None else _promotion_fields(before),
            after=_promotion_fields(promotion),
            note=reason,
        )
        if before is not None and before.category_id != promotion.category_id:
            _record_promotion(
                category_id=before.category_id,
                user=user,
                reason=_("Moved to another category: %(terms)s")
                % {"terms": _describe_promotion(before)},
            )
        _record_promotion(category_id=promotion.category_id, user=user, reason=reason)
    return promotion


def delete_category_promotion(*, promotion, user=None):
    """Delete a category promotion; its category's price history keeps what it was."""
    with transaction.atomic():
        _record_promotion(
            category_id=promotion.category_id,
            user=user,
            reason=_("Deleted %(terms)s") % {"terms": _describe_promotion(promotion)},
        )
        record(
            actor=user,
            action="promotion.deleted",
            target=promotion,
            before=_promotion_fields(promotion),
        )
        promotion.delete()


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
