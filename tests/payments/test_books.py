"""The books check: a shop run through the services agrees with itself; every way of making
orders, stock, shipments and money disagree behind the services' back is found and linked."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO
from types import SimpleNamespace

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import ROLES
from orders.models import Order, OrderLine
from orders.services import cancel_order
from payments import books
from payments.models import Payment, Refund
from payments.services import (
    apply_intent,
    mark_order_transfer_received,
    mark_refund_paid_back,
    refund_payment,
)
from payments.tasks import check_books
from shipping.models import Allocation, Shipment, StockLevel, StockMovement
from shipping.services import advance_shipment, create_shipment
from shop.money import to_minor_units
from tests.accounts.factories import StaffFactory, UserFactory
from tests.orders.factories import CartFactory, CartLineFactory, place, stocked_variant
from tests.shipping.factories import ShippingMethodFactory

from .factories import PaymentFactory

pytestmark = pytest.mark.django_db

S = Order.Status
M = Order.PaymentMethod
BASE_URL = "https://shop.example.com"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.SHOP_BASE_URL = BASE_URL
    # Card checkout is offered once Stripe has keys; no call reaches Stripe here.
    settings.STRIPE_SECRET_KEY = "sk_test_books"


def order_of(method, variants, *, payment_method):
    """An order of 2 of the first variant and 1 of each other, placed through checkout."""
    cart = CartFactory()
    for position, variant in enumerate(variants):
        CartLineFactory(cart=cart, variant=variant, quantity=2 if position == 0 else 1)
    return place(cart, shipping_method=method, payment_method=payment_method)


def paid_by_card(order):
    """What Stripe's payment_intent.succeeded webhook does to the order's card payment."""
    payment = PaymentFactory(order=order, provider_reference=f"pi_{order.number}")
    amount = to_minor_units(order.total, order.currency)
    apply_intent(
        intent={
            "id": payment.provider_reference,
            "object": "payment_intent",
            "status": "succeeded",
            "amount": amount,
            "amount_received": amount,
            "currency": order.currency.lower(),
            "metadata": {"order_id": str(order.pk), "order_number": order.number},
        }
    )
    return payment


def deliver(order, **quantities):
    shipment = create_shipment(order=order, **quantities)
    advance_shipment(shipment=shipment, status=Shipment.Status.DELIVERED)
    return shipment


def refresh(**orders):
    for order in orders.values():
        order.refresh_from_db()
    return SimpleNamespace(**orders)


@pytest.fixture
def shop(django_capture_on_commit_callbacks):
    """A shop where every order went its way through the services, as staff and shoppers do."""

    def step(action, *args, **kwargs):
        """One action and what follows its commit, as one request or task does it."""
        with django_capture_on_commit_callbacks(execute=True):
            return action(*args, **kwargs)

    staff = StaffFactory()
    method = ShippingMethodFactory(price=Decimal("4.90"))
    shirt = stocked_variant(units=30, price=Decimal("10.00"), sku="SHIRT")
    mug = stocked_variant(units=30, price=Decimal("10.00"), sku="MUG")
    goods = (method, (shirt, mug))

    # Card: paid through the webhook path, one parcel packed that has not left yet.
    card = step(order_of, *goods, payment_method=M.CARD)
    step(paid_by_card, card)
    step(create_shipment, order=card, quantities={card.lines.get(sku="SHIRT").pk: 1})

    # Bank transfer: received, delivered, then part of it paid back by hand.
    transfer = step(order_of, *goods, payment_method=M.BANK_TRANSFER)
    step(mark_order_transfer_received, order=transfer, user=staff)
    step(deliver, transfer)
    payment = transfer.payments.get()
    refund = step(refund_payment, payment=payment, amount=Decimal("10.00"), user=staff)
    step(mark_refund_paid_back, refund=refund, user=staff)

    # Cash on delivery: one delivered (the cash collected at the door), one on its way in
    # part, one not packed yet.
    cash = step(order_of, *goods, payment_method=M.CASH_ON_DELIVERY)
    step(deliver, cash)
    partly = step(order_of, *goods, payment_method=M.CASH_ON_DELIVERY)
    first = step(create_shipment, order=partly, quantities={partly.lines.get(sku="MUG").pk: 1})
    step(advance_shipment, shipment=first, status=Shipment.Status.SHIPPED)
    confirmed = step(order_of, *goods, payment_method=M.CASH_ON_DELIVERY)

    # Awaiting a transfer; and two cancelled, one before and one after the money came.
    awaiting = step(order_of, *goods, payment_method=M.BANK_TRANSFER)
    unpaid_cancelled = step(order_of, *goods, payment_method=M.BANK_TRANSFER)
    step(cancel_order, order=unpaid_cancelled, user=staff)
    paid_cancelled = step(order_of, *goods, payment_method=M.BANK_TRANSFER)
    step(mark_order_transfer_received, order=paid_cancelled, user=staff)
    step(cancel_order, order=paid_cancelled, user=staff)

    mail.outbox.clear()
    return refresh(
        card=card,
        transfer=transfer,
        cash=cash,
        partly=partly,
        confirmed=confirmed,
        awaiting=awaiting,
        unpaid_cancelled=unpaid_cancelled,
        paid_cancelled=paid_cancelled,
    )


def kinds(disagreements):
    return {disagreement.kind for disagreement in disagreements}


def test_a_shop_run_through_the_services_agrees_with_itself(shop):
    assert [shop.card.status, shop.transfer.status] == [S.PAID, S.PARTIALLY_REFUNDED]
    assert [shop.cash.status, shop.partly.status] == [S.DELIVERED, S.PARTIALLY_SHIPPED]
    assert [shop.unpaid_cancelled.status, shop.paid_cancelled.status] == [S.CANCELLED] * 2
    assert Allocation.objects.exists()
    assert StockMovement.objects.filter(kind=StockMovement.Kind.SHIPMENT).exists()

    assert books.check_books() == []


def test_an_empty_shop_agrees_with_itself():
    assert books.check_books() == []


# Tampering with rows behind the services' back


def set_status(order, status):
    Order.objects.filter(pk=order.pk).update(status=status)


def reservation_on_a_completed_order(shop):
    set_status(shop.card, S.COMPLETED)
    return shop.card, "reserved_for_closed_order"


def refunded_order_keeping_its_stock(shop):
    set_status(shop.awaiting, S.REFUNDED)
    return shop.awaiting, "reserved_for_closed_order"


def lost_reservation(shop):
    allocation = Allocation.objects.filter(order_line__order=shop.confirmed).first()
    allocation.delete()
    return allocation.order_line, "line_reservation"


def stock_reserved_by_hand(shop):
    level = StockLevel.objects.get(variant__sku="MUG")
    StockLevel.objects.filter(pk=level.pk).update(reserved=F("reserved") + 1)
    return level, "level_reservations"


def shipped_count_without_parcel(shop):
    line = shop.confirmed.lines.get(sku="MUG")
    OrderLine.objects.filter(pk=line.pk).update(quantity_shipped=1)
    return line, "line_shipped"


def shipment_missing_from_the_ledger(shop):
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM shipping_stockmovement WHERE kind = %s AND order_id = %s",
            [StockMovement.Kind.SHIPMENT, shop.cash.pk],
        )
    return shop.cash, "order_shipment_ledger"


def stock_counted_without_ledger(shop):
    level = StockLevel.objects.get(variant__sku="SHIRT")
    StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + 5)
    return level, "level_ledger"


def ledger_row_rewritten(shop):
    level = StockLevel.objects.get(variant__sku="SHIRT")
    latest = level.movements.order_by("-created_at", "-pk").first()
    StockMovement.objects.filter(pk=latest.pk).update(on_hand_after=F("on_hand_after") + 1)
    return level, "level_last_movement"


def refund_not_counted_on_its_payment(shop):
    payment = shop.transfer.payments.get()
    Payment.objects.filter(pk=payment.pk).update(amount_refunded=0)
    return payment, "payment_refunded"


def cancelled_paid_order_not_refunded(shop):
    Refund.objects.filter(payment__order=shop.paid_cancelled).update(status=Refund.Status.FAILED)
    return shop.paid_cancelled, "cancelled_order_balance"


def paid_transfer_without_its_payment(shop):
    Payment.objects.filter(order=shop.card).update(amount=Decimal("1.00"))
    return shop.card, "paid_order_payment"


def delivered_cash_never_collected(shop):
    Payment.objects.filter(order=shop.cash).update(status=Payment.Status.PENDING, paid_at=None)
    return shop.cash, "paid_order_payment"


def awaiting_order_already_paid(shop):
    Payment.objects.filter(order=shop.awaiting).update(status=Payment.Status.SUCCEEDED)
    return shop.awaiting, "unpaid_order_payment"


def cash_taken_before_delivery(shop):
    Payment.objects.filter(order=shop.partly).update(status=Payment.Status.SUCCEEDED)
    return shop.partly, "unpaid_order_payment"


def refunded_order_keeping_money(shop):
    set_status(shop.transfer, S.REFUNDED)
    return shop.transfer, "refunded_order_balance"


def partial_refund_of_everything(shop):
    Refund.objects.filter(payment__order=shop.transfer).update(amount=shop.transfer.total)
    return shop.transfer, "partially_refunded_order_balance"


def delivered_without_shipment(shop):
    set_status(shop.confirmed, S.DELIVERED)
    return shop.confirmed, "status_shipped"


def delivered_parcel_still_on_its_way(shop):
    Shipment.objects.filter(order=shop.cash).update(status=Shipment.Status.IN_TRANSIT)
    return shop.cash, "status_delivered"


def partially_shipped_with_nothing_gone(shop):
    Shipment.objects.filter(order=shop.partly).update(status=Shipment.Status.PACKED)
    return shop.partly, "status_partially_shipped"


def paid_order_with_a_parcel_gone(shop):
    Shipment.objects.filter(order=shop.card).update(status=Shipment.Status.SHIPPED)
    return shop.card, "status_not_shipped"


def cancelled_order_with_a_parcel(shop):
    set_status(shop.cash, S.CANCELLED)
    return shop.cash, "status_cancelled"


def confirmed_order_paid_by_card(shop):
    Order.objects.filter(pk=shop.confirmed.pk).update(payment_method=M.CARD)
    return shop.confirmed, "status_confirmed"


@pytest.mark.parametrize(
    "tamper",
    [
        reservation_on_a_completed_order,
        refunded_order_keeping_its_stock,
        lost_reservation,
        stock_reserved_by_hand,
        shipped_count_without_parcel,
        shipment_missing_from_the_ledger,
        stock_counted_without_ledger,
        ledger_row_rewritten,
        refund_not_counted_on_its_payment,
        cancelled_paid_order_not_refunded,
        paid_transfer_without_its_payment,
        delivered_cash_never_collected,
        awaiting_order_already_paid,
        cash_taken_before_delivery,
        refunded_order_keeping_money,
        partial_refund_of_everything,
        delivered_without_shipment,
        delivered_parcel_still_on_its_way,
        partially_shipped_with_nothing_gone,
        paid_order_with_a_parcel_gone,
        cancelled_order_with_a_parcel,
        confirmed_order_paid_by_card,
    ],
)
def test_each_disagreement_made_behind_the_services_is_found_and_linked(shop, tamper, admin_client):
    culprit, kind = tamper(shop)

    found = [d for d in books.check_books() if d.kind == kind]

    assert [d.object for d in found] == [culprit]
    assert found[0].url.startswith(f"{BASE_URL}/admin/")
    assert admin_client.get(found[0].url.removeprefix(BASE_URL)).status_code == 200


def test_a_line_disagreement_links_to_its_order(shop):
    line, kind = lost_reservation(shop)

    (found,) = [d for d in books.check_reservations() if d.kind == kind]

    assert found.url == f"{BASE_URL}/admin/orders/order/{shop.confirmed.pk}/change/"
    assert found.message == (
        f"Order {shop.confirmed.number}, {line.sku}: 0 units reserved, but {line.quantity} are "
        f"left to ship ({line.quantity} ordered, 0 shipped)."
    )


def test_the_checks_make_the_same_few_queries_however_many_rows_disagree(shop):
    with CaptureQueriesContext(connection) as clean:
        books.check_books()
    for order in (shop.card, shop.confirmed, shop.awaiting, shop.partly):
        set_status(order, S.DELIVERED)
    stock_counted_without_ledger(shop)
    mug = StockLevel.objects.get(variant__sku="MUG")
    StockLevel.objects.filter(pk=mug.pk).update(on_hand=F("on_hand") + 1)

    with CaptureQueriesContext(connection) as tampered:
        found = books.check_books()

    assert len(found) > 10
    assert len(tampered) == len(clean) < 20


# The command


def run_check_books():
    out = StringIO()
    try:
        call_command("check_books", stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def test_the_command_says_the_books_agree_and_exits_0(shop):
    code, output = run_check_books()

    assert code == 0
    assert output.strip() == "The books agree."


def test_the_command_lists_each_disagreement_with_its_link_and_exits_1(shop):
    delivered_without_shipment(shop)

    code, output = run_check_books()

    # Delivered with no parcel: its units are still reserved, none left, no cash collected.
    number, url = (
        shop.confirmed.number,
        f"{BASE_URL}/admin/orders/order/{shop.confirmed.pk}/change/",
    )
    lines = output.splitlines()
    assert code == 1
    assert [line.split("] ")[0] + "]" for line in lines[:-1]] == [
        "[reserved_for_closed_order]",
        "[paid_order_payment]",
        "[status_shipped]",
    ]
    assert all(f"Order {number}" in line and line.endswith(f" {url}") for line in lines[:-1])
    assert lines[-1] == "3 disagreements of 3 kinds found."


# The nightly task


@pytest.fixture
def staff_to_tell():
    managers = Group.objects.create(name=books.ORDER_MANAGERS)
    boss = UserFactory(is_staff=True, is_superuser=True, email="boss@example.com")
    manager = StaffFactory(email="manager@example.com")
    manager.groups.add(managers)
    StaffFactory(email="warehouse@example.com")
    gone = StaffFactory(email="gone@example.com", is_active=False)
    gone.groups.add(managers)
    return [boss, manager]


def test_the_staff_told_are_superusers_and_order_managers_still_active(staff_to_tell):
    assert list(books.staff_to_tell()) == staff_to_tell
    assert books.ORDER_MANAGERS in ROLES


def test_the_nightly_task_emails_the_disagreements_once_a_day(shop, staff_to_tell):
    delivered_without_shipment(shop)

    found = check_books()
    again = check_books()

    assert found == again > 0
    assert sorted(message.to[0] for message in mail.outbox) == [
        "boss@example.com",
        "manager@example.com",
    ]
    body = mail.outbox[0].body
    assert f"Order {shop.confirmed.number}" in body
    assert f"{BASE_URL}/admin/orders/order/{shop.confirmed.pk}/change/" in body
    assert f"disagree on {found} points" in mail.outbox[0].subject


def test_a_long_list_is_cut_short_in_the_email(shop, staff_to_tell, monkeypatch):
    monkeypatch.setattr(books, "EMAILED_AT_MOST", 1)
    delivered_without_shipment(shop)

    found = check_books()

    assert f"…and {found - 1} more." in mail.outbox[0].body
    assert mail.outbox[0].body.count("/change/") == 1


def test_the_nightly_task_tells_staff_again_the_next_day(shop, staff_to_tell):
    delivered_without_shipment(shop)
    check_books()

    with time_machine.travel(timezone.now() + timedelta(days=1)):
        check_books()

    assert len(mail.outbox) == 2 * len(staff_to_tell)


def test_the_nightly_task_sends_nothing_when_the_books_agree(shop, staff_to_tell):
    assert check_books() == 0
    assert mail.outbox == []
