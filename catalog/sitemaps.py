"""sitemap.xml: the home page, the listings, every visible category and every active product."""

from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from .models import Product
from .selectors import category_tree


class PageSitemap(Sitemap):
    changefreq = "daily"
    priority = 1.0

    def items(self):
        return ["catalog:home", "catalog:product_list"]

    def location(self, item):
        return reverse(item)


class CategorySitemap(Sitemap):
    changefreq = "daily"
    priority = 0.7

    def items(self):
        tree = category_tree()
        return sorted((tree.by_id[pk] for pk in tree.visible_ids), key=lambda category: category.pk)


class ProductSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.8

    def items(self):
        products = Product.objects.filter(is_active=True)
        tree = category_tree()
        if tree.has_hidden:
            products = products.filter(category_id__in=tree.visible_ids)
        return products.only("slug", "updated_at").order_by("pk")

    def lastmod(self, product):
        return product.updated_at


SITEMAPS = {"pages": PageSitemap, "categories": CategorySitemap, "products": ProductSitemap}
