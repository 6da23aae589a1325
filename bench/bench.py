"""Load-test the storefront: seed 10,000 products on PostgreSQL, serve with gunicorn, drive wrk.

Run from the repository root with the project's Python (`make bench`). Uses the database
in $BENCH_DATABASE_URL, or creates `shop_bench` on the local PostgreSQL; seeding is skipped
when it is already there (seed_demo tops up only). $BENCH_REDIS_URL, when set, puts the cache
in Redis as in production; otherwise each gunicorn worker caches in its own memory.
Every process it starts is stopped before it exits, also on failure or Ctrl-C.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres:postgres@127.0.0.1:5432/shop_bench"
PRODUCTS = 10_000
SECONDS_PER_PAGE = 10
# Each page is loaded this long unmeasured first, so every worker has its connection and
# cached page before the clock starts.
WARM_UP_SECONDS = 2
CORES = os.cpu_count() or 1
WORKERS = 2 * CORES
CONNECTIONS = 2 * WORKERS
RESULTS = ROOT / "bench-results"


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
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    started = time.monotonic()
    call_command("seed_demo", "--products", str(PRODUCTS), "--customers", "0", "--no-images")
    seed_seconds = time.monotonic() - started
    pages = pages_to_load()
    connections.close_all()

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="shop-bench-") as scratch:
        log = Path(scratch) / "gunicorn.log"
        server = start_gunicorn(port, log)
        try:
            wait_until_up(port, server, log)
            results = []
            for name, path in pages:
                check_page(port, path, name)
                url = f"http://127.0.0.1:{port}{path}"
                run_wrk(wrk, url, seconds=WARM_UP_SECONDS)
                results.append((name, path, *run_wrk(wrk, url, seconds=SECONDS_PER_PAGE)))
        finally:
            stop(server)
    report(results, seed_seconds)


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
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", ""),
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
    """The pages a shopper sees most, with a real product, category and brand from the seed."""
    from django.urls import reverse

    from catalog.models import Brand, Category, Product

    listing = reverse("catalog:product_list")
    product = Product.objects.filter(is_active=True, title__icontains="iphone").first()
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
    return [
        ("home", reverse("catalog:home")),
        ("listing", listing),
        ("filtered listing", f"{clothing.get_absolute_url()}?{urlencode(filters)}"),
        ("search", f"{listing}?{urlencode({'q': 'iphnoe'})}"),
        ("product", product.get_absolute_url()),
    ]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(port, log):
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "shop.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={WORKERS}",
        "--log-level=warning",
        f"--error-logfile={log}",
    ]
    return subprocess.Popen(command, cwd=ROOT, start_new_session=True)  # noqa: S603


def wait_until_up(port, server, log):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"bench: gunicorn stopped at start:\n{log.read_text()[-2000:]}")
        try:
            status(port, "/healthz", timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    sys.exit("bench: gunicorn did not answer within 30 s.")


def check_page(port, path, name):
    """One request first, so a wrong URL fails loudly instead of benchmarking an error page."""
    answer = status(port, path, timeout=30)
    if answer != 200:
        sys.exit(f"bench: the {name} page {path} answered {answer}, not 200.")


def status(port, path, *, timeout):
    connection = HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def run_wrk(wrk, url, *, seconds):
    command = [
        wrk,
        f"--threads={min(2, CONNECTIONS)}",
        f"--connections={CONNECTIONS}",
        f"--duration={seconds}s",
        "--timeout=10s",
        f"--script={Path(__file__).with_name('latency.lua')}",
        url,
    ]
    output = subprocess.run(  # noqa: S603 - our own command line
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    rps, p50, p95, p99, errors = line.split()[1:]
    return float(rps), float(p50), float(p95), float(p99), int(errors)


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
    lines = [
        f"seed_demo --products {PRODUCTS} --no-images: {seed_seconds:.1f} s",
        f"gunicorn {WORKERS} sync workers; wrk {CONNECTIONS} connections, "
        f"{SECONDS_PER_PAGE} s per page",
        "",
        f"{'page':<18}{'requests/s':>12}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'errors':>8}",
    ]
    for name, _path, rps, p50, p95, p99, errors in results:
        lines.append(f"{name:<18}{rps:>12.1f}{p50:>10.1f}{p95:>10.1f}{p99:>10.1f}{errors:>8}")
    lines += ["", *(f"{name}: {path}" for name, path, *_rest in results)]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / time.strftime("bench-%Y%m%d-%H%M%S.txt")).write_text(text + "\n")


if __name__ == "__main__":
    main()
