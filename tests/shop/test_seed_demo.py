import io
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal
from itertools import combinations

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.db.models import Min, Q, Sum
from django.utils import timezone

from accounts.models import User
from catalog.models import Category, Product, Variant
from orders.models import Order, OrderLine
from payments.models import Payment
from shipping.models import (
    Allocation,
    Carrier,
    PurchaseOrderLine,
    Shipment,
    ShippingMethod,
    StockLevel,
    StockMovement,
    Supplier,
)
from shipping.services import Outcome, replenish_stock
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

Status = Order.Status


def seed(*args):
    """Seed a small shop; no past orders unless the arguments ask for them."""
    out = io.StringIO()
    call_command(
        "seed_demo",
        "--customers",
        "3",
        "--no-images",
        "--orders",
        "0",
        *args,
        stdout=out,
        verbosity=0,
    )
    return out.getvalue()


def snapshot():
    """What a shopper and a warehouse would notice of the catalog, independent of row ids."""
    return [
        (
            product.slug,
            product.title,
            product.description,
            product.category.slug,
            product.brand.name,
            product.min_price,
            product.in_stock,
            sorted(str(value) for value in product.attributes.all()),
            [
                (
                    variant.sku,
                    variant.name,
                    variant.price,
                    variant.compare_at_price,
                    variant.weight_grams,
                    variant.is_active,
                    variant.stock_available,
                    sorted(str(value) for value in variant.options.all()),
                )
                for variant in product.variants.all()
            ],
        )
        for product in Product.objects.select_related("category", "brand")
        .prefetch_related("attributes__attribute", "variants__options__attribute")
        .order_by("slug")
    ]


def test_the_same_seed_gives_the_same_shop():
    with transaction.atomic():
        seed("--products", "30", "--seed", "7")
        first = snapshot()
        transaction.set_rollback(True)
    assert not Product.objects.exists()

    seed("--products", "30", "--seed", "7")

    assert snapshot() == first
    assert len(first) == 30


def test_another_seed_gives_another_catalog():
    seed("--products", "10", "--seed", "1")
    seed("--products", "10", "--seed", "2")

    assert Product.objects.count() == 20


def test_seeding_twice_adds_nothing():
    seed("--products", "30")
    before = snapshot()
    counts = (
        User.objects.count(),
        Supplier.objects.count(),
        StockLevel.objects.count(),
        StockMovement.objects.count(),
    )

    seed("--products", "30")

    assert snapshot() == before
    assert (
        User.objects.count(),
        Supplier.objects.count(),
        StockLevel.objects.count(),
        StockMovement.objects.count(),
    ) == counts


def test_a_larger_run_tops_up_without_touching_what_is_there():
    seed("--products", "20")
    before = snapshot()

    seed("--products", "30")

    after = snapshot()
    assert len(after) == 30
    assert [product for product in after if product in before] == before


def test_the_catalog_is_a_tree_with_products_in_its_leaves():
    seed("--products", "30")

    assert {category.slug for category in Category.objects.filter(parent=None)} == {
        "clothing",
        "shoes",
        "electronics",
        "home",
        "sports",
    }
    assert not Product.objects.filter(category__children__isnull=False).exists()
    assert all(1 <= product.variants.count() <= 6 for product in Product.objects.all())
    assert Variant.objects.filter(compare_at_price__isnull=False).exists()


def test_the_figures_listings_filter_on_agree_with_variants_and_stock():
    seed("--products", "30")

    for product in Product.objects.annotate(
        cheapest=Min("variants__price", filter=Q(variants__is_active=True))
    ):
        assert product.min_price == (product.cheapest or Decimal("0.00"))
        sellable = product.variants.filter(is_active=True, stock_available__gt=0).exists()
        assert product.in_stock is sellable
    for variant in Variant.objects.annotate(units=Sum("stock_levels__on_hand")):
        assert variant.stock_available == (variant.units or 0)
    # Every unit on hand arrived through a receipt in the stock ledger.
    for level in StockLevel.objects.all():
        receipts = level.movements.filter(kind=StockMovement.Kind.RECEIPT)
        assert list(receipts.values_list("on_hand_change", "on_hand_after")) == [
            (level.on_hand, level.on_hand)
        ]


def test_staff_and_customers_can_sign_in_after_seeding():
    seed("--products", "0")

    assert User.objects.get(email="admin@example.com").is_superuser
    assert User.objects.filter(email__startswith="customer").count() == 3


def test_if_empty_leaves_a_shop_with_users_alone():
    UserFactory()

    out = seed("--products", "5", "--if-empty")

    assert "nothing seeded" in out
    assert not Product.objects.exists()


