"""Mixed traffic over HTTP: shoppers buying while others browse, against browsing only.

Run from the repository root with the project's Python (`make bench`), after bench/bench.py has
seeded its database (same $BENCH_DATABASE_URL and $BENCH_REDIS_URL, same production settings and
gunicorn). SHOPPERS threads, each a guest with its own cookies on a kept-alive connection and a
unit in the cart, only browse (browse 10 : product 6 : search 3) for SECONDS; then the same
shoppers act in the mix browse 10 : product 6 : search 3 : add to cart 2 : checkout 1 for as
long. Checkout is the whole journey over HTTP: the checkout form, the review page and placing the
order (cash on delivery).

gunicorn hooks (bench/mixed_gunicorn.py) log the worker's CPU and wall time of every request; a
page's server time is its CPU time (the GETs of browse, product and search), as the wall time on a
small shared machine also counts the other processes. The report prints pages/s, orders/s and
mean/p50/p99 server time per page, with the mean wall time beside it, for both runs,
how much more a page cost while orders flowed (the target is at most 25 % more), the answers 5xx
and the units oversold (ordered in the run beyond what stock reserves for them, or reserved
beyond what is on hand), and keeps the table in bench-results/. Exits 1 on a 5xx answer, a unit
oversold or a page more than 25 % dearer.
"""

import http.client
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import bench

SHOPPERS = 16
SECONDS = 60
BUYING_MIX = {"browse": 10, "product": 6, "search": 3, "add": 2, "checkout": 1}
BROWSING_MIX = {"browse": 10, "product": 6, "search": 3}
PAGE_ACTIONS = ("browse", "product", "search")
MAX_EXTRA_SERVER_TIME = 0.25
SEARCH_WORDS = ("cotton", "iphone", "shirt", "leather", "lamp", "wool", "iphnoe", "jacket")
ADDRESS = {
    "email": "mixed@example.com",
    "full_name": "Mixed Shopper",
    "line1": "Unter den Linden 1",
    "line2": "",
    "postal_code": "10117",
    "city": "Berlin",
    "country": "DE",
    "phone": "",
    "payment_method": "cash_on_delivery",
    "voucher_code": "",
}
SHIPPING_METHOD = re.compile(r'name="shipping_method" value="(\d+)"')
CHECKOUT_TOKEN = re.compile(r'name="checkout_token" value="([^"]+)"')
# gunicorn hooks writing a line per request: method, path, status, worker CPU ms, wall ms.
HOOKS = "mixed_gunicorn.py"


def main():
    database_url = os.environ.get("BENCH_DATABASE_URL", bench.DEFAULT_DATABASE_URL)
    os.environ.update(bench.server_environment(database_url))
    bench.create_database(database_url)
    sys.path.insert(0, str(bench.ROOT))
    os.chdir(bench.ROOT)

    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    call_command("seed_demo", "--products", str(bench.PRODUCTS), "--customers", "0", "--no-images")
    cache.clear()
    catalog = Catalog.load()
    started = timezone.now()
    connections.close_all()

    with tempfile.TemporaryDirectory(prefix="shop-mixed-") as scratch:
        results = {}
        for name, mix in (("browsing only", BROWSING_MIX), ("with orders", BUYING_MIX)):
            request_log = Path(scratch) / f"{name}.log"
            os.environ["MIXED_REQUEST_LOG"] = str(request_log)
            port = bench.free_port()
            log = Path(scratch) / "gunicorn.log"
            server = bench.start_gunicorn(
                port, log, "shop.settings", f"--config={Path(__file__).with_name(HOOKS)}"
            )
            try:
                bench.wait_until_up(port, server, log)
                warm_up(port, catalog)
                shoppers = [Shopper(port, catalog) for _ in range(SHOPPERS)]
                for shopper in shoppers:
                    shopper.add_to_cart()
                request_log.write_text("")
                counts = drive(shoppers, mix, seconds=SECONDS)
            finally:
                bench.stop(server)
            results[name] = summarise(request_log, counts)
    sys.exit(0 if report(results, oversold(started)) else 1)


class Catalog:
    """What shoppers pick from: listing pages, product pages and variants that are in stock."""

    def __init__(self, listings, products, variant_ids):
        self.listings = listings
        self.products = products
        self.variant_ids = variant_ids
        self.searches = [f"/products/?{urlencode({'q': word})}" for word in SEARCH_WORDS]

    @classmethod
    def load(cls):
        from django.urls import reverse

        from catalog.models import Category, Product, Variant

        listing = reverse("catalog:product_list")
        listings = [reverse("catalog:home"), *(f"{listing}?page={page}" for page in range(1, 6))]
        listings += [category.get_absolute_url() for category in Category.objects.all()[:40]]
        products = [
            product.get_absolute_url()
            for product in Product.objects.filter(is_active=True, in_stock=True).order_by("?")[:400]
        ]
        variant_ids = list(
            Variant.objects.filter(
                is_active=True, product__is_active=True, stock_available__gte=20
            ).values_list("pk", flat=True)[:400]
        )
        return cls(listings, products, variant_ids)


