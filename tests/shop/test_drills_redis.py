"""Drill: Redis, the cache, session cache and broker, stops while shoppers are on the shop.

The test starts its own `redis-server` on a free port (never the machine's), points the cache,
the sessions and the Celery broker at it, and drives the shop through Django's test client in
real transactions, so work queued on commit really meets the dead broker. While Redis is down
every page must still answer without a 5xx; after it comes back empty, shoppers are still
signed in and guest carts still hold their items.
"""

import shutil
import subprocess
import time
from decimal import Decimal

import pytest
import redis
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from orders.models import Cart, Order
from shop import cache_backend
from shop.celery import app as celery_app
from tests.accounts.factories import PASSWORD, UserFactory
from tests.conftest import skip_or_fail
from tests.orders.factories import stocked_variant
from tests.payments.conftest import free_port
from tests.shipping.factories import ShippingMethodFactory

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
START_TIMEOUT = 5
# How long the shop leaves the stopped Redis alone after a failure; short to keep the drill short.
RETRY_AFTER = 0.5


class PrivateRedis:
    """A `redis-server` this test owns: it keeps nothing on disk, so a restart comes up empty."""

    def __init__(self, directory):
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.05)

    def stop(self):
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=START_TIMEOUT)
        self.process = None


@pytest.fixture
def private_redis(tmp_path, settings, monkeypatch):
    if not shutil.which(REDIS_SERVER):
        skip_or_fail(f"needs redis-server at {REDIS_SERVER}")
    server = PrivateRedis(tmp_path)
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "shop.cache_backend.RedisCache",
            "LOCATION": server.url,
            "KEY_PREFIX": "drill",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    # Tasks go to the private Redis as in production, not run in-process; the producer pool
    # made for the test settings' broker is set aside so the next publish uses this one.
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(celery_app.conf, "broker_url", server.url)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    monkeypatch.setattr(cache_backend, "RETRY_AFTER", RETRY_AFTER)
    yield server
    server.stop()


class Drive:
    """Requests made during the drill, and those answered 5xx."""

    def __init__(self):
        self.made = 0
        self.failed = []

    def __call__(self, client, method, url, data=None):
        response = getattr(client, method)(url, data or {})
        self.made += 1
        if response.status_code >= 500:
            self.failed.append((method, url, response.status_code))
        return response


def check_out(drive, client, method, payment_method):
    details = {
        "email": "mei@example.com",
        "full_name": "Mei Chen",
        "line1": "Unter den Linden 1",
        "line2": "",
        "postal_code": "10117",
        "city": "Berlin",
        "country": "DE",
        "phone": "",
        "shipping_method": method.pk,
        "payment_method": payment_method,
        "voucher_code": "",
    }
    drive(client, "get", reverse("orders:checkout"))
    drive(client, "post", reverse("orders:checkout"), details)
    review = drive(client, "get", reverse("orders:checkout_review"))
    token = review.context["checkout_token"]
    return drive(client, "post", reverse("orders:checkout_review"), {"checkout_token": token})


def sign_in(drive, client, user):
    credentials = {"login": user.email, "password": PASSWORD}
    return drive(client, "post", reverse("account_login"), credentials)


def test_shop_serves_without_redis_and_keeps_sessions_when_it_restarts_empty(private_redis):
    variant = stocked_variant(units=20, price=Decimal("19.99"), product__title="Linen shirt")
    product_url = reverse("catalog:product_detail", args=[variant.product.slug])
    method = ShippingMethodFactory(name="Standard", price=Decimal("4.90"))
    shopper, newcomer = UserFactory(), UserFactory()
    drive = Drive()
    add = {"variant": variant.pk, "quantity": 1}

    # Before the outage: a guest fills a cart and a shopper signs in, both kept in Redis.
    waiting_guest, signed_in = Client(), Client()
    drive(waiting_guest, "post", reverse("orders:cart_add"), add)
    assert sign_in(drive, signed_in, shopper).status_code == 302

    private_redis.stop()
    down_at = time.monotonic()
    guest = Client()
    for url in (reverse("catalog:home"), reverse("catalog:product_list"), product_url):
        assert drive(guest, "get", url).status_code == 200
    drive(guest, "post", reverse("orders:cart_add"), add)
    assert drive(guest, "get", product_url).status_code == 200  # a session now: view recorded
    assert drive(guest, "get", reverse("orders:cart")).status_code == 200
    assert check_out(drive, guest, method, "cash_on_delivery").status_code == 302
    drive(signed_in, "post", reverse("orders:cart_add"), add)
    assert check_out(drive, signed_in, method, "bank_transfer").status_code == 302
    assert sign_in(drive, Client(), newcomer).status_code == 302
    seconds_down = time.monotonic() - down_at

    private_redis.start()
    back_at = time.monotonic()
    assert drive(signed_in, "get", reverse("accounts:profile")).status_code == 200
    cart_page = drive(waiting_guest, "get", reverse("orders:cart"))
    while cache.get("drill:probe") is None and time.monotonic() - back_at < 5:
        cache.set("drill:probe", "back")
        time.sleep(0.1)
    cache_back_in = time.monotonic() - back_at

    print(
        f"\nredis drill: {drive.made} requests, {len(drive.failed)} answered 5xx, "
        f"{seconds_down:.1f} s of requests while down, cache used again {cache_back_in:.1f} s "
        "after Redis was back"
    )
    assert drive.failed == []
    assert cache.get("drill:probe") == "back"
    assert cart_page.status_code == 200 and "Linen shirt" in cart_page.content.decode()
    assert Cart.objects.filter(lines__isnull=False, user=None).count() == 1
    assert sorted(Order.objects.values_list("payment_method", flat=True)) == [
        "bank_transfer",
        "cash_on_delivery",
    ]
