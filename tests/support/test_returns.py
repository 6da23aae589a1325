from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.services import setup_roles
from orders.models import Order
from payments.models import Payment, Refund
from payments.services import mark_refund_paid_back
from shipping.models import StockLevel, StockMovement
from support import services
from support.models import Message, ReturnRequest
from tests.accounts.factories import StaffFactory, UserFactory
from tests.orders.factories import OrderLineFactory
from tests.shipping.factories import WarehouseFactory
from tests.support.factories import delivered_order

pytestmark = pytest.mark.django_db


def test_a_return_is_approved_received_restocked_and_refunded(client):
    shopper = UserFactory()
    order = delivered_order(user=shopper, units=10, quantity=3, price=Decimal("20.00"))
    line = order.lines.get()
    client.force_login(shopper)

    response = client.post(
        reverse("support:return_new", args=[order.number]),
        {f"line_{line.pk}": 2, "reason": "Too big", "pay_back_to": "NL91 ABNA 0417 1643 00"},
    )

    return_request = ReturnRequest.objects.get()
    ticket = return_request.ticket
    assert response.status_code == 302
    assert (return_request.status, return_request.amount) == ("requested", Decimal("40.00"))
    assert ticket.user == shopper and ticket.order == order

    staff = StaffFactory()
    staff.groups.add(next(group for group in setup_roles() if group.name == "Customer service"))
    client.force_login(staff)
    client.post(reverse("support:desk_action", args=[ticket.number, "approve"]))
    returns = WarehouseFactory(code="returns", name="Returns")
    response = client.post(
        reverse("support:desk_action", args=[ticket.number, "receive"]), {"warehouse": returns.pk}
    )
    assert response.status_code == 302

    return_request.refresh_from_db()
    assert return_request.status == ReturnRequest.Status.REFUNDED
    level = StockLevel.objects.get(variant=line.variant, warehouse=returns)
    assert level.on_hand == 2
    movement = level.movements.get()
    assert (movement.kind, movement.on_hand_change, movement.order, movement.user) == (
        StockMovement.Kind.RETURN,
        2,
        order,
        staff,
    )
    refund = Refund.objects.get()
    assert (refund.amount, refund.is_manual, refund.status, refund.pay_back_to) == (
        Decimal("40.00"),
        True,
        "pending",
        "NL91 ABNA 0417 1643 00",
    )
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED, "nothing is paid back until staff pay it"

    mark_refund_paid_back(refund=refund, user=staff)
    payment = Payment.objects.get(order=order)
    assert payment.amount_refunded == Decimal("40.00")
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED

    client.force_login(shopper)
    steps = client.get(ticket.get_absolute_url()).text
    for step in (
        "Return requested.",
        "Return approved",
        "Items received; 40.00 EUR to pay back by transfer.",
    ):
        assert step in steps
    assert "Return " + ticket.number in client.get(order.get_absolute_url()).text


def test_a_shopper_cannot_return_more_than_they_bought():
    shopper = UserFactory()
    order = delivered_order(user=shopper, quantity=2)
    line = order.lines.get()
    services.request_return(order=order, quantities={line.pk: 1}, reason="Spare", user=shopper)

    with pytest.raises(services.SupportError, match="at most 1"):
        services.request_return(order=order, quantities={line.pk: 2}, reason="Again", user=shopper)


@override_settings(RETURN_WINDOW_DAYS=30)
def test_returns_are_refused_after_the_return_window(client):
    shopper = UserFactory()
    order = delivered_order(user=shopper)
    line = order.lines.get()
    order.events.filter(to_status=Order.Status.DELIVERED).update(
        created_at=order.created_at - timedelta(days=31)
    )
    client.force_login(shopper)

    response = client.post(
        reverse("support:return_new", args=[order.number]),
        {f"line_{line.pk}": 1, "reason": "Late", "pay_back_to": "DE89 3704 0044 0532 0130 00"},
    )

    assert response.status_code == 400
    assert "we take returns for 30 days" in response.text
    assert not ReturnRequest.objects.exists()


def test_an_undelivered_order_cannot_be_returned():
    line = OrderLineFactory(order__status=Order.Status.SHIPPED)
    order = line.order

    with pytest.raises(services.SupportError):
        services.request_return(order=order, quantities={line.pk: 1}, reason="x")


def test_a_declined_return_restocks_and_refunds_nothing():
    order = delivered_order()
    line = order.lines.get()
    return_request = services.request_return(order=order, quantities={line.pk: 1}, reason="Meh")
    staff = StaffFactory()

    services.reject_return(return_request=return_request, user=staff)

    with pytest.raises(services.SupportError):
        services.receive_return(
            return_request=return_request, warehouse=WarehouseFactory(), user=staff
        )
    assert not Refund.objects.exists()
    assert Message.objects.filter(body="Return declined.").exists()


def test_another_shopper_cannot_ask_to_return_an_order(client):
    order = delivered_order(user=UserFactory())
    client.force_login(UserFactory())

    assert client.get(reverse("support:return_new", args=[order.number])).status_code == 404


def test_a_line_of_another_order_cannot_be_returned():
    order, other = delivered_order(), delivered_order()

    with pytest.raises(services.SupportError, match="not part of order"):
        services.request_return(
            order=order, quantities={other.lines.get().pk: 1}, reason="Not mine"
        )
