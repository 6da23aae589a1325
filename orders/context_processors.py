"""Template context for every page: the number of units in the shopper's cart."""

from django.utils.functional import SimpleLazyObject

from . import selectors


def cart(request):
    # Lazy, so pages that don't show the header (admin, emails) don't pay for the query.
    return {"cart_count": SimpleLazyObject(lambda: selectors.cart_count(request))}
