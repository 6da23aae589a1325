"""Load-test checkout: orders per second through the real services, and proof nothing oversold.

Run from the repository root with the project's Python (`make bench`). Uses the PostgreSQL
database in $BENCH_DATABASE_URL, or creates `shop_bench_checkout` on the local server, and
migrates it. Each run makes its own category, products, warehouse and shipping method, tagged
with a fresh run id, through the catalog and stock services; fills guest carts with
add_to_cart; then WORKERS processes, each with its own connection, call place_order (cash on
delivery) for all the carts at once, in two scenarios:

- one hot variant: HOT_STOCK units and HOT_ORDERS one-unit carts, so half must be refused;
- many variants: MANY_VARIANTS variants with plenty of stock, carts of 1-3 random lines.

orders/s is the orders placed over the wall time of the placing phase; p50/p95 time each
place_order call, refusals included; cpu ms is the worker's own CPU time per call (the database
server's is not in it), a figure that stays meaningful on a machine busy with other work. Order
emails go to Celery's in-memory broker, as in production a worker sends them after the checkout,
not during it. The books are then read back from the database: units reserved beyond on hand,
units ordered beyond those received, and per variant reserved = allocated = ordered, each stock
level equal to the sum of its ledger; the units sold noted by the checkouts are folded into the
products (as the beat task does every minute) and must equal the units ordered; and
`payments.books.check_books` (what `manage.py check_books` runs) must find no disagreement.
Exits 1 when a unit was oversold, the books disagree or a checkout failed for another reason
than sold out. What the run made is deleted at the end, unless the books are wrong: then it is
kept to look at.
"""

import logging
import os
import random
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres:postgres@127.0.0.1:5432/shop_bench_checkout"
WORKERS = 8
HOT_STOCK = 200
HOT_ORDERS = 400
MANY_VARIANTS = 500
MANY_STOCK = 1_000
MANY_ORDERS = 1_000
# Each placing phase stops starting checkouts after this long, so a slow machine still ends.
SECONDS_PER_SCENARIO = 120
SEED = 4
PRICE = Decimal("19.90")
ADDRESS = {
    "full_name": "Bench Shopper",
    "line1": "Unter den Linden 1",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
}
RESULTS = ROOT / "bench-results"


@dataclass(frozen=True)
class Run:
    tag: str
    category: object
    warehouse: object
    method: object


@dataclass(frozen=True)
class Result:
    scenario: str
    attempted: int
    placed: int
    sold_out: int
    failures: list
    skipped: int
    seconds: float
    latencies: list
    cpu: list
    oversold: int
    problems: list


def main():
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench: BENCH_DATABASE_URL must point at PostgreSQL.")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "shop.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-" + "x" * 50,
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": "",
            "CELERY_TASK_ALWAYS_EAGER": "false",
        }
    )
    create_database(database_url)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)

    import django

    django.setup()
    # kombu warns in every process that the in-memory broker has no host name; it needs none.
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    # The workers are forked now, before this process holds a connection they would share.
    connections.close_all()
    with get_context("fork").Pool(WORKERS) as pool:
        run = start_run()
        keep = False
        try:
            results = [hot_variant(pool, run), many_variants(pool, run)]
            keep = any(result.oversold or result.problems for result in results)
        finally:
            if keep:
                print(f"bench: kept the data of run {run.tag} to look at.", file=sys.stderr)
            else:
                clean_up(run)
    report(results)
    if any(result.oversold or result.problems or result.failures for result in results):
        sys.exit(1)


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


def start_run():
    from catalog.bulk import ensure_category
    from shipping.services import create_shipping_method, create_warehouse

    tag = secrets.token_hex(3)
    return Run(
        tag=tag,
        category=ensure_category(path=(f"Bench checkout {tag}",)),
        warehouse=create_warehouse(code=f"bench-{tag}", name=f"Bench {tag}", priority=1),
        method=create_shipping_method(name=f"Bench {tag}", price=Decimal("4.90")),
    )


def hot_variant(pool, run):
    [variant_id] = make_variants(run, "hot", 1)
    receive(pool, run, [variant_id], HOT_STOCK)
    carts = fill_carts(pool, run, "hot", [[(variant_id, 1)]] * HOT_ORDERS)
    return checkout(pool, run, "one hot variant", carts, [variant_id])


def many_variants(pool, run):
    variant_ids = make_variants(run, "many", MANY_VARIANTS)
    receive(pool, run, variant_ids, MANY_STOCK)
    pick = random.Random(SEED)
    contents = [
        [(variant_id, pick.randint(1, 2)) for variant_id in pick.sample(variant_ids, k)]
        for k in (pick.randint(1, 3) for _order in range(MANY_ORDERS))
    ]
    carts = fill_carts(pool, run, "many", contents)
    return checkout(pool, run, "many variants", carts, variant_ids)


