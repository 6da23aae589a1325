import time

import pytest
from django.db import OperationalError
from django.test import override_settings
from django.urls import reverse

from shop import health
from shop.celery import app as celery_app

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
UNREACHABLE_CACHE = {
    "default": {
        "BACKEND": "shop.cache_backend.RedisCache",
        "LOCATION": UNREACHABLE_REDIS,
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
    }
}


def test_healthz_is_ok_when_everything_is_up(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cache"] == "ok"


@override_settings(CACHES=UNREACHABLE_CACHE)
def test_healthz_names_an_unreachable_cache_as_degraded_and_stays_200(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["down"] == ["cache"]
    assert body["checks"]["database"] == "ok"


def test_healthz_names_an_unreachable_broker_as_degraded_and_stays_200(
    client, settings, monkeypatch
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setitem(celery_app.conf, "broker_url", UNREACHABLE_REDIS)
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["down"] == ["broker"]


@override_settings(CACHES=UNREACHABLE_CACHE)
def test_healthz_answers_within_a_second_with_redis_and_the_broker_gone(
    client, settings, monkeypatch
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setitem(celery_app.conf, "broker_url", UNREACHABLE_REDIS)
    started = time.monotonic()
    response = client.get(reverse("healthz"))
    assert time.monotonic() - started < 1
    assert response.json()["down"] == ["cache", "broker"]


def test_healthz_answers_503_when_the_database_is_unreachable(client, monkeypatch):
    def unreachable():
        raise OperationalError("connection refused")

    monkeypatch.setattr(health, "check_database", unreachable)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down" and body["down"] == ["database"]
    assert body["checks"]["cache"] == "ok"