class Shopper:
    """A guest with a cookie jar and a kept-alive connection to the server."""

    def __init__(self, port, catalog):
        self.port = port
        self.catalog = catalog
        self.cookies = {}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.in_cart = 0
        self.shipping_method = None

    def request(self, method, path, form=None):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            form = {**form, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        content = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, response.headers.get("Location", ""), content

    def act(self, action, counts):
        if action == "browse":
            self.request("GET", random.choice(self.catalog.listings))
        elif action == "product":
            self.request("GET", random.choice(self.catalog.products))
        elif action == "search":
            self.request("GET", random.choice(self.catalog.searches))
        elif action == "add":
            self.add_to_cart()
        else:
            if not self.in_cart:
                self.add_to_cart()
            if self.check_out():
                counts["orders"] += 1
        counts[action] += 1

    def add_to_cart(self):
        if "csrftoken" not in self.cookies:
            self.request("GET", "/")
        form = {"variant": random.choice(self.catalog.variant_ids), "quantity": 1, "next": "/"}
        status, _location, _content = self.request("POST", "/cart/add/", form)
        if status == 302:
            self.in_cart += 1

    def check_out(self):
        if self.shipping_method is None:
            _status, _location, content = self.request("GET", "/checkout/")
            found = SHIPPING_METHOD.search(content)
            if found is None:
                return False
            self.shipping_method = found[1]
        form = {**ADDRESS, "shipping_method": self.shipping_method}
        status, location, _content = self.request("POST", "/checkout/", form)
        if status != 302 or "review" not in location:
            return False
        _status, _location, content = self.request("GET", "/checkout/review/")
        token = CHECKOUT_TOKEN.search(content)
        if token is None:
            return False
        status, location, _content = self.request(
            "POST", "/checkout/review/", {"checkout_token": token[1]}
        )
        self.in_cart = 0
        return status == 302 and "/orders/" in location


def warm_up(port, catalog):
    """Every page shoppers may ask for, once, so both runs start from a warm cache."""
    shopper = Shopper(port, catalog)
    for path in (*catalog.listings, *catalog.products, *catalog.searches):
        shopper.request("GET", path)


def drive(shoppers, mix, *, seconds):
    """A thread per shopper acting in `mix` for `seconds`; returns how often each action ran."""
    actions, weights = list(mix), list(mix.values())
    deadline = time.monotonic() + seconds
    totals = dict.fromkeys((*BUYING_MIX, "orders"), 0)
    lock = threading.Lock()

    def shop(shopper):
        counts = dict.fromkeys(totals, 0)
        while time.monotonic() < deadline:
            shopper.act(random.choices(actions, weights)[0], counts)
        with lock:
            for action, count in counts.items():
                totals[action] += count

    threads = [threading.Thread(target=shop, args=(shopper,)) for shopper in shoppers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return totals


def summarise(request_log, counts):
    """Pages/s, orders/s and server time per page (GETs other than cart and checkout)."""
    cpu, wall, answers_5xx = [], [], 0
    for line in request_log.read_text().splitlines():
        method, path, status, cpu_ms, wall_ms = line.split()
        if status.startswith("5"):
            answers_5xx += 1
        if method == "GET" and not path.startswith(("/cart", "/checkout", "/orders")):
            cpu.append(float(cpu_ms))
            wall.append(float(wall_ms))
    cpu.sort()
    return {
        "pages/s": len(cpu) / SECONDS,
        "orders/s": counts["orders"] / SECONDS,
        "cpu ms": statistics.fmean(cpu),
        "cpu p50": cpu[len(cpu) // 2],
        "cpu p99": cpu[int(len(cpu) * 0.99)],
        "wall ms": statistics.fmean(wall),
        "5xx": answers_5xx,
    }


def oversold(since):
    """Units the run's orders hold that no stock backs: per variant, units ordered since `since`
    beyond those reserved for it, plus any units reserved beyond those on hand."""
    from django.db.models import F, Sum

    from orders.models import Order, OrderLine
    from shipping.models import StockLevel

    ordered = dict(
        OrderLine.objects.filter(order__created_at__gte=since, order__status=Order.Status.CONFIRMED)
        .order_by()
        .values_list("variant_id")
        .annotate(units=Sum("quantity"))
    )
    reserved = dict(
        StockLevel.objects.filter(variant_id__in=list(ordered))
        .order_by()
        .values_list("variant_id")
        .annotate(units=Sum("reserved"))
    )
    short = sum(max(0, units - reserved.get(pk, 0)) for pk, units in ordered.items())
    beyond = StockLevel.objects.filter(reserved__gt=F("on_hand")).aggregate(
        units=Sum(F("reserved") - F("on_hand"))
    )["units"]
    return short + (beyond or 0)


def report(results, units_oversold):
    browsing, buying = results["browsing only"], results["with orders"]
    extra = buying["cpu ms"] / browsing["cpu ms"] - 1
    lines = [
        f"{SHOPPERS} guest shoppers over HTTP, {SECONDS} s each; gunicorn {bench.WORKERS} sync "
        f"workers; mix with orders {BUYING_MIX}",
        "",
        "| traffic | pages/s | orders/s | server CPU ms per page: mean | p50 | p99 "
        "| wall ms per page | 5xx |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, figures in results.items():
        lines.append(
            f"| {name} | {figures['pages/s']:.0f} | {figures['orders/s']:.1f} | "
            f"{figures['cpu ms']:.2f} | {figures['cpu p50']:.2f} | {figures['cpu p99']:.1f} | "
            f"{figures['wall ms']:.1f} | {figures['5xx']} |"
        )
    answers_5xx = browsing["5xx"] + buying["5xx"]
    passed = extra <= MAX_EXTRA_SERVER_TIME and not units_oversold and not answers_5xx
    lines += [
        "",
        f"A page costs {extra:+.0%} server CPU time while orders flow "
        f"(target: at most +{MAX_EXTRA_SERVER_TIME:.0%}).",
        f"Units oversold: {units_oversold}; answers 5xx: {answers_5xx}.",
        "Result: " + ("met" if passed else "MISSED"),
    ]
    text = "\n".join(lines)
    print(text)
    bench.RESULTS.mkdir(exist_ok=True)
    (bench.RESULTS / time.strftime("mixed-%Y%m%d-%H%M%S.md")).write_text(text + "\n")
    return passed


if __name__ == "__main__":
    main()
