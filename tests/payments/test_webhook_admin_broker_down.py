import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from payments.models import WebhookEvent
from shop.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_processing_webhooks_now_with_the_broker_down_says_so_and_keeps_them_pending(
    admin_client, monkeypatch
):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    event = WebhookEvent.objects.create(
        provider="stripe", event_id="evt_stuck", type="payment_intent.succeeded", payload={}
    )

    response = admin_client.post(
        reverse("admin:payments_webhookevent_changelist"),
        {"action": "process_now", "_selected_action": [event.pk]},
        follow=True,
    )

    assert response.status_code == 200
    levels = [message.level_tag for message in get_messages(response.wsgi_request)]
    assert levels == ["error"]
    event.refresh_from_db()
    assert event.processed_at is None
