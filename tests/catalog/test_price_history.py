import csv
import importlib
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db.models import ProtectedError
from django.urls import reverse

from catalog import services
from catalog.models import (
    CategoryPromotion,
    PriceHistory,
    PriceHistoryIsFinal,
    PriceRule,
    Product,
    Variant,
)
from catalog.pricing import reprice
from tests.accounts.factories import StaffFactory

from .factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

D = Decimal
DAY = datetime(2026, 3, 2, tzinfo=UTC)
Kind = PriceHistory.Kind


def at(hour):
    return time_machine.travel(DAY + timedelta(hours=hour), tick=False)


@pytest.fixture
def staff():
    return StaffFactory(is_superuser=True)


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def price_of(variant):
    return Variant.objects.get(pk=variant.pk).price


def history(variant):
    return list(PriceHistory.objects.filter(variant=variant).order_by("pk"))


def variant_fields(variant, **changes):
    fields = {
        "sku": variant.sku,
        "name": variant.name,
        "price": variant.price,
        "compare_at_price": variant.compare_at_price or "",
        "cost": variant.cost or "",
        "sale_price": "",
        "sale_starts_at_0": "",
        "sale_starts_at_1": "",
        "sale_ends_at_0": "",
        "sale_ends_at_1": "",
        "weight_grams": variant.weight_grams,
        "position": variant.position,
        "is_active": "on",
    }
    fields.update(changes)
    return {name: value for name, value in fields.items() if value is not None}


