"""Storefront pages: home, listings and search, product pages with reviews, robots.txt."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import selectors, services, tasks
from .forms import SORT_CHOICES, ListingForm, ReviewForm

# Carried through the sort form: everything but what it sets (and the page, which restarts).
SORT_FORM_FIELDS = frozenset({"sort", "per_page", "page"})
# Carried through the filter form, which sets everything else.
FILTER_FORM_CARRIES = ("q", "sort", "per_page")


def home(request):
    tree = selectors.category_tree()
    shelves = selectors.cached_for_guests(
        request, "home", "", lambda: selectors.home_page(tree=tree)
    )
    for_you = (
        selectors.recommended_for(request.user, tree=tree) if request.user.is_authenticated else []
    )
    return render(request, "catalog/home.html", {"home": shelves, "for_you": for_you})


def product_list(request, slug=None):
    """All products, one category's (with its subcategories'), or search results."""
    tree = selectors.category_tree()
    category = None
    if slug is not None:
        category = tree.by_slug.get(slug)
        if category is None:
            raise Http404
    facts = selectors.filter_facts()
    form = ListingForm(request.GET, facts=facts)
    query = form.listing_query(category=category)
    if "page" in form.errors:
        return _no_such_page(request, last_page=None)
    listing = selectors.cached_for_guests(
        request,
        "listing",
        query,
        lambda: selectors.product_listing(query, tree=tree, facts=facts),
    )
    if listing.page is None:
        return _no_such_page(request, last_page=listing.num_pages)
    canonical = request.build_absolute_uri(request.path)
    if query.page > 1:
        canonical += f"?page={query.page}"
    context = {
        "category": category,
        "breadcrumbs": tree.ancestors(category) if category else [],
        "listing": listing,
        "query": query,
        "form": form,
        "sort_choices": SORT_CHOICES,
        "per_page_choices": selectors.PER_PAGE_CHOICES,
        "sort_form_carries": [
            (name, value)
            for name, values in request.GET.lists()
            if name not in SORT_FORM_FIELDS
            for value in values
        ],
        "filter_form_carries": [
            (name, value) for name in FILTER_FORM_CARRIES for value in request.GET.getlist(name)
        ],
        "canonical_url": canonical,
        # Filtered and sorted variants of a listing are endless: only the plain pages are indexed.
        "noindex": query.is_filtered or "sort" in request.GET or "per_page" in request.GET,
    }
    return render(request, "catalog/product_list.html", context)


def _no_such_page(request, *, last_page):
    context = {"last_page": last_page}
    return render(request, "catalog/no_such_page.html", context, status=404)


def product_detail(request, slug):
    return _product_page(request, slug, record_view=True)


def _record_view(request, product):
    """Queue the view for "viewed together", off the request path and never failing the page.

    Only a visitor who already has a session is counted: making one for every first hit and
    crawler would cost a write per page, and one page alone pairs with nothing anyway.
    """
    session_key = request.session.session_key
    if not session_key or not product.is_active:
        return
    hashed, product_id = services.session_hash(session_key), product.pk
    transaction.on_commit(lambda: tasks.record_product_view.delay(hashed, product_id), robust=True)


def _product_page(request, slug, *, review_form=None, status=200, record_view=False):
    tree = selectors.category_tree()
    page = selectors.cached_for_guests(
        request,
        "product",
        slug,
        lambda: selectors.product_page(slug, tree=tree, include_inactive=request.user.is_staff),
    )
    if page is None:
        raise Http404
    product = page.product
    if record_view:
        _record_view(request, product)
    context = {
        "page": page,
        "product": product,
        "review_state": selectors.review_state(request.user, product),
        "review_form": review_form or ReviewForm(),
        "max_quantity": settings.CART_MAX_QUANTITY,
        "low_stock": selectors.LOW_STOCK,
        "canonical_url": request.build_absolute_uri(product.get_absolute_url()),
    }
    return render(request, "catalog/product_detail.html", context, status=status)


@require_POST
def review_create(request, slug):
    product_url = reverse("catalog:product_detail", args=[slug])
    if not request.user.is_authenticated:
        return redirect_to_login(f"{product_url}#reviews")
    product = selectors.active_product(slug)
    if product is None:
        raise Http404
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _product_page(request, slug, review_form=form, status=400)
    try:
        services.submit_review(product=product, user=request.user, **form.cleaned_data)
    except services.ReviewNotAllowed as refusal:
        messages.error(request, str(refusal))
        return _product_page(request, slug, status=403)
    messages.success(request, _("Thank you: your review is published."))
    return redirect(f"{product_url}#reviews")


def robots_txt(request):
    context = {"sitemap_url": request.build_absolute_uri(reverse("sitemap"))}
    return render(request, "catalog/robots.txt", context, content_type="text/plain; charset=utf-8")
