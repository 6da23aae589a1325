"""Template helpers of the storefront: rating stars, page links, JSON-LD product markup, the
prices shoppers pay with promotions applied, and the visitor's own parts of cached pages."""

import json

from django import template
from django.conf import settings
from django.utils.html import format_html, strip_tags
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from catalog import pagecache, pricing

register = template.Library()

# As in django.utils.html.json_script: JSON that can't close the <script> element it sits in.
JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}
IN_STOCK = "https://schema.org/InStock"
OUT_OF_STOCK = "https://schema.org/OutOfStock"


@register.simple_tag
def stars(rating):
    """★★★★☆ for a rating of 1–5 (rounded), with the exact figure for screen readers."""
    if rating is None:
        return ""
    filled = max(0, min(5, round(rating)))
    label = _("%(rating)s out of 5 stars") % {"rating": rating}
    return format_html(
        '<span class="stars" role="img" aria-label="{}">{}{}</span>',
        label,
        "★" * filled,
        "☆" * (5 - filled),
    )


@register.simple_tag
def page_links(page):
    """Page numbers around the current one, with None where numbers are left out."""
    ellipsis = page.paginator.ELLIPSIS
    return [
        None if number == ellipsis else number
        for number in page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
    ]


@register.simple_tag(takes_context=True)
def product_json_ld(context, page):
    """schema.org Product markup, so search engines can show price, stock and rating."""
    request = context["request"]
    product = page.product
    url = request.build_absolute_uri(product.get_absolute_url())
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.title,
        "url": url,
        "description": strip_tags(product.description),
        "image": [request.build_absolute_uri(image.image.url) for image in page.images],
    }
    if product.brand:
        data["brand"] = {"@type": "Brand", "name": product.brand.name}
    prices = {variant.pk: pricing.effective_price(variant) for variant in page.variants}
    offers = [
        {
            "@type": "Offer",
            "sku": variant.sku,
            "price": str(prices[variant.pk]),
            "priceCurrency": settings.SHOP_CURRENCY,
            "availability": IN_STOCK if variant.is_available else OUT_OF_STOCK,
            "url": url,
        }
        for variant in page.variants
    ]
    if len(offers) == 1:
        data["sku"] = offers[0]["sku"]
        data["offers"] = offers[0]
    elif offers:
        data["offers"] = {
            "@type": "AggregateOffer",
            "lowPrice": str(min(prices.values())),
            "highPrice": str(max(prices.values())),
            "priceCurrency": settings.SHOP_CURRENCY,
            "offerCount": len(offers),
            "availability": IN_STOCK if page.in_stock else OUT_OF_STOCK,
            "offers": offers,
        }
    if product.rating_count:
        data["aggregateRating"] = {
            "@type": "AggregateRating",
            "ratingValue": str(product.rating_average),
            "reviewCount": product.rating_count,
            "bestRating": 5,
            "worstRating": 1,
        }
    markup = json.dumps(data, ensure_ascii=False).translate(JSON_SCRIPT_ESCAPES)
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(markup))  # noqa: S308 - escaped above


@register.simple_tag
def card_offer(product):
    """The price on a product card, with the regular one to strike through on a promotion."""
    return pricing.card_offer(product)


@register.simple_tag
def variant_offer(variant):
    return pricing.variant_offer(variant)


@register.simple_tag(takes_context=True)
def visitor_part(context, name):
    """A part of the page that belongs to the visitor (cart link, messages): drawn here, or left
    as a placeholder when the page is drawn for the cache and filled in per request."""
    request = context.get("request")
    if request is not None and pagecache.renders_for_cache(request):
        return mark_safe(pagecache.placeholder(name))  # noqa: S308 - a fixed comment
    return context.template.engine.get_template(pagecache.VISITOR_PARTS[name]).render(context)