def edit_in_product_admin(client, variant, **changes):
    """Post the product's change page as staff would, with the variant's fields changed."""
    product = variant.product
    fields = variant_fields(variant, **changes)
    data = {
        "title": product.title,
        "slug": product.slug,
        "description": product.description,
        "category": product.category_id,
        "is_active": "on",
        "variants-TOTAL_FORMS": 1,
        "variants-INITIAL_FORMS": 1,
        "variants-0-id": variant.pk,
        "variants-0-product": product.pk,
        **{f"variants-0-{name}": value for name, value in fields.items()},
        "images-TOTAL_FORMS": 0,
        "images-INITIAL_FORMS": 0,
    }
    response = client.post(reverse("admin:catalog_product_change", args=[product.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]


def edit_on_variant_page(client, variant, **changes):
    data = {"product": variant.product_id, **variant_fields(variant, **changes)}
    data.update({"price_history-TOTAL_FORMS": 0, "price_history-INITIAL_FORMS": 0})
    response = client.post(reverse("admin:catalog_variant_change", args=[variant.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]


def test_a_hand_edit_then_two_repricing_runs_stay_within_the_cap_from_the_days_first_price(
    admin_client, staff
):
    variant = VariantFactory(price=D("90.99"), cost=D("40.00"), stock_available=500)
    PriceRule.objects.create(
        name="Clear the shelves",
        strategy=PriceRule.Strategy.MARK_DOWN_SLOW,
        product=variant.product,
        step_percent=D("8"),
        max_daily_change_percent=D("10"),
    )

    with at(9):
        edit_in_product_admin(admin_client, variant, price="85.00")
    with at(10):
        reprice()
    with at(15):
        reprice()

    assert price_of(variant) == D("81.90")  # not 78.20, then 76.50: 10 % below 90.99 at most
    assert [(row.kind, row.old_price, row.new_price) for row in history(variant)] == [
        (Kind.MANUAL, D("90.99"), D("85.00")),
        (Kind.REPRICING, D("85.00"), D("81.90")),
    ]
    with at(23):
        assert reprice() == []

    with at(24 + 9):  # the next day starts from 81.90
        reprice()
    assert price_of(variant) == D("75.35")


def test_a_price_edited_in_the_product_admin_is_history_with_who_and_why(admin_client, staff):
    variant = VariantFactory(price=D("28.00"), compare_at_price=D("30.00"))

    edit_in_product_admin(admin_client, variant, price="20.00", compare_at_price="25.00")

    variant.refresh_from_db()
    assert (variant.price, variant.compare_at_price) == (D("20.00"), D("25.00"))
    assert Product.objects.get(pk=variant.product_id).min_price == D("20.00")
    (row,) = history(variant)
    assert (row.kind, row.old_price, row.new_price) == (Kind.MANUAL, D("28.00"), D("20.00"))
    assert row.changed_by == staff
    assert row.reason == "Changed in admin"


def test_raising_price_and_compare_at_price_together_in_admin_works(admin_client):
    variant = VariantFactory(price=D("20.00"), compare_at_price=D("25.00"))

    edit_in_product_admin(admin_client, variant, price="28.00", compare_at_price="30.00")

    variant.refresh_from_db()
    assert (variant.price, variant.compare_at_price) == (D("28.00"), D("30.00"))


def test_saving_a_variant_with_its_price_unchanged_writes_no_history(admin_client):
    variant = VariantFactory(price=D("19.99"))

    edit_in_product_admin(admin_client, variant, name="Large", weight_grams=900)

    variant.refresh_from_db()
    assert (variant.name, variant.weight_grams, variant.price) == ("Large", 900, D("19.99"))
    assert not PriceHistory.objects.exists()


def test_a_price_edited_on_the_variant_page_is_history_too(admin_client, staff):
    variant = VariantFactory(price=D("19.99"))

    edit_on_variant_page(admin_client, variant, price="17.50", name="Blue")

    variant.refresh_from_db()
    assert (variant.price, variant.name) == (D("17.50"), "Blue")
    (row,) = history(variant)
    assert (row.kind, row.new_price, row.changed_by) == (Kind.MANUAL, D("17.50"), staff)


def test_a_sale_set_in_admin_is_history_with_its_window(admin_client, staff):
    variant = VariantFactory(price=D("20.00"))

    edit_in_product_admin(
        admin_client,
        variant,
        sale_price="15.00",
        sale_starts_at_0="2026-03-05",
        sale_starts_at_1="00:00:00",
        sale_ends_at_0="2026-03-08",
        sale_ends_at_1="00:00:00",
    )

    variant.refresh_from_db()
    assert variant.sale_price == D("15.00")
    assert variant.sale_ends_at == datetime(2026, 3, 8, tzinfo=UTC)
    (row,) = history(variant)
    assert (row.kind, row.old_price, row.new_price) == (Kind.SALE, None, D("15.00"))
    assert row.changed_by == staff
    assert "15.00" in row.reason and "2026" in row.reason


def test_ending_a_sale_is_history_and_leaves_repricings_day_start_alone():
    variant = VariantFactory(price=D("20.00"), sale_price=D("15.00"))

    with at(9):
        services.set_sale(variant=variant, sale_price=None)

    (row,) = history(variant)
    assert (row.kind, row.old_price, row.new_price, row.reason) == (
        Kind.SALE,
        D("15.00"),
        None,
        "Sale ended",
    )
    assert Variant.objects.get(pk=variant.pk).sale_price is None
    assert services.set_sale(variant=variant, sale_price=None) is None  # no change, no row


def test_an_import_that_changes_a_price_is_history_without_a_user(tmp_path):
    variant = VariantFactory(sku="MUG-1", price=D("12.00"), compare_at_price=D("15.00"))
    unchanged = VariantFactory(sku="MUG-2", product=variant.product, price=D("9.00"))
    product = variant.product
    path = tmp_path / "prices.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "product_slug", "title", "category", "price", "compare_at_price"])
        for sku, price, compare_at in (("MUG-1", "8.00", "10.00"), ("MUG-2", "9.00", "")):
            writer.writerow(
                [sku, product.slug, product.title, product.category.name, price, compare_at]
            )

    call_command("import_catalog", str(path), stdout=io.StringIO())

    variant.refresh_from_db()
    assert (variant.price, variant.compare_at_price) == (D("8.00"), D("10.00"))
    (row,) = PriceHistory.objects.all()
    assert (row.variant, row.kind, row.old_price, row.new_price) == (
        variant,
        Kind.IMPORT,
        D("12.00"),
        D("8.00"),
    )
    assert row.changed_by is None
    assert row.reason == "import_catalog prices.csv"
    assert not history(unchanged)


def test_repricing_history_names_its_rule_and_no_user():
    variant = VariantFactory(price=D("20.00"), cost=D("10.00"), stock_available=200)
    rule = PriceRule.objects.create(
        name="Slow", strategy=PriceRule.Strategy.MARK_DOWN_SLOW, product=variant.product
    )

    with at(9):
        reprice()

    (row,) = history(variant)
    assert (row.kind, row.rule, row.changed_by) == (Kind.REPRICING, rule, None)


def test_a_price_the_shop_cant_charge_is_refused_and_nothing_is_written():
    variant = VariantFactory(price=D("20.00"), compare_at_price=D("25.00"))

    for price in (D("-1.00"), D("25.00")):
        with pytest.raises(services.InvalidPrice):
            services.change_prices(
                changes=[services.NewPrice(variant_id=variant.pk, price=price)],
                kind=Kind.MANUAL,
            )

    assert price_of(variant) == D("20.00")
    assert not PriceHistory.objects.exists()


def promotion_rows(category):
    return list(
        PriceHistory.objects.filter(category=category, kind=Kind.PROMOTION)
        .order_by("pk")
        .values_list("reason", flat=True)
    )


def test_a_category_promotion_is_recorded_once_per_change_on_its_category(admin_client, staff):
    kitchen = CategoryFactory(name="Kitchen")
    VariantFactory.create_batch(3, product=ProductFactory(category=kitchen))
    fields = {
        "name": "Spring",
        "category": kitchen.pk,
        "percent_off": "10",
        "starts_at_0": "2026-03-05",
        "starts_at_1": "00:00:00",
        "ends_at_0": "2026-03-08",
        "ends_at_1": "00:00:00",
        "is_active": "on",
    }

    admin_client.post(reverse("admin:catalog_categorypromotion_add"), fields)
    promotion = CategoryPromotion.objects.get()
    change = reverse("admin:catalog_categorypromotion_change", args=[promotion.pk])
    admin_client.post(change, {**fields, "percent_off": "15"})
    admin_client.post(change, {**fields, "percent_off": "15", "name": "Spring sale"})
    admin_client.post(
        reverse("admin:catalog_categorypromotion_delete", args=[promotion.pk]), {"post": "yes"}
    )

    assert not CategoryPromotion.objects.exists()
    reasons = promotion_rows(kitchen)
    assert len(reasons) == 3  # created, 10 → 15 %, deleted; the renaming changed no price
    assert reasons[0].startswith("Created “Spring”: 10% off from")
    assert reasons[1].startswith("Changed to “Spring”: 15% off")
    assert reasons[2].startswith("Deleted “Spring sale”: 15% off")
    assert set(PriceHistory.objects.values_list("changed_by", flat=True)) == {staff.pk}
    assert not PriceHistory.objects.filter(variant__isnull=False).exists()


def test_moving_a_promotion_to_another_category_is_recorded_on_both():
    kitchen, garden = CategoryFactory(), CategoryFactory()
    with at(9):
        promotion = services.save_category_promotion(
            promotion=CategoryPromotion(
                name="Spring", category=kitchen, percent_off=D("10"), starts_at=DAY
            )
        )
        promotion.category = garden
        services.save_category_promotion(promotion=promotion)

    assert len(promotion_rows(kitchen)) == 2
    assert promotion_rows(kitchen)[1].startswith("Moved to another category")
    assert promotion_rows(garden)[0].startswith("Changed to “Spring”: 10% off")


def test_history_rows_cannot_be_changed_or_deleted_in_python():
    variant = VariantFactory(price=D("20.00"))
    (row,) = services.change_prices(
        changes=[services.NewPrice(variant_id=variant.pk, price=D("18.00"))], kind=Kind.MANUAL
    )
    row = PriceHistory.objects.get(pk=row.pk)

    row.new_price = D("1.00")
    with pytest.raises(PriceHistoryIsFinal):
        row.save()
    with pytest.raises(PriceHistoryIsFinal):
        row.delete()
    with pytest.raises(PriceHistoryIsFinal):
        PriceHistory.objects.filter(pk=row.pk).update(new_price=D("1.00"))
    with pytest.raises(PriceHistoryIsFinal):
        PriceHistory.objects.all().delete()

    assert PriceHistory.objects.get(pk=row.pk).new_price == D("18.00")


def test_a_variant_with_price_history_cannot_be_deleted():
    variant = VariantFactory(price=D("20.00"))
    services.change_prices(
        changes=[services.NewPrice(variant_id=variant.pk, price=D("18.00"))], kind=Kind.MANUAL
    )

    with pytest.raises(ProtectedError):
        variant.delete()


def test_not_even_a_superuser_can_add_change_or_delete_history_in_admin(admin_client):
    variant = VariantFactory(price=D("20.00"))
    (row,) = services.change_prices(
        changes=[services.NewPrice(variant_id=variant.pk, price=D("18.00"))], kind=Kind.MANUAL
    )
    change = reverse("admin:catalog_pricehistory_change", args=[row.pk])

    listing = admin_client.get(reverse("admin:catalog_pricehistory_changelist"))
    page = admin_client.get(change)
    edited = admin_client.post(change, {"new_price": "1.00", "reason": "oops"})
    deleted = admin_client.post(
        reverse("admin:catalog_pricehistory_delete", args=[row.pk]), {"post": "yes"}
    )
    added = admin_client.get(reverse("admin:catalog_pricehistory_add"))

    assert listing.status_code == 200 and str(variant) in listing.content.decode()
    assert 'name="action"' not in listing.content.decode()  # no bulk delete
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert edited.status_code == 403
    assert deleted.status_code == 403
    assert added.status_code == 403
    assert PriceHistory.objects.get(pk=row.pk).new_price == D("18.00")


def test_the_variant_page_shows_its_history_read_only(admin_client):
    variant = VariantFactory(price=D("20.00"))
    services.change_prices(
        changes=[services.NewPrice(variant_id=variant.pk, price=D("18.00"))],
        kind=Kind.MANUAL,
        reason="Matched the shop next door",
    )

    html = admin_client.get(reverse("admin:catalog_variant_change", args=[variant.pk])).content
    html = html.decode()

    assert "Matched the shop next door" in html
    assert 'name="price_history-0-reason"' not in html
    assert "price_history-0-DELETE" not in html


def test_the_migration_takes_back_write_permissions_granted_before():
    history_type = ContentType.objects.get_for_model(PriceHistory)
    for action in ("add", "change", "delete"):
        Permission.objects.create(
            codename=f"{action}_pricehistory", name=action, content_type=history_type
        )
    migration = importlib.import_module("catalog.migrations.0006_price_history_for_every_change")

    migration.remove_write_permissions(apps, None)

    assert list(
        Permission.objects.filter(content_type=history_type).values_list("codename", flat=True)
    ) == ["view_pricehistory"]
