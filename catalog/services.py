"""Catalog actions: what changes products, variants and their figures."""

from django.db.models import Exists, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from .cache import invalidate_catalog
from .models import Product, Variant


def update_availability(*, variant_ids):
    """Recompute the available units of these variants from their stock rows.

    Shipping's stock services call this inside the transaction that changed the stock, so
    `Variant.stock_available` and `Product.in_stock` never disagree with the stock levels.
    """
    variant_ids = list(variant_ids)
    free_units = (
        Variant.objects.filter(pk=OuterRef("pk"))
        .annotate(free=Sum("stock_levels__on_hand") - Sum("stock_levels__reserved"))
        .values("free")
    )
    Variant.objects.filter(pk__in=variant_ids).update(
        stock_available=Coalesce(Subquery(free_units), 0)
    )
    sellable = Variant.objects.filter(product=OuterRef("pk"), is_active=True, stock_available__gt=0)
    Product.objects.filter(variants__in=variant_ids).update(in_stock=Exists(sellable))
    invalidate_catalog()
