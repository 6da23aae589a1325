"""Orders recorded rather than placed by a shopper: demo data with a history in the past."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orders import services
from orders.models import Order
from shipping.services import ship_what_is_left
from tests.shipping.factories import ShippingMethodFactory

from .factories import CartLineFactory, place, stocked_variant

pytestmark = pytest.mark.django_db

Status = Order.Status


@pytest.fixture
def order():
    variant = stocked_variant(units=5)
    order = place(CartLineFactory(variant=variant).cart, shipping_method=ShippingMethodFactory())
    ship_what_is_left(order=order)
    return order


def test_backdating_moves_the_order_and_its_timeline_into_the_past(order):
    placed = timezone.now() - timedelta(days=30)
    shipped = placed + timedelta(days=1)

    services.backdate_order(order=order, times=[placed, shipped])

    order.refresh_from_db()
    assert (order.created_at, order.updated_at) == (placed, shipped)
    assert list(order.events.values_list("to_status", "created_at")) == [
        (Status.CONFIRMED, placed),
        (Status.SHIPPED, shipped),
    ]


@pytest.mark.parametrize(
    "times",
    [
        [timedelta(days=-3)],
        [timedelta(days=-3), timedelta(days=-2), timedelta(days=-1)],
        [timedelta(days=-1), timedelta(days=-3)],
        [timedelta(days=-3), timedelta(hours=1)],
    ],
    ids=["too few", "too many", "out of order", "in the future"],
)
def test_backdating_refuses_a_timeline_that_does_not_fit(order, times):
    now = timezone.now()
    placed_at = Order.objects.get(pk=order.pk).created_at

    with pytest.raises(ValueError, match="one time per order event"):
        services.backdate_order(order=order, times=[now + offset for offset in times])

    assert Order.objects.get(pk=order.pk).created_at == placed_at


def test_orders_placed_and_cancelled_without_notice_send_no_email(
    django_capture_on_commit_callbacks,
):
    variant = stocked_variant(units=5)
    cart = CartLineFactory(variant=variant).cart

    with django_capture_on_commit_callbacks(execute=True):
        order = place(cart, shipping_method=ShippingMethodFactory(), notify=False)
        services.cancel_order(order=order, notify=False)

    assert order.status == Status.CANCELLED
    assert mail.outbox == []
