"""Template context for every page: the categories in the header menu."""

from django.utils.functional import SimpleLazyObject

from . import selectors


def catalog(request):
    # Lazy, so pages without the header (admin, emails) don't read the category tree.
    return {"menu_categories": SimpleLazyObject(selectors.menu_categories)}
