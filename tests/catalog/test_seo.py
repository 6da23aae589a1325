import pytest
from django.urls import reverse

from tests.catalog.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_the_sitemap_lists_pages_categories_and_active_products(client):
    shown = ProductFactory(slug="shown-lamp", category=CategoryFactory(slug="lamps"))
    ProductFactory(slug="hidden-lamp", is_active=False)
    hidden_category = CategoryFactory(slug="attic", is_active=False)
    ProductFactory(slug="attic-chair", category=hidden_category)

    index = client.get("/sitemap.xml")
    sections = [
        client.get(reverse("sitemap_section", args=[section])).content.decode()
        for section in ("pages", "categories", "products")
    ]
    everything = "".join(sections)

    assert index.status_code == 200
    assert "http://testserver/sitemap-products.xml" in index.content.decode()
    assert "<loc>http://testserver/</loc>" in everything
    assert f"<loc>http://testserver{shown.get_absolute_url()}</loc>" in everything
    assert "<loc>http://testserver/categories/lamps/</loc>" in everything
    assert "hidden-lamp" not in everything
    assert "attic" not in everything


def test_robots_txt_keeps_crawlers_out_of_private_pages_and_points_at_the_sitemap(client):
    response = client.get("/robots.txt")
    text = response.content.decode()

    assert response["Content-Type"].startswith("text/plain")
    assert "User-agent: *" in text
    assert f"Disallow: {reverse('orders:cart')}" in text
    assert f"Disallow: {reverse('admin:index')}" in text
    assert "Sitemap: http://testserver/sitemap.xml" in text
