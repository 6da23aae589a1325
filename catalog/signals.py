"""Keep what guests see fresh: any catalog change makes the cached pages stale.

Saves through the ORM arrive here; bulk writes (import, availability, admin bulk actions)
bypass signals and invalidate in the service that made them. Also sets up each new PostgreSQL
connection for typo-tolerant search.
"""

from django.db.backends.signals import connection_created
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from .cache import invalidate_catalog
from .models import (
    Attribute,
    AttributeValue,
    Brand,
    Category,
    CategoryPromotion,
    Product,
    ProductImage,
    Review,
    Variant,
)
from .search import TYPO_SIMILARITY
from .services import refresh_product_figures


@receiver(post_save, sender=Product)
@receiver(post_delete, sender=Product)
@receiver(post_save, sender=ProductImage)
@receiver(post_delete, sender=ProductImage)
@receiver(post_save, sender=Category)
@receiver(post_save, sender=CategoryPromotion)
@receiver(post_delete, sender=CategoryPromotion)
@receiver(post_delete, sender=Category)
@receiver(post_save, sender=Brand)
@receiver(post_delete, sender=Brand)
@receiver(post_save, sender=Attribute)
@receiver(post_delete, sender=Attribute)
@receiver(post_save, sender=AttributeValue)
@receiver(post_delete, sender=AttributeValue)
@receiver(m2m_changed, sender=Product.attributes.through)
def catalog_changed(sender, **kwargs):
    invalidate_catalog()


@receiver(post_save, sender=Variant)
@receiver(post_delete, sender=Variant)
@receiver(post_save, sender=Review)
@receiver(post_delete, sender=Review)
def figures_changed(sender, instance, **kwargs):
    """A price, an active flag or a rating changed: the product's listing figures follow."""
    refresh_product_figures(product_ids=[instance.product_id])


@receiver(connection_created)
def set_typo_threshold(sender, connection, **kwargs):
    """pg_trgm's indexed `%>` operator reads its threshold from the session, not the query."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET pg_trgm.word_similarity_threshold = %s", [TYPO_SIMILARITY])
