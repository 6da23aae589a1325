"""The catalog's one caching mechanism: entries remembered with the versions of what they show.

Every cached value (a whole storefront page, the category tree, the filter facts) is stored
together with the versions of the scopes it depends on, and read back with those versions in a
single `get_many`: one cache round trip, and an entry whose versions moved on is simply rebuilt.
Scopes: `ALL` (anything in the catalog: categories, promotions, brands, products' own data),
`LISTINGS` (which products are in stock and which sell best: what listings, facets and the home
page show) and one per product page, so an order that changes a product's stock only redraws
that product's page and, when the product sells out or comes back, the listings.

Versions are random tokens, not counters: a version that was evicted comes back as a new one
rather than as an old number an outdated entry might still carry.
"""

import hashlib
import secrets

from asgiref.local import Local
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import transaction
from django.dispatch import receiver

ALL = "all"
LISTINGS = "listings"
TIMEOUT = 15 * 60

_request = Local()


def product_scope(slug):
    return f"product:{slug}"


def _version_key(scope):
    return f"catalog:version:{scope}"


def _new_version():
    return secrets.token_hex(6)


def cached(name, key, build, *, scopes=(ALL,)):
    """`build()`, remembered under `name` and `key` until a scope it depends on changes.

    None is never remembered. The versions are read before `build()` runs, so a value built
    from data that changes meanwhile is stored under the old versions and never read back.
    """
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
    entry_key = f"catalog:{name}:{digest}"
    version_keys = [_version_key(scope) for scope in scopes]
    found = cache.get_many([entry_key, *version_keys])
    missing = [version_key for version_key in version_keys if version_key not in found]
    for version_key in missing:
        cache.add(version_key, _new_version(), timeout=None)
    if missing:
        found.update(cache.get_many(missing))
    versions = tuple(found.get(version_key) for version_key in version_keys)
    entry = found.get(entry_key)
    if entry is not None and entry[0] == versions:
        return entry[1]
    value = build()
    if value is not None:
        cache.set(entry_key, (versions, value), TIMEOUT)
    return value


def memoised(name, load):
    """`load()` once per request: the category tree is asked for by every product card.

    Outside a request (tasks, commands) nothing is kept, so a long-running process never
    holds on to an old value.
    """
    values = getattr(_request, "values", None)
    if values is None:
        return load()
    if name not in values:
        values[name] = load()
    return values[name]


@receiver(request_started)
def _start_request_memo(**kwargs):
    _request.values = {}


@receiver(request_finished)
def _end_request_memo(**kwargs):
    _request.values = None


def _bump(scopes):
    """New versions for the scopes once the current transaction commits (at once outside one)."""
    version_keys = [_version_key(scope) for scope in scopes]
    transaction.on_commit(
        lambda: cache.set_many(dict.fromkeys(version_keys, _new_version()), timeout=None)
    )
    if getattr(_request, "values", None):
        _request.values.clear()


def invalidate_catalog():
    """Anything in the catalog changed: every cached entry is stale."""
    _bump([ALL])


def invalidate_listings():
    """What listings show or how they order changed (units sold): product pages stay."""
    _bump([LISTINGS])


def invalidate_products(*, slugs, availability_flipped):
    """Stock of these products changed: their pages are stale, and when one of them sold out
    or came back (`availability_flipped`), so are the listings."""
    _bump([*(product_scope(slug) for slug in slugs), *([LISTINGS] if availability_flipped else [])])
