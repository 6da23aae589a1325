import io
import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from catalog.models import Attribute, Product
from tests.accounts.factories import StaffFactory
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

PRODUCTS = reverse("admin:catalog_product_changelist")


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def run_action(client, action, products, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [p.pk for p in products], **extra}
    return client.post(PRODUCTS, data)


def test_bulk_deactivate_and_activate(admin_client):
    kept, hidden, other = ProductFactory.create_batch(3)

    response = run_action(admin_client, "deactivate", [kept, hidden])
    assert response.status_code == 302
    assert set(Product.objects.filter(is_active=False)) == {kept, hidden}

    run_action(admin_client, "activate", [kept])
    assert set(Product.objects.filter(is_active=False)) == {hidden}
    assert other.is_active


def test_move_to_category_asks_where_then_moves(admin_client):
    garden = CategoryFactory(name="Garden")
    CategoryFactory(name="Tools", parent=garden)
    products = ProductFactory.create_batch(2)
    untouched = ProductFactory()

    choose = run_action(admin_client, "move_to_category", products)
    assert choose.status_code == 200
    assert "Move 2 products to:" in choose.content.decode()
    assert "\u2003Tools" in choose.content.decode()

    moved = run_action(admin_client, "move_to_category", products, apply="Move", category=garden.pk)
    assert moved.status_code == 302
    assert {p.category for p in Product.objects.filter(pk__in=[p.pk for p in products])} == {garden}
    untouched.refresh_from_db()
    assert untouched.category != garden


def test_move_to_category_needs_a_category(admin_client):
    product = ProductFactory()

    response = run_action(admin_client, "move_to_category", [product], apply="Move", category="")

    assert response.status_code == 200
    assert "This field is required" in response.content.decode()


def test_products_are_found_by_title_or_exact_sku(admin_client):
    VariantFactory(sku="LAMP-42", product=ProductFactory(title="Desk lamp"))
    ProductFactory(title="Chair")

    by_sku = admin_client.get(PRODUCTS, {"q": "lamp-42"}).content.decode()
    by_title = admin_client.get(PRODUCTS, {"q": "chair"}).content.decode()

    assert "Desk lamp" in by_sku and "Chair" not in by_sku
    assert "Chair" in by_title and "Desk lamp" not in by_title


def test_categories_are_listed_as_an_indented_tree(admin_client):
    zoo = CategoryFactory(name="Zoo", position=0)
    CategoryFactory(name="Apes", parent=zoo)
    CategoryFactory(name="Art", position=1)

    html = admin_client.get(reverse("admin:catalog_category_changelist")).content.decode()
    names = re.findall(r'<th class="field-indented_name"><a [^>]*>([^<]*)</a>', html)

    assert [name.strip("\u2003└ ") for name in names] == ["Zoo", "Apes", "Art"]
    assert names[1].startswith("\u2003")


def test_a_category_cannot_be_moved_inside_itself(admin_client):
    top = CategoryFactory(name="Top")
    child = CategoryFactory(name="Child", parent=top)
    url = reverse("admin:catalog_category_change", args=[top.pk])

    response = admin_client.post(
        url, {"name": "Top", "slug": top.slug, "parent": child.pk, "position": 0, "is_active": "on"}
    )

    assert response.status_code == 200
    assert "can&#x27;t sit inside itself" in response.content.decode()
    top.refresh_from_db()
    assert top.parent is None


def test_an_attribute_cannot_take_a_listing_parameter_as_its_slug(admin_client):
    response = admin_client.post(
        reverse("admin:catalog_attribute_add"),
        {
            "name": "Sort",
            "slug": "sort",
            "position": 0,
            "values-TOTAL_FORMS": 0,
            "values-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 200
    assert "is taken by the product listing" in response.content.decode()
    assert not Attribute.objects.exists()


def picture():
    buffer = io.BytesIO()
    Image.new("RGB", (900, 600), "navy").save(buffer, "JPEG")
    return SimpleUploadedFile("front.jpg", buffer.getvalue(), content_type="image/jpeg")


def test_a_product_saved_in_admin_gets_its_figures_and_image_sizes(admin_client):
    category = CategoryFactory()
    response = admin_client.post(
        reverse("admin:catalog_product_add"),
        {
            "title": "Kite",
            "slug": "kite",
            "description": "Flies.",
            "category": category.pk,
            "is_active": "on",
            "variants-TOTAL_FORMS": 2,
            "variants-INITIAL_FORMS": 0,
            "variants-0-sku": "KITE-S",
            "variants-0-price": "30.00",
            "variants-0-weight_grams": 300,
            "variants-0-position": 0,
            "variants-0-is_active": "on",
            "variants-1-sku": "KITE-L",
            "variants-1-price": "24.50",
            "variants-1-weight_grams": 400,
            "variants-1-position": 1,
            "variants-1-is_active": "on",
            "images-TOTAL_FORMS": 1,
            "images-INITIAL_FORMS": 0,
            "images-0-image": picture(),
            "images-0-alt": "The kite",
            "images-0-position": 0,
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    kite = Product.objects.get(slug="kite")
    assert str(kite.min_price) == "24.50"
    image = kite.images.get()
    assert image.thumbnail and image.card


def test_category_admin_lists_product_counts(admin_client):
    category = CategoryFactory(name="Bikes")
    ProductFactory.create_batch(3, category=category)

    html = admin_client.get(reverse("admin:catalog_category_changelist")).content.decode()

    assert '<td class="field-product_count">3</td>' in html
