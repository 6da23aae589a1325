"""Template context for every page: the number of units in the shopper's cart."""

from django.utils.functional import SimpleLazyObject

from . import selectors


def cart(request):
    if not hasattr(request, "user"):
        # Refused before the middleware ran (an error page for a bad Host header): no cart.
        return {"cart_count": 0}
    # Lazy, so pages that don't show the header (admin, emails) don't pay for the query.
    return {"cart_count": SimpleLazyObject(lambda: selectors.cart_count(request))}
