"""Load-test the storefront the way it is judged: each page as a share of the framework's ceiling.

Run from the repository root with the project's Python (`make bench`). Uses the database
in $BENCH_DATABASE_URL, or creates `shop_bench` on the local PostgreSQL; seeding is skipped
when it is already there (seed_demo tops up only). Cache and sessions live in Redis as in
production: $BENCH_REDIS_URL, or database 11 of the local Redis, emptied at the start (set it
to "" to cache in each worker's memory instead).

In one run and with the same gunicorn settings it serves the ceiling (bench/ceiling.py: a bare
Django page rendering a 24-item grid from memory) beside the shop, loads each shop page in
rounds alternating with the ceiling, and prints for every page requests/s, p50/p99 and the
ratio to the ceiling against the targets.
Every process it starts is stopped before it exits, also on failure or Ctrl-C.
"""

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres:postgres@127.0.0.1:5432/shop_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
PRODUCTS = 10_000
# Each page is loaded in ROUNDS rounds, each right after as long a round of the ceiling: the
# machine may be busy with other work, and alternating keeps each ratio to figures taken under
# the same conditions.
ROUNDS = 3
SECONDS_PER_ROUND = 2
# Each page is loaded this long unmeasured first, so every worker has its connection and
# cached page before the clock starts.
WARM_UP_SECONDS = 2
WORKERS = os.cpu_count() or 1
CONNECTIONS = 8
RESULTS = ROOT / "bench-results"
# Share of the ceiling each page must reach, and the p99 every page must stay under.
TARGETS = {
    "home": 0.60,
    "listing": 0.60,
    "category": 0.60,
    "product": 0.60,
    "search": 0.30,
    "search, typo": 0.30,
    "listing, signed in": 0.30,
    "product, signed in": 0.30,
}
P99_LIMIT_MS = 50
BENCH_EMAIL = "bench-shopper@example.com"


def main():
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench: BENCH_DATABASE_URL must point at PostgreSQL.")
    os.environ.update(server_environment(database_url))
    wrk = find_wrk()
    create_database(database_url)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)

    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    started = time.monotonic()
    call_command("seed_demo", "--products", str(PRODUCTS), "--customers", "0", "--no-images")
    seed_seconds = time.monotonic() - started
    cache.clear()
    pages = pages_to_load()
    connections.close_all()

    with tempfile.TemporaryDirectory(prefix="shop-bench-") as scratch:
        results = measure(wrk, pages, Path(scratch) / "gunicorn.log")
    report(results, seed_seconds)


def measure(wrk, pages, log):
    """Serve the ceiling and the shop side by side and load each page in rounds alternating
    with the ceiling."""
    ceiling_port, shop_port = free_port(), free_port()
    ceiling = start_gunicorn(ceiling_port, log, "bench.ceiling")
    try:
        shop = start_gunicorn(shop_port, log, "shop.settings")
        try:
            wait_until_up(ceiling_port, ceiling, log)
            wait_until_up(shop_port, shop, log)
            ceiling_url = f"http://127.0.0.1:{ceiling_port}/"
            run_wrk(wrk, ceiling_url, None, seconds=WARM_UP_SECONDS)
            results = []
            for name, path, cookie in pages:
                check_page(shop_port, path, name, cookie)
                url = f"http://127.0.0.1:{shop_port}{path}"
                run_wrk(wrk, url, cookie, seconds=WARM_UP_SECONDS)
                ceiling_runs, page_runs = [], []
                for _round in range(ROUNDS):
                    ceiling_runs.append(run_wrk(wrk, ceiling_url, None, seconds=SECONDS_PER_ROUND))
                    page_runs.append(run_wrk(wrk, url, cookie, seconds=SECONDS_PER_ROUND))
                results.append((name, path, combined(ceiling_runs)[0], *combined(page_runs)))
            return results
        finally:
            stop(shop)
    finally:
        stop(ceiling)


def server_environment(database_url):
    """Production settings, minus HTTPS (the bench speaks plain HTTP to 127.0.0.1)."""
    environment = {
        "DJANGO_SETTINGS_MODULE": "shop.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
    }
    if environment["REDIS_URL"]:
        environment["CACHE_KEY_PREFIX"] = "bench"
    return environment


def find_wrk():
    """wrk from Debian; installed with apt-get when missing and running as root."""
    if shutil.which("wrk") is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            sys.exit("bench: needs wrk (on Debian: apt-get install wrk).")
        print("Installing wrk from Debian…", flush=True)
        apt_get = shutil.which("apt-get")
        quiet = {"stdout": subprocess.DEVNULL, "check": True}
        subprocess.run([apt_get, "update", "-qq"], **quiet)  # noqa: S603 - fixed command
        subprocess.run([apt_get, "install", "-y", "-qq", "wrk"], **quiet)  # noqa: S603
    return shutil.which("wrk")


def create_database(database_url):
    import environ
    import psycopg2
    from psycopg2 import sql

    config = environ.Env.db_url_config(database_url)
    server = psycopg2.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"],
        host=config["HOST"],
        port=config["PORT"] or 5432,
    )
    server.autocommit = True
    try:
        with server.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    finally:
        server.close()


