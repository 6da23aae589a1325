"""Storefront pages: home, listings and search, product pages with reviews, robots.txt.

Home, listings and product pages are served whole from the cache (catalog.pagecache): each
view says what the page is keyed on and which scopes of the catalog it shows.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import pagecache, selectors, services
from .cache import ALL, LISTINGS, product_scope
from .forms import SORT_CHOICES, ListingForm, ReviewForm

# Carried through the sort form: everything but what it sets (and the page, which restarts).
SORT_FORM_FIELDS = frozenset({"sort", "per_page", "page"})
# Carried through the filter form, which sets everything else.
FILTER_FORM_CARRIES = ("q", "sort", "per_page")
VIEW_SEEN_TIMEOUT = 24 * 60 * 60


def home(request):
    for_you = []
    if request.user.is_authenticated:
        for_you = selectors.recommended_for(request.user, tree=selectors.category_tree())

    def render_home():
        context = {"home": selectors.home_page(tree=selectors.category_tree()), "for_you": for_you}
        return render(request, "catalog/home.html", context), None

    key = ("home", [product.pk for product in for_you])
    response, _facts = pagecache.serve(request, key, scopes=(ALL, LISTINGS), render=render_home)
    return response


def product_list(request, slug=None):
    """All products, one category's (with its subcategories'), or search results."""
    response, _facts = pagecache.serve(
        request,
        ("listing", request.get_full_path()),
        scopes=(ALL, LISTINGS),
        render=lambda: (_product_list_page(request, slug), None),
    )
    return response


def _product_list_page(request, slug):
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
    listing = selectors.product_listing(query, tree=tree, facts=facts)
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
    review_state = selectors.review_state(request.user, slug)

    def render_product():
        response, product = _product_page(request, slug, review_state=review_state)
        return response, product.pk if product.is_active else None

    response, product_id = pagecache.serve(
        request,
        ("product", slug, review_state),
        scopes=(ALL, product_scope(slug)),
        render=render_product,
    )
    _record_view(request, product_id)
    return response


def _record_view(request, product_id):
    """Record the view for "viewed together".

    Only a visitor who already has a session is counted: making one for every first hit and
    crawler would cost a write per page, and one page alone pairs with nothing anyway. A hidden
    product (seen by staff only) comes without an id and is not counted. A session's views of
    a product count once a day, so it is written once a day: a cache `add` keeps the repeats
    from the database. The write is one INSERT, what queueing it (an outbox row) would cost,
    so it is made here, and nothing is lost while the broker is down.
    """
    session_key = request.session.session_key
    if not session_key or product_id is None:
        return
    hashed = services.session_hash(session_key)
    seen_key = f"catalog:viewed:{timezone.localdate()}:{hashed}:{product_id}"
    if cache.add(seen_key, True, timeout=VIEW_SEEN_TIMEOUT):
        services.record_product_view(session_hash=hashed, product_id=product_id)


def _product_page(request, slug, *, review_state, review_form=None, status=200):
    """The product page and its product; 404 for a product guests may not see."""
    tree = selectors.category_tree()
    page = selectors.product_page(slug, tree=tree, include_inactive=request.user.is_staff)
    if page is None:
        raise Http404
    product = page.product
    context = {
        "page": page,
        "product": product,
        "review_state": review_state,
        "review_form": review_form or ReviewForm(),
        "max_quantity": settings.CART_MAX_QUANTITY,
        "low_stock": selectors.LOW_STOCK,
        "canonical_url": request.build_absolute_uri(product.get_absolute_url()),
    }
    response = render(request, "catalog/product_detail.html", context, status=status)
    return response, product


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
        state = selectors.review_state(request.user, slug)
        return _product_page(request, slug, review_state=state, review_form=form, status=400)[0]
    try:
        services.submit_review(product=product, user=request.user, **form.cleaned_data)
    except services.ReviewNotAllowed as refusal:
        messages.error(request, str(refusal))
        state = selectors.review_state(request.user, slug)
        return _product_page(request, slug, review_state=state, status=403)[0]
    messages.success(request, _("Thank you: your review is published."))
    return redirect(f"{product_url}#reviews")


def robots_txt(request):
    context = {"sitemap_url": request.build_absolute_uri(reverse("sitemap"))}
    return render(request, "catalog/robots.txt", context, content_type="text/plain; charset=utf-8")
