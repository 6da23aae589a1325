"""The framework's ceiling for `make bench`: a bare Django page rendering 24 items from memory.

Settings, URL and view in one module (DJANGO_SETTINGS_MODULE=bench.ceiling), served by gunicorn
exactly like the shop, so each shop page can be stated as a share of what Django itself can do
on this machine. The middleware is what `django-admin startproject` gives; nothing reads a
database or a cache.
"""

from decimal import Decimal
from pathlib import Path

from django.shortcuts import render
from django.urls import path

DEBUG = False
SECRET_KEY = "bench-ceiling-" + "x" * 50
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
ROOT_URLCONF = __name__
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).with_name("templates")],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
USE_TZ = True

PRODUCTS = [
    {
        "title": f"Product {number}",
        "url": f"/products/product-{number}/",
        "brand": f"Brand {number % 7}",
        "price": Decimal("9.90") + number,
        "image": f"/media/products/product-{number}.jpg",
    }
    for number in range(24)
]


def grid(request):
    return render(request, "ceiling.html", {"products": PRODUCTS})


urlpatterns = [path("", grid)]
