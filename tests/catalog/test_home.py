import re

import pytest
from django.urls import reverse

from tests.catalog.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

HOME = reverse("catalog:home")


def section(html, heading_id):
    return re.search(rf'aria-labelledby="{heading_id}">(.*?)</section>', html, re.S).group(1)


def test_home_welcomes_and_shows_categories_new_arrivals_and_bestsellers(client):
    clothing = CategoryFactory(name="Clothing", position=1)
    books = CategoryFactory(name="Books", position=0)
    CategoryFactory(name="Shirts", parent=clothing)
    CategoryFactory(name="Closed", is_active=False)
    ProductFactory(title="Old favourite", category=books, units_sold=90)
    ProductFactory(title="Steady seller", category=books, units_sold=30)
    ProductFactory(title="Brand new", category=clothing)

    html = client.get(HOME).content.decode()

    assert "<h1>Welcome to Shop</h1>" in html
    categories = section(html, "categories-heading")
    assert categories.index("Books") < categories.index("Clothing")
    assert "Shirts" not in categories and "Closed" not in categories
    assert section(html, "new-heading").index("Brand new") < section(html, "new-heading").index(
        "Old favourite"
    )
    bestsellers = section(html, "bestsellers-heading")
    assert bestsellers.index("Old favourite") < bestsellers.index("Steady seller")
    assert "Brand new" not in bestsellers


def test_the_header_menu_lists_top_level_categories_on_every_page(client):
    CategoryFactory(name="Garden", slug="garden")
    CategoryFactory(name="Hidden", is_active=False)

    html = client.get(reverse("catalog:product_list")).content.decode()
    menu = re.search(r'<nav class="category-menu".*?</nav>', html, re.S).group(0)

    assert '<a href="/categories/garden/">Garden</a>' in menu
    assert "Hidden" not in menu


def test_home_runs_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    ProductFactory.create_batch(20, units_sold=5)

    with django_assert_max_num_queries(5):
        assert client.get(HOME).status_code == 200
