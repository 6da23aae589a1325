"""The Redis cache backend answers as an empty cache while Redis is unreachable."""

import logging

import pytest
from django.core.cache import caches

from shop import cache_backend

UNREACHABLE = "redis://127.0.0.1:1/0"


@pytest.fixture
def unreachable_cache(settings, monkeypatch):
    # An outage another test met at the same address must not carry over into this one.
    monkeypatch.setattr(cache_backend._Outage, "_by_location", {})
    settings.CACHES = {
        "default": {
            "BACKEND": "shop.cache_backend.RedisCache",
            "LOCATION": UNREACHABLE,
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
        }
    }
    return caches["default"]


def test_reads_miss_and_writes_store_nothing_while_redis_is_unreachable(
    unreachable_cache, monkeypatch
):
    monkeypatch.setattr(cache_backend, "RETRY_AFTER", 0)
    cache = unreachable_cache
    assert cache.get("cart", "missing") == "missing"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.has_key("cart") is False
    assert cache.add("lock", True) is True  # as on an empty cache: the key was not there
    assert cache.set("cart", 1) is None
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
    assert cache.delete("cart") is False
    assert cache.get_or_set("tree", lambda: "built") == "built"
    with pytest.raises(ValueError):
        cache.incr("hits")


def test_an_outage_is_logged_once_however_many_calls_fail(unreachable_cache, monkeypatch, caplog):
    monkeypatch.setattr(cache_backend, "RETRY_AFTER", 0)
    with caplog.at_level(logging.WARNING, logger="shop.cache_backend"):
        for _ in range(5):
            unreachable_cache.get("cart")
    assert [record.getMessage().split(" is ")[0] for record in caplog.records] == [
        f"Redis cache at {UNREACHABLE}"
    ]


def test_after_a_failure_redis_is_left_alone_for_a_while(unreachable_cache, monkeypatch):
    calls = []
    real_get_client = cache_backend._SharedClients.get_client

    def counting_get_client(self, *args, **kwargs):
        calls.append(args)
        return real_get_client(self, *args, **kwargs)

    monkeypatch.setattr(cache_backend._SharedClients, "get_client", counting_get_client)
    for _ in range(5):
        assert unreachable_cache.get("cart") is None
    assert len(calls) == 1