def test_products_get_a_drawn_image():
    call_command(
        "seed_demo", "--products", "3", "--customers", "0", stdout=io.StringIO(), verbosity=0
    )

    for product in Product.objects.prefetch_related("images"):
        [image] = product.images.all()
        assert image.alt == product.title
        assert image.image.size > 0


def order_snapshot():
    """What the demo orders are, independent of their random numbers and of today's date."""
    return [
        (
            order.checkout_token,
            order.email,
            order.status,
            order.payment_method,
            order.shipping_method_name,
            order.total,
            [(line.sku, line.quantity, line.unit_price) for line in order.lines.all()],
            [event.to_status for event in order.events.all()],
        )
        for order in Order.objects.prefetch_related("lines", "events").order_by("checkout_token")
    ]


def test_past_orders_are_placed_and_moved_on_through_the_services(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        seed("--products", "40", "--customers", "6", "--orders", "50")

    orders = Order.objects.prefetch_related("lines", "events")
    assert len(orders) == 50
    statuses = Counter(order.status for order in orders)
    assert statuses[Status.COMPLETED] + statuses[Status.DELIVERED] > 25
    assert statuses[Status.CANCELLED] >= 1
    assert {order.payment_method for order in orders} == {
        Order.PaymentMethod.CASH_ON_DELIVERY,
        Order.PaymentMethod.BANK_TRANSFER,
    }
    now = timezone.now()
    for order in orders:
        assert order.user.email == order.email and order.lines.all()
        assert now - timedelta(days=90) <= order.created_at <= now - timedelta(days=1)
        events = list(order.events.all())
        assert events[0].created_at == order.created_at
        assert [event.created_at for event in events] == sorted(e.created_at for e in events)
        for before, after in zip(events, events[1:], strict=False):
            assert after.from_status == before.to_status
    assert (now - max(order.created_at for order in orders)).days < 30
    assert (now - min(order.created_at for order in orders)).days > 60
    # Demo customers have real-looking addresses but must never get an email, not even
    # about the parcels the carrier delivered.
    assert Shipment.objects.exists()
    assert mail.outbox == []


def test_seeded_orders_keep_stock_ledger_and_bestsellers_in_agreement():
    seed("--products", "40", "--customers", "6", "--orders", "50")

    for level in StockLevel.objects.all():
        ledger = level.movements.aggregate(
            on_hand=Sum("on_hand_change"), reserved=Sum("reserved_change")
        )
        assert (ledger["on_hand"], ledger["reserved"]) == (level.on_hand, level.reserved)
        assert level.reserved == (level.allocations.aggregate(units=Sum("quantity"))["units"] or 0)
    for variant in Variant.objects.annotate(
        on_hand=Sum("stock_levels__on_hand"), reserved=Sum("stock_levels__reserved")
    ):
        assert variant.stock_available == (variant.on_hand or 0) - (variant.reserved or 0)
    assert StockLevel.objects.filter(reserved__gt=0).exists()
    sold = Counter()
    for line in OrderLine.objects.exclude(order__status=Status.CANCELLED).select_related("variant"):
        sold[line.variant.product_id] += line.quantity
    assert sold
    assert {p.pk: p.units_sold for p in Product.objects.filter(units_sold__gt=0)} == dict(sold)


def test_the_same_seed_gives_the_same_orders():
    with transaction.atomic():
        seed("--products", "30", "--orders", "20", "--seed", "5")
        first = order_snapshot()
        transaction.set_rollback(True)
    assert not Order.objects.exists()

    seed("--products", "30", "--orders", "20", "--seed", "5")

    assert order_snapshot() == first
    assert len(first) == 20


def test_more_orders_top_up_and_a_second_run_adds_none():
    seed("--products", "30", "--orders", "12")
    first = order_snapshot()
    ledger, parcels = StockMovement.objects.count(), Shipment.objects.count()

    seed("--products", "30", "--orders", "12")
    assert order_snapshot() == first
    assert (StockMovement.objects.count(), Shipment.objects.count()) == (ledger, parcels)

    seed("--products", "30", "--orders", "20")
    after = order_snapshot()
    assert len(after) == 20
    assert [order for order in after if order in first] == first


def test_customers_buy_mostly_in_their_favourite_categories_and_some_products_go_together():
    seed("--products", "120", "--customers", "8", "--orders", "80")

    lines = OrderLine.objects.select_related("order", "variant__product__category")
    by_customer = defaultdict(Counter)
    baskets = defaultdict(set)
    for line in lines:
        by_customer[line.order.email][line.variant.product.category.slug] += line.quantity
        baskets[line.order_id].add(line.variant.product_id)
    in_top_two = sum(
        sum(n for _leaf, n in bought.most_common(2)) for bought in by_customer.values()
    )
    assert in_top_two / sum(sum(bought.values()) for bought in by_customer.values()) > 0.6
    pairs = Counter(pair for basket in baskets.values() for pair in combinations(sorted(basket), 2))
    assert pairs.most_common(1)[0][1] >= 3


def test_orders_need_customers():
    out = seed("--products", "10", "--customers", "0", "--orders", "5")

    assert not Order.objects.exists()
    assert "0 orders" in out


def test_shipping_methods_are_seeded_for_checkout():
    seed("--products", "0")
    seed("--products", "0")

    assert list(ShippingMethod.objects.values_list("name", "is_active")) == [
        ("Standard", True),
        ("Express", True),
    ]


OPEN = (Status.PENDING_PAYMENT, Status.CONFIRMED, Status.PAID, Status.PARTIALLY_SHIPPED)
GONE = (Status.SHIPPED, Status.DELIVERED, Status.COMPLETED)


def test_goods_of_seeded_orders_leave_only_in_parcels_and_the_books_agree():
    seed("--products", "40", "--customers", "6", "--orders", "50")

    orders = Order.objects.prefetch_related("lines__shipment_lines", "shipments", "payments")
    assert Counter(order.status for order in orders)[Status.COMPLETED] > 10
    assert not Allocation.objects.exclude(order_line__order__status__in=OPEN).exists()
    for order in orders:
        if order.status in GONE:
            for line in order.lines.all():
                parcelled = sum(part.quantity for part in line.shipment_lines.all())
                assert line.quantity_shipped == parcelled == line.quantity
            assert {parcel.carrier for parcel in order.shipments.all()} == {Carrier.SIMULATED}
        if order.status == Status.CANCELLED:
            assert not order.shipments.exists()
        if order.status in (Status.DELIVERED, Status.COMPLETED):
            assert {parcel.status for parcel in order.shipments.all()} == {"delivered"}
            [paid] = [p for p in order.payments.all() if p.status == Payment.Status.SUCCEEDED]
            assert paid.amount == order.total
        if order.payment_method == Order.PaymentMethod.CASH_ON_DELIVERY and order.status in (
            Status.DELIVERED,
            Status.COMPLETED,
        ):
            delivered = order.events.get(to_status=Status.DELIVERED).created_at
            assert order.payments.get().paid_at == delivered
    out = io.StringIO()
    call_command("check_books", stdout=out)
    assert out.getvalue().strip() == "The books agree."


def test_the_ledger_holds_the_dated_sales_of_the_last_90_days():
    seed("--products", "40", "--customers", "6", "--orders", "50")

    now = timezone.now()
    for order in Order.objects.prefetch_related("stock_movements", "shipments"):
        reserved = [
            m for m in order.stock_movements.all() if m.kind == StockMovement.Kind.RESERVATION
        ]
        assert reserved and {m.created_at for m in reserved} == {order.created_at}
        for movement in order.stock_movements.all():
            if movement.kind == StockMovement.Kind.SHIPMENT:
                assert movement.created_at in {
                    parcel.created_at for parcel in order.shipments.all()
                }
        for parcel in order.shipments.all():
            steps = list(parcel.events.values_list("happened_at", flat=True))
            assert steps[0] == parcel.created_at > order.created_at
            assert steps == sorted(steps) and steps[-1] < now - timedelta(days=1)
    sales = StockMovement.objects.filter(kind=StockMovement.Kind.RESERVATION)
    assert (now - sales.earliest("created_at").created_at).days > 60
    assert (now - sales.latest("created_at").created_at).days < 14
    # The stock the orders sold from had arrived before the first of them.
    receipts = StockMovement.objects.filter(kind=StockMovement.Kind.RECEIPT)
    assert receipts.latest("created_at").created_at < sales.earliest("created_at").created_at


def test_suppliers_restock_the_demo_and_replenishment_orders_what_sells():
    seed("--products", "40", "--customers", "6", "--orders", "50")

    assert Supplier.objects.count() == 5
    assert all(supplier.lead_time_days > 1 for supplier in Supplier.objects.all())
    assert not StockLevel.objects.filter(supplier__isnull=True).exists()

    plans = replenish_stock()

    outcomes = Counter(plan.outcome for plan in plans)
    assert outcomes[Outcome.ORDER] >= 1
    assert outcomes[Outcome.ABOVE_REORDER_POINT] >= 1
    ordered = PurchaseOrderLine.objects.select_related("purchase_order__supplier")
    assert ordered.exists()
    for line in ordered:
        level = StockLevel.objects.get(
            variant=line.variant, warehouse=line.purchase_order.warehouse
        )
        assert line.purchase_order.supplier == level.supplier
    on_order = sorted(ordered.values_list("variant_id", "quantity"))
    assert Outcome.ORDER not in {plan.outcome for plan in replenish_stock()}
    assert sorted(ordered.values_list("variant_id", "quantity")) == on_order
