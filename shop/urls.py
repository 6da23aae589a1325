import re
from pathlib import Path

from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps import views as sitemap_views
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.static import serve

from catalog.sitemaps import SITEMAPS
from catalog.views import robots_txt
from payments.sales import sales_view

from .health import healthz

admin.site.site_header = _("Shop administration")
admin.site.site_title = _("Shop administration")
# Staff sign in through allauth, so their second factor (TOTP) is asked for in admin too.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("robots.txt", robots_txt, name="robots_txt"),
    path(
        "sitemap.xml",
        sitemap_views.index,
        {"sitemaps": SITEMAPS, "sitemap_url_name": "sitemap_section"},
        name="sitemap",
    ),
    path(
        "sitemap-<section>.xml",
        sitemap_views.sitemap,
        {"sitemaps": SITEMAPS},
        name="sitemap_section",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    # The sales page reads orders, refunds and the ledger, so payments serves it inside admin.
    path("admin/sales/", admin.site.admin_view(sales_view), name="sales"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("payments/", include("payments.urls")),
    path("support/", include("support.urls")),
    path("", include("shipping.urls")),
    path("", include("orders.urls")),
    path("", include("catalog.urls")),
]

# With DEBUG on (as in docker-compose.yml) Django serves the catalog's pictures itself, and
# only those folders, each as its own root so no "../" leads out of it: whatever else lands in
# MEDIA_ROOT is never served by its name. Shoppers' uploads live outside MEDIA_ROOT and go out
# through support's checked download view.
PUBLIC_MEDIA_FOLDERS = ("products", "categories")
if settings.DEBUG:
    urlpatterns += [
        re_path(
            rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}{folder}/(?P<path>.+)$",
            serve,
            {"document_root": Path(settings.MEDIA_ROOT) / folder},
        )
        for folder in PUBLIC_MEDIA_FOLDERS
    ]
