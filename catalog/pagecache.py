"""Whole storefront pages from the cache, with each visitor's own parts filled in per request.

A page is rendered once per language, host and kind of visitor (guest or signed-in shopper)
with placeholders where a visitor's own parts go: the CSRF token, the header's cart link and the
messages. It is kept by `catalog.cache.cached` under the scopes it shows; every request, hit or
miss, fills the placeholders in for whoever asks, so nothing of one visitor reaches another.
Staff always get a live page, as they may preview hidden products.
"""

from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from .cache import cached

CSRF_PLACEHOLDER = mark_safe("<!--visitor:csrf-->")  # noqa: S308 - a constant
# Placeholder name -> the template that draws that part for the visitor asking.
VISITOR_PARTS = {
    "cart_link": "partials/cart_link.html",
    "messages": "partials/messages.html",
}


def placeholder(name):
    return f"<!--visitor:{name}-->"


def renders_for_cache(request):
    """Whether the page being drawn is the shared copy, with placeholders for visitor parts."""
    return getattr(request, "_renders_for_cache", False)


def serve(request, key, *, scopes, render):
    """The page `render()` draws, from the cache when it is there; returns (response, facts).

    `render()` returns the response and a few facts the view needs on every request even when
    the page comes from the cache (a product page's product id). Only 200 answers are kept.
    """
    user = request.user
    if request.method not in ("GET", "HEAD") or user.is_staff or user.is_superuser:
        return render()
    answer = {}

    def draw():
        request._renders_for_cache = True
        try:
            response, facts = render()
        finally:
            request._renders_for_cache = False
        answer["response"] = response
        if response.status_code != 200:
            return None
        return (response.content.decode(response.charset), response["Content-Type"], facts)

    page_key = (key, get_language(), request.scheme, request.get_host(), user.is_authenticated)
    page = cached("page", page_key, draw, scopes=scopes)
    if page is None:
        response = answer["response"]
        response.content = fill(request, response.content.decode(response.charset))
        return response, None
    content, content_type, facts = page
    return HttpResponse(fill(request, content), content_type=content_type), facts


def fill(request, content):
    """The shared page with this visitor's parts in place of the placeholders."""
    for name, template_name in VISITOR_PARTS.items():
        mark = placeholder(name)
        if mark in content:
            part = ""
            if name != "messages" or get_messages(request):
                part = render_to_string(template_name, request=request)
            content = content.replace(mark, part)
    if CSRF_PLACEHOLDER in content:
        content = content.replace(CSRF_PLACEHOLDER, get_token(request))
    return content