def make_variants(run, kind, count):
    from catalog.bulk import CatalogRow, upsert_catalog
    from catalog.models import Variant

    skus = [f"BENCH-{run.tag}-{kind}-{n:04d}".upper() for n in range(count)]
    upsert_catalog(
        rows=[
            CatalogRow(
                row=n + 2,
                sku=sku,
                product_slug=sku.lower(),
                title=f"Bench {kind} {n}",
                category=(run.category.name,),
                price=PRICE,
            )
            for n, sku in enumerate(skus)
        ]
    )
    return list(Variant.objects.filter(sku__in=skus).order_by("pk").values_list("pk", flat=True))


def receive(pool, run, variant_ids, quantity):
    pool.map(_receive, [(variant_id, run.warehouse.pk, quantity) for variant_id in variant_ids])


def fill_carts(pool, run, kind, contents):
    keys = [f"bench-{run.tag}-{kind}-{n}" for n in range(len(contents))]
    return pool.map(_fill_cart, zip(keys, contents, strict=True))


def checkout(pool, run, scenario, cart_ids, variant_ids):
    from payments import books

    deadline = time.monotonic() + SECONDS_PER_SCENARIO
    started = time.monotonic()
    outcomes = list(
        pool.imap_unordered(_place, [(cart_id, run.method.pk, deadline) for cart_id in cart_ids])
    )
    seconds = time.monotonic() - started
    tried = [outcome for outcome in outcomes if outcome[0] != "skipped"]
    placed = sum(1 for kind, *_rest in tried if kind == "placed")
    oversold, problems = check_books(variant_ids, placed)
    problems += check_units_sold(variant_ids)
    problems += [str(disagreement) for disagreement in books.check_books()]
    return Result(
        scenario=scenario,
        attempted=len(tried),
        placed=placed,
        sold_out=sum(1 for kind, *_rest in tried if kind == "sold out"),
        failures=[message for kind, _latency, _cpu, message in tried if kind == "failed"],
        skipped=len(outcomes) - len(tried),
        seconds=seconds,
        latencies=[latency for _kind, latency, _cpu, _message in tried],
        cpu=[cpu for _kind, _latency, cpu, _message in tried],
        oversold=oversold,
        problems=problems,
    )


def check_books(variant_ids, placed):
    """Units oversold, and what disagrees between stock levels, ledger, allocations and orders."""
    from django.db.models import Q, Sum

    from orders.models import Order, OrderLine
    from shipping.models import Allocation, StockLevel, StockMovement

    levels = StockLevel.objects.filter(variant_id__in=variant_ids).annotate(
        ledger_on_hand=Sum("movements__on_hand_change"),
        ledger_reserved=Sum("movements__reserved_change"),
        received=Sum(
            "movements__on_hand_change", filter=Q(movements__kind=StockMovement.Kind.RECEIPT)
        ),
    )
    ordered = dict(
        OrderLine.objects.filter(variant_id__in=variant_ids)
        .values_list("variant_id")
        .annotate(Sum("quantity"))
    )
    allocated = dict(
        Allocation.objects.filter(stock_level__variant_id__in=variant_ids)
        .values_list("stock_level__variant_id")
        .annotate(Sum("quantity"))
    )
    reserved, received, oversold, problems = {}, {}, 0, []
    for level in levels:
        oversold += max(0, level.reserved - level.on_hand)
        reserved[level.variant_id] = reserved.get(level.variant_id, 0) + level.reserved
        received[level.variant_id] = received.get(level.variant_id, 0) + (level.received or 0)
        if (level.on_hand, level.reserved) != (level.ledger_on_hand, level.ledger_reserved):
            problems.append(f"stock level {level.pk} differs from its ledger")
    for variant_id in variant_ids:
        units = ordered.get(variant_id, 0)
        oversold += max(0, units - received.get(variant_id, 0))
        if not units == reserved.get(variant_id, 0) == allocated.get(variant_id, 0):
            problems.append(f"variant {variant_id}: ordered, reserved and allocated differ")
    in_database = Order.objects.filter(lines__variant_id__in=variant_ids).distinct().count()
    if in_database != placed:
        problems.append(f"{placed} orders reported placed, {in_database} in the database")
    return oversold, problems


def check_units_sold(variant_ids):
    """Fold the units sold the checkouts noted; each product's count must equal its lines."""
    from django.db.models import Sum

    from catalog.models import Product
    from catalog.services import fold_units_sold
    from orders.models import OrderLine

    fold_units_sold()
    ordered = dict(
        OrderLine.objects.filter(variant_id__in=variant_ids)
        .values_list("variant__product_id")
        .annotate(Sum("quantity"))
    )
    counted = Product.objects.filter(variants__in=variant_ids).values_list("pk", "units_sold")
    return [
        f"product {pk}: {units_sold} units sold counted, {ordered.get(pk, 0)} ordered"
        for pk, units_sold in counted.distinct()
        if units_sold != ordered.get(pk, 0)
    ]


