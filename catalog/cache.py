"""The catalog's page cache: one version number that every cached catalog page key includes.

Bumping the version (when a product, price or stock changes) makes every cached page stale at
once, on every process, without deleting keys one by one.
"""

from django.core.cache import cache
from django.db import transaction

VERSION_KEY = "catalog:version"


def catalog_version():
    return cache.get_or_set(VERSION_KEY, 1, timeout=None)


def invalidate_catalog():
    """Bump the version once the current transaction commits (at once outside one)."""

    def bump():
        try:
            cache.incr(VERSION_KEY)
        except ValueError:
            cache.set(VERSION_KEY, 2, timeout=None)

    transaction.on_commit(bump)
