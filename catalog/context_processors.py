"""Template context for every page: the categories in the header menu, and the placeholder for
the CSRF token when a page is drawn for the page cache."""

from django.utils.functional import SimpleLazyObject

from . import pagecache, selectors


def catalog(request):
    # Lazy, so pages without the header (admin, emails) don't read the category tree.
    context = {"menu_categories": SimpleLazyObject(selectors.menu_categories)}
    if pagecache.renders_for_cache(request):
        # Overrides Django's own `csrf_token`: the shared copy of a page must not carry one.
        context["csrf_token"] = pagecache.CSRF_PLACEHOLDER
    return context