def pages_to_load():
    """The pages a shopper sees most, with a real product, category and brand from the seed:
    (name, path, session cookie or None) for a guest without a session."""
    from django.urls import reverse

    from catalog.models import Brand, Category, Product

    listing = reverse("catalog:product_list")
    product = Product.objects.filter(
        is_active=True, in_stock=True, title__icontains="iphone"
    ).first()
    clothing = Category.objects.get(slug="clothing")
    brand = Brand.objects.filter(products__category__parent__parent=clothing).first()
    filters = {
        "brand": brand.slug,
        "colour": "black",
        "price_min": 10,
        "price_max": 60,
        "in_stock": "on",
        "sort": "price",
    }
    signed_in = signed_in_session()
    guest_with_cart = guest_cart_session(product)
    return [
        ("home", reverse("catalog:home"), None),
        ("listing", listing, None),
        ("category", clothing.get_absolute_url(), None),
        ("filtered listing", f"{clothing.get_absolute_url()}?{urlencode(filters)}", None),
        ("product", product.get_absolute_url(), None),
        ("search", f"{listing}?{urlencode({'q': 'cotton'})}", None),
        ("search, typo", f"{listing}?{urlencode({'q': 'iphnoe'})}", None),
        ("cart", reverse("orders:cart"), guest_with_cart),
        ("listing, signed in", listing, signed_in),
        ("product, signed in", product.get_absolute_url(), signed_in),
    ]


def signed_in_session():
    """A session cookie of a signed-in shopper (made once, kept in the bench database)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _created = get_user_model().objects.get_or_create(
        email=BENCH_EMAIL, defaults={"first_name": "Bench", "last_name": "Shopper"}
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return session_cookie(client)


def guest_cart_session(product):
    """A guest's session cookie with one unit of `product` in the cart."""
    from django.test import Client
    from django.urls import reverse

    from orders.models import CartLine
    from orders.selectors import CART_SESSION_KEY

    variant = product.variants.filter(is_active=True, stock_available__gt=0).first()
    client = Client(HTTP_HOST="127.0.0.1")
    client.post(reverse("orders:cart_add"), {"variant": variant.pk, "quantity": 1})
    cart_key = client.session.get(CART_SESSION_KEY)
    if not CartLine.objects.filter(cart__session_key=cart_key).exists():
        sys.exit("bench: could not put a unit in a guest cart.")
    return session_cookie(client)


def session_cookie(client):
    from django.conf import settings

    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(port, log, settings_module, *options):
    """gunicorn with the same settings for the shop and the ceiling: only the app differs."""
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "django.core.wsgi:get_wsgi_application()",
        f"--bind=127.0.0.1:{port}",
        f"--workers={WORKERS}",
        "--log-level=warning",
        f"--error-logfile={log}",
        *options,
    ]
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module}
    return subprocess.Popen(command, cwd=ROOT, env=environment, start_new_session=True)  # noqa: S603


def wait_until_up(port, server, log):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"bench: gunicorn stopped at start:\n{log.read_text()[-2000:]}")
        try:
            status(port, "/", timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    sys.exit("bench: gunicorn did not answer within 30 s.")


def check_page(port, path, name, cookie):
    """One request first, so a wrong URL fails loudly instead of benchmarking an error page."""
    answer = status(port, path, timeout=30, cookie=cookie)
    if answer != 200:
        sys.exit(f"bench: the {name} page {path} answered {answer}, not 200.")


def status(port, path, *, timeout, cookie=None):
    connection = HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        return connection.getresponse().status
    finally:
        connection.close()


def run_wrk(wrk, url, cookie, *, seconds):
    command = [
        wrk,
        "--threads=2",
        f"--connections={CONNECTIONS}",
        f"--duration={seconds}s",
        "--timeout=10s",
        f"--script={Path(__file__).with_name('latency.lua')}",
        *([f"--header=Cookie: {cookie}"] if cookie else []),
        url,
    ]
    output = subprocess.run(  # noqa: S603 - our own command line
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    rps, p50, p95, p99, errors = line.split()[1:]
    return float(rps), float(p50), float(p95), float(p99), int(errors)


def combined(runs):
    """Rounds of one page as one figure: mean requests/s, median of each latency, errors summed."""
    return (
        statistics.fmean(run[0] for run in runs),
        *(statistics.median(run[index] for run in runs) for index in (1, 2, 3)),
        sum(run[4] for run in runs),
    )


def stop(server):
    """Stop gunicorn and its workers: a polite TERM, then KILL to the group if it lingers."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def report(results, seed_seconds):
    """A markdown table, printed and kept in bench-results/ (one file per run, not committed:
    figures belong to the machine they were taken on)."""
    lines = [
        f"seed_demo --products {PRODUCTS} --no-images: {seed_seconds:.1f} s; cache and sessions: "
        f"{os.environ['REDIS_URL'] or 'local memory'}",
        f"gunicorn {WORKERS} sync workers; wrk 2 threads, {CONNECTIONS} connections; each page "
        f"{ROUNDS} rounds of {SECONDS_PER_ROUND} s, each right after one of the ceiling "
        "(req/s: mean; p50, p99: median of the rounds)",
        "",
        "| page | req/s | p50 ms | p99 ms | errors | ceiling req/s | share | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    missed = []
    for name, _path, ceiling_rps, rps, p50, _p95, p99, errors in results:
        ratio = rps / ceiling_rps
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            met = ratio >= target and p99 < P99_LIMIT_MS and not errors
            verdict = f"≥ {target:.0%}, p99 < {P99_LIMIT_MS} ms: {'met' if met else 'MISSED'}"
            if not met:
                missed.append(name)
        lines.append(
            f"| {name} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {errors} | {ceiling_rps:.0f} "
            f"| {ratio:.1%} | {verdict} |"
        )
    lines += ["", *(f"- {name}: `{path}`" for name, path, *_rest in results)]
    if missed:
        lines += ["", "Targets missed: " + ", ".join(missed)]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / time.strftime("pages-%Y%m%d-%H%M%S.md")).write_text(text + "\n")


if __name__ == "__main__":
    main()