def clean_up(run):
    """Delete what this run made, ledger first: it protects the orders and stock levels."""
    from django.db import transaction

    from catalog.models import Category, Product
    from orders.models import Cart, Order
    from payments.models import Payment
    from shipping.models import StockLevel, StockMovement

    with transaction.atomic():
        StockMovement.objects.filter(stock_level__warehouse=run.warehouse).delete()
        Payment.objects.filter(order__shipping_method=run.method).delete()
        Order.objects.filter(shipping_method=run.method).delete()
        Cart.objects.filter(session_key__startswith=f"bench-{run.tag}-").delete()
        StockLevel.objects.filter(warehouse=run.warehouse).delete()
        Product.objects.filter(category=run.category).delete()
        Category.objects.filter(pk=run.category.pk).delete()
        run.warehouse.delete()
        run.method.delete()


def report(results):
    header = (
        f"{'scenario':<17}{'checkouts':>10}{'placed':>8}{'sold out':>10}{'failed':>8}"
        f"{'orders/s':>10}{'p50 ms':>8}{'p95 ms':>8}{'cpu ms':>8}{'oversold':>10}"
    )
    lines = [
        f"checkout: {WORKERS} worker processes, each its own connection; place_order with cash "
        f"on delivery",
        "",
        header,
    ]
    notes = []
    for result in results:
        cuts = statistics.quantiles(result.latencies, n=100) if len(result.latencies) > 1 else []
        p50, p95 = (cuts[49] * 1000, cuts[94] * 1000) if cuts else (0.0, 0.0)
        cpu = statistics.fmean(result.cpu) * 1000 if result.cpu else 0.0
        lines.append(
            f"{result.scenario:<17}{result.attempted:>10}{result.placed:>8}{result.sold_out:>10}"
            f"{len(result.failures):>8}{result.placed / result.seconds:>10.1f}{p50:>8.1f}"
            f"{p95:>8.1f}{cpu:>8.1f}{result.oversold:>10}"
        )
        if result.skipped:
            notes.append(f"{result.scenario}: {result.skipped} checkouts not started in time")
        notes += [f"{result.scenario}: {problem}" for problem in result.problems]
        notes += [f"{result.scenario}: failed: {message}" for message in result.failures[:3]]
    lines += ["", f"one hot variant: {HOT_STOCK} in stock, {HOT_ORDERS} one-unit carts"]
    lines.append(
        f"many variants: {MANY_VARIANTS} variants with {MANY_STOCK} each, "
        f"{MANY_ORDERS} carts of 1-3 lines"
    )
    lines += notes or ["books: stock levels, ledger, allocations and orders agree"]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / time.strftime("checkout-%Y%m%d-%H%M%S.txt")).write_text(text + "\n")


# What the worker processes run, each on its own connection.


def _receive(task):
    from catalog.models import Variant
    from shipping.models import Warehouse
    from shipping.services import receive_stock

    variant_id, warehouse_id, quantity = task
    receive_stock(
        variant=Variant.objects.get(pk=variant_id),
        warehouse=Warehouse.objects.get(pk=warehouse_id),
        quantity=quantity,
        note="bench",
    )


def _fill_cart(task):
    """A guest's cart as open_cart makes it, filled through add_to_cart."""
    from orders.models import Cart
    from orders.services import add_to_cart

    session_key, lines = task
    cart = Cart.objects.create(session_key=session_key)
    for variant_id, quantity in lines:
        add_to_cart(cart=cart, variant_id=variant_id, quantity=quantity)
    return cart.pk


def _place(task):
    """(outcome, seconds place_order took, CPU seconds it took here, message) for one cart."""
    from orders.models import Cart, Order
    from orders.services import place_order
    from shipping.services import OutOfStock

    cart_id, method_id, deadline = task
    if time.monotonic() > deadline:
        return ("skipped", 0.0, 0.0, "")
    cart = Cart.objects.get(pk=cart_id)
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        place_order(
            cart=cart,
            checkout_token=secrets.token_urlsafe(16),
            email=f"shopper{cart_id}@example.com",
            address=ADDRESS,
            shipping_method_id=method_id,
            payment_method=Order.PaymentMethod.CASH_ON_DELIVERY,
        )
        outcome, message = "placed", ""
    except OutOfStock:
        outcome, message = "sold out", ""
    except Exception as error:  # counted and shown in the report; the bench then fails
        outcome, message = "failed", repr(error)
    return (outcome, time.perf_counter() - started, time.process_time() - cpu_started, message)


if __name__ == "__main__":
    main()
