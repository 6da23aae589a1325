import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Min, Q, Sum

from accounts.models import User
from catalog.models import Category, Product, Variant
from shipping.models import StockLevel, StockMovement
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def seed(*args):
    out = io.StringIO()
    call_command("seed_demo", "--customers", "3", "--no-images", *args, stdout=out, verbosity=0)
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
    counts = (User.objects.count(), StockLevel.objects.count(), StockMovement.objects.count())

    seed("--products", "30")

    assert snapshot() == before
    assert (
        User.objects.count(),
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
