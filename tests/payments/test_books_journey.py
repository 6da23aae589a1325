"""A day of staff work done through admin and the staff pages leaves the books agreeing."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from orders.models import Order
from payments.models import Payment, Refund, RefundToPayBack
from shipping.models import Shipment, StockLevel
from support.models import ReturnRequest
from tests.orders.factories import CartLineFactory, place, stocked_variant
from tests.shipping.factories import ShippingMethodFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

S = Order.Status


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what each step queues on commit, as the shop does outside a test transaction."""

    def run(step, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return step(*args, **kwargs)

    return run


def order_action(admin_client, action, *orders):
    return admin_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": action, "_selected_action": [order.pk for order in orders]},
        follow=True,
    )


def books(capsys=None):
    out = StringIO()
    try:
        call_command("check_books", stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def test_staff_work_in_admin_leaves_the_books_agreeing(admin_client, client, run_on_commit):
    variant = stocked_variant(units=20, price=Decimal("10.00"))
    method = ShippingMethodFactory(price=Decimal("5.00"))

    def order(payment_method, quantity=1):
        cart = CartLineFactory(variant=variant, quantity=quantity).cart
        return run_on_commit(place, cart, shipping_method=method, payment_method=payment_method)

    cash = order(Order.PaymentMethod.CASH_ON_DELIVERY, quantity=2)
    shipped = order(Order.PaymentMethod.BANK_TRANSFER)
    refunded = order(Order.PaymentMethod.BANK_TRANSFER)
    cancelled = order(Order.PaymentMethod.BANK_TRANSFER)

    run_on_commit(order_action, admin_client, "mark_paid", shipped, refunded)
    run_on_commit(order_action, admin_client, "ship", cash, shipped)
    parcel = Shipment.objects.get(order=cash)
    run_on_commit(
        admin_client.post,
        reverse("admin:shipping_shipment_changelist"),
        {"action": "mark_delivered", "_selected_action": [parcel.pk]},
    )
    run_on_commit(order_action, admin_client, "deliver", shipped)
    run_on_commit(order_action, admin_client, "complete", cash)
    run_on_commit(order_action, admin_client, "cancel", cancelled)

    for target, amount in ((refunded, refunded.total), (shipped, Decimal("2.00"))):
        payment = Payment.objects.get(order=target, status=Payment.Status.SUCCEEDED)
        form = admin_client.get(reverse("admin:payments_payment_refund", args=[payment.pk]))
        run_on_commit(
            admin_client.post,
            reverse("admin:payments_payment_refund", args=[payment.pk]),
            {
                "amount": str(amount),
                "reason": "Goodwill",
                "pay_back_to": "NL91ABNA0417164300",
                "idempotency_key": form.context["form"]["idempotency_key"].value(),
            },
        )

    run_on_commit(
        client.post,
        reverse("support:return_new", args=[cash.number]) + f"?key={cash.access_key}",
        {
            "key": cash.access_key,
            f"line_{cash.lines.get().pk}": 1,
            "reason": "Too small",
            "pay_back_to": "DE89370400440532013000",
        },
    )
    ticket = ReturnRequest.objects.get(order=cash).ticket
    returns = WarehouseFactory(code="returns")
    for action, data in (("approve", {}), ("receive", {"warehouse": returns.pk})):
        run_on_commit(
            admin_client.post, reverse("support:desk_action", args=[ticket.number, action]), data
        )

    owed = list(RefundToPayBack.objects.values_list("pk", flat=True))
    run_on_commit(
        admin_client.post,
        reverse("admin:payments_refundtopayback_changelist"),
        {"action": "mark_paid_back", "_selected_action": owed},
    )

    statuses = {o.number: o.status for o in Order.objects.all()}
    assert statuses == {
        cash.number: S.PARTIALLY_REFUNDED,
        shipped.number: S.PARTIALLY_REFUNDED,
        refunded.number: S.CANCELLED,
        cancelled.number: S.CANCELLED,
    }
    assert len(owed) == 3
    assert not Refund.objects.exclude(status=Refund.Status.SUCCEEDED).exists()
    assert sum(level.reserved for level in StockLevel.objects.all()) == 0
    assert StockLevel.objects.get(warehouse=returns).on_hand == 1
    assert books() == (0, "The books agree.\n")
