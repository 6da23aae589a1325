"""Real concurrent transactions on PostgreSQL: each thread has its own connection."""

from decimal import Decimal

import pytest

from payments.models import Refund
from support import services
from support.models import ReturnRequest
from tests.accounts.factories import StaffFactory
from tests.shipping.factories import WarehouseFactory
from tests.shipping.test_stock_concurrency import run_concurrently
from tests.support.factories import delivered_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_return_requests_at_once_cannot_return_an_item_twice():
    order = delivered_order(quantity=1)
    line = order.lines.get()

    def ask():
        return services.request_return(order=order, quantities={line.pk: 1}, reason="Twice?")

    outcomes = run_concurrently([ask, ask])

    assert sum(isinstance(outcome, ReturnRequest) for outcome in outcomes) == 1
    assert sum(isinstance(outcome, services.SupportError) for outcome in outcomes) == 1


def test_a_return_received_twice_at_once_refunds_once():
    order = delivered_order(quantity=2, price=Decimal("15.00"))
    staff = StaffFactory()
    return_request = services.request_return(
        order=order, quantities={order.lines.get().pk: 2}, reason="Not needed"
    )
    services.approve_return(return_request=return_request, user=staff)
    warehouse = WarehouseFactory()

    def receive():
        return services.receive_return(
            return_request=return_request, warehouse=warehouse, user=staff
        )

    outcomes = run_concurrently([receive, receive])

    assert sum(isinstance(outcome, services.SupportError) for outcome in outcomes) == 1
    assert Refund.objects.get().amount == Decimal("30.00")
    assert order.payments.get().amount_refunded == 0, "it waits to be paid back by hand"
