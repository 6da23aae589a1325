"""The audit trail: every staff action is recorded once, readable by superusers, never rewritten."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from catalog.models import CategoryPromotion
from catalog.services import NewPrice, change_prices, save_category_promotion, set_sale
from orders.models import Order
from orders.services import cancel_order, change_status
from payments.services import mark_refund_paid_back, mark_transfer_received, open_payment
from payments.services import request_refund as request_payment_refund
from shipping.models import PurchaseOrder, PurchaseOrderLine, StockLevel
from shipping.services import adjust_stock, receive_purchase_order, receive_stock, ship_what_is_left
from shop.audit import record
from shop.models import AuditEntry, AuditEntryIsFinal
from support import services as support
from support.models import ReturnRequest
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import CategoryFactory, VariantFactory
from tests.orders.factories import CartLineFactory, place, stocked_variant
from tests.shipping.factories import ShippingMethodFactory, SupplierFactory, WarehouseFactory
from tests.support.factories import TicketFactory, delivered_order

pytestmark = pytest.mark.django_db

AUDIT = reverse("admin:shop_auditentry_changelist")


def placed(method=Order.PaymentMethod.BANK_TRANSFER, *, user=None):
    cart = CartLineFactory(variant=stocked_variant(units=5, price=Decimal("20.00"))).cart
    return place(
        cart,
        shipping_method=ShippingMethodFactory(price=Decimal("5.00")),
        payment_method=method,
        user=user,
        email=user.email if user else "guest@example.com",
    )


def only_entry(action):
    entries = list(AuditEntry.objects.filter(action=action))
    assert len(entries) == 1, f"one {action} entry, not {len(entries)}"
    return entries[0]


def what(entry):
    return (entry.target_type, entry.before, entry.after)


def test_staff_cancelling_an_order_records_who_and_the_status_before_and_after():
    order, staff = placed(), StaffFactory()

    cancel_order(order=order, user=staff, note="Customer called")

    entry = only_entry("order.status_changed")
    assert (entry.actor, entry.target_id, entry.target_label, entry.note) == (
        staff,
        str(order.pk),
        order.number,
        "Customer called",
    )
    assert what(entry) == (
        "orders.order",
        {"status": "pending_payment"},
        {"status": "cancelled"},
    )
    assert entry.created_at is not None


def test_a_shopper_cancelling_their_own_order_writes_no_entry():
    shopper = UserFactory()
    order = placed(user=shopper)

    cancel_order(order=order, user=shopper)

    assert order.status == Order.Status.CANCELLED
    assert not AuditEntry.objects.exists()


def test_tasks_and_shopper_checkouts_write_no_entry():
    order = placed()

    change_status(order=order, to_status=Order.Status.PAID)

    assert not AuditEntry.objects.exists()


def test_marking_a_transfer_received_records_the_payment_and_the_order():
    order, staff = placed(), StaffFactory()
    payment = open_payment(order=order)

    mark_transfer_received(payment=payment, user=staff, notify=False)

    entry = only_entry("payment.transfer_received")
    assert entry.actor == staff
    assert what(entry) == ("payments.payment", {"status": "pending"}, {"status": "succeeded"})
    assert only_entry("order.status_changed").after == {"status": "paid"}


def test_a_manual_refund_is_recorded_when_requested_and_when_paid_back():
    order, staff = placed(), StaffFactory()
    payment = open_payment(order=order)
    mark_transfer_received(payment=payment, user=staff, notify=False)

    refund = request_payment_refund(
        payment=payment,
        amount=Decimal("5.00"),
        reason="Scratched",
        idempotency_key="r1",
        user=staff,
    )
    mark_refund_paid_back(refund=refund, user=staff)

    requested = only_entry("refund.requested")
    assert (requested.actor, requested.target_type, requested.after) == (
        staff,
        "payments.refund",
        {"amount": "5.00"},
    )
    paid_back = only_entry("refund.paid_back")
    assert (paid_back.before, paid_back.after) == ({"status": "pending"}, {"status": "succeeded"})


def test_a_refund_asked_for_by_a_task_writes_no_entry():
    order, staff = placed(), StaffFactory()
    payment = open_payment(order=order)
    mark_transfer_received(payment=payment, user=staff, notify=False)

    request_payment_refund(
        payment=payment, amount=Decimal("5.00"), reason="Goodwill", idempotency_key="r2"
    )

    assert not AuditEntry.objects.filter(action="refund.requested").exists()


def test_stock_counts_and_receipts_are_recorded_with_on_hand_before_and_after():
    staff, variant, warehouse = StaffFactory(), VariantFactory(), WarehouseFactory()

    receive_stock(variant=variant, warehouse=warehouse, quantity=10, user=staff, note="Delivery")
    adjust_stock(variant=variant, warehouse=warehouse, on_hand=7, user=staff, note="Broken")

    level = StockLevel.objects.get(variant=variant, warehouse=warehouse)
    received, adjusted = only_entry("stock.received"), only_entry("stock.adjusted")
    assert what(received) == ("shipping.stocklevel", {"on_hand": 0}, {"on_hand": 10})
    assert what(adjusted) == ("shipping.stocklevel", {"on_hand": 10}, {"on_hand": 7})
    assert (adjusted.target_id, adjusted.note, adjusted.actor) == (str(level.pk), "Broken", staff)


def test_receiving_a_purchase_order_is_recorded_with_the_units_that_arrived():
    staff, variant = StaffFactory(), VariantFactory(sku="PO-SKU")
    purchase_order = PurchaseOrder.objects.create(
        supplier=SupplierFactory(), warehouse=WarehouseFactory(), status=PurchaseOrder.Status.SENT
    )
    PurchaseOrderLine.objects.create(purchase_order=purchase_order, variant=variant, quantity=5)

    receive_purchase_order(purchase_order=purchase_order, user=staff)

    entry = only_entry("purchase_order.received")
    assert what(entry) == (
        "shipping.purchaseorder",
        {"status": "sent"},
        {"status": "received", "units": {"PO-SKU": 5}},
    )
    assert entry.target_label == str(purchase_order)


def test_packing_and_shipping_are_recorded_for_each_parcel():
    order, staff = placed(Order.PaymentMethod.CASH_ON_DELIVERY), StaffFactory()

    [shipment] = ship_what_is_left(order=order, user=staff)

    packed = only_entry("shipment.packed")
    assert (packed.actor, packed.target_type, packed.target_id) == (
        staff,
        "shipping.shipment",
        str(shipment.pk),
    )
    assert packed.after["order"] == order.number
    moved = only_entry("shipment.status_changed")
    assert (moved.before, moved.after) == ({"status": "packed"}, {"status": "shipped"})


def test_price_sale_and_promotion_changes_mirror_the_price_history():
    staff, variant = StaffFactory(), VariantFactory(price=Decimal("10.00"))

    change_prices(
        changes=[NewPrice(variant_id=variant.pk, price=Decimal("12.00"))],
        kind="manual",
        user=staff,
        reason="Supplier raised cost",
    )
    set_sale(variant=variant, sale_price=Decimal("9.00"), user=staff)
    promotion = CategoryPromotion(
        category=CategoryFactory(),
        name="Spring",
        percent_off=Decimal("10.00"),
        starts_at=timezone.now(),
    )
    save_category_promotion(promotion=promotion, user=staff)

    price = only_entry("price.changed")
    assert what(price) == ("catalog.variant", {"price": "10.00"}, {"price": "12.00"})
    assert (price.actor, price.note) == (staff, "Supplier raised cost")
    sale = only_entry("price.sale_changed")
    assert (sale.before["sale_price"], sale.after["sale_price"]) == (None, "9.00")
    saved = only_entry("promotion.saved")
    assert (saved.target_type, saved.before, saved.after["percent_off"]) == (
        "catalog.categorypromotion",
        None,
        "10.00",
    )


def test_ticket_assignment_resolution_and_internal_notes_are_recorded():
    staff, ticket = StaffFactory(), TicketFactory()

    support.assign(ticket=ticket, assignee=staff)
    support.add_internal_note(ticket=ticket, body="Called the courier.", author=staff)
    support.resolve(ticket=ticket, user=staff)

    assert what(only_entry("ticket.assigned")) == (
        "support.ticket",
        {"assignee": None},
        {"assignee": staff.pk},
    )
    assert only_entry("ticket.note_added").note == "Called the courier."
    assert only_entry("ticket.resolved").after == {"status": "resolved"}
    assert set(AuditEntry.objects.values_list("actor", "target_label")) == {
        (staff.pk, ticket.number)
    }


def test_approving_and_receiving_a_return_are_recorded_and_the_shoppers_request_is_not():
    shopper, staff = UserFactory(), StaffFactory()
    order = delivered_order(user=shopper)
    return_request = support.request_return(
        order=order, quantities={order.lines.get().pk: 1}, reason="Too big", user=shopper
    )
    assert not AuditEntry.objects.exists()

    support.approve_return(return_request=return_request, user=staff)
    support.receive_return(return_request=return_request, warehouse=WarehouseFactory(), user=staff)

    approved, received = only_entry("return.approved"), only_entry("return.received")
    assert (approved.target_type, approved.before, approved.after) == (
        "support.returnrequest",
        {"status": "requested"},
        {"status": "approved"},
    )
    assert received.after["status"] == ReturnRequest.Status.REFUNDED
    assert only_entry("refund.requested").actor == staff


def test_rejecting_a_return_is_recorded():
    shopper, staff = UserFactory(), StaffFactory()
    order = delivered_order(user=shopper)
    return_request = support.request_return(
        order=order, quantities={order.lines.get().pk: 1}, reason="Changed my mind", user=shopper
    )

    support.reject_return(return_request=return_request, user=staff, note="Worn")

    entry = only_entry("return.rejected")
    assert (entry.after, entry.note) == ({"status": "rejected"}, "Worn")


def user_form(user, **changes):
    """The admin's change form for `user`, as the page would send it back."""
    return {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "addresses-TOTAL_FORMS": "0",
        "addresses-INITIAL_FORMS": "0",
        "address_set-TOTAL_FORMS": "0",
        "address_set-INITIAL_FORMS": "0",
        **changes,
    }


def test_making_someone_staff_and_giving_them_a_role_in_admin_is_recorded(client):
    boss, clerk = StaffFactory(is_superuser=True), UserFactory()
    group = Group.objects.create(name="Customer service")
    client.force_login(boss)

    response = client.post(
        reverse("admin:accounts_user_change", args=[clerk.pk]),
        user_form(clerk, is_staff="on", groups=[group.pk]),
    )

    assert response.status_code == 302
    entry = only_entry("user.role_changed")
    assert (entry.actor, entry.target_type, entry.target_label) == (
        boss,
        "accounts.user",
        clerk.email,
    )
    assert (entry.before, entry.after) == (
        {"is_staff": False, "groups": []},
        {"is_staff": True, "groups": ["Customer service"]},
    )


def test_editing_a_name_in_admin_is_not_a_role_change(client):
    boss, clerk = StaffFactory(is_superuser=True), UserFactory()
    client.force_login(boss)

    client.post(
        reverse("admin:accounts_user_change", args=[clerk.pk]), user_form(clerk, first_name="Ada")
    )

    clerk.refresh_from_db()
    assert clerk.first_name == "Ada"
    assert not AuditEntry.objects.exists()


def test_changing_a_groups_permissions_in_admin_is_recorded(client):
    boss = StaffFactory(is_superuser=True)
    group = Group.objects.create(name="Warehouse staff")
    permission = Permission.objects.get(codename="change_stocklevel")
    client.force_login(boss)

    response = client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": group.name, "permissions": [permission.pk]},
    )

    assert response.status_code == 302
    entry = only_entry("group.changed")
    assert (entry.target_type, entry.before, entry.after) == (
        "auth.group",
        {"permissions": []},
        {"permissions": ["shipping.change_stocklevel"]},
    )


def an_entry():
    staff = StaffFactory()
    return record(actor=staff, action="stock.adjusted", target=staff, after={"x": 1})


def test_only_superusers_read_the_trail_in_admin(client):
    entry = an_entry()
    trusted = StaffFactory()
    trusted.user_permissions.set(Permission.objects.all())
    client.force_login(trusted)

    assert client.get(AUDIT).status_code == 403
    assert client.get(reverse("admin:shop_auditentry_change", args=[entry.pk])).status_code == 403
    assert "shop/auditentry" not in client.get(reverse("admin:index")).text

    client.force_login(StaffFactory(is_superuser=True))
    assert client.get(AUDIT).status_code == 200
    page = client.get(reverse("admin:shop_auditentry_change", args=[entry.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.text


def test_not_even_a_superuser_can_add_change_or_delete_an_entry_in_admin(client):
    entry = an_entry()
    client.force_login(StaffFactory(is_superuser=True))

    add = client.get(reverse("admin:shop_auditentry_add"))
    delete = client.post(reverse("admin:shop_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    bulk = client.post(AUDIT, {"action": "delete_selected", "_selected_action": [entry.pk]})
    change = client.post(
        reverse("admin:shop_auditentry_change", args=[entry.pk]), {"action": "order.cancelled"}
    )

    assert (add.status_code, delete.status_code, change.status_code) == (403, 403, 403)
    assert bulk.status_code in (200, 302)
    entry.refresh_from_db()
    assert (AuditEntry.objects.count(), entry.action) == (1, "stock.adjusted")


def test_the_model_refuses_to_change_or_delete_an_entry():
    entry = an_entry()

    entry.note = "Nothing happened"
    with pytest.raises(AuditEntryIsFinal):
        entry.save()
    with pytest.raises(AuditEntryIsFinal):
        entry.delete()
    with pytest.raises(AuditEntryIsFinal):
        AuditEntry.objects.update(note="Nothing happened")
    with pytest.raises(AuditEntryIsFinal):
        AuditEntry.objects.all().delete()

    assert AuditEntry.objects.get().note == ""


def test_a_staff_member_with_entries_cannot_be_deleted():
    entry = an_entry()

    with pytest.raises(DatabaseError), transaction.atomic():
        entry.actor.delete()

    assert AuditEntry.objects.filter(actor=entry.actor).exists()


@pytest.mark.postgres
def test_postgresql_refuses_raw_updates_and_deletes_of_the_trail():
    entry = an_entry()

    for sql in (
        "UPDATE shop_auditentry SET note = 'forged' WHERE id = %s",
        "DELETE FROM shop_auditentry WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="can't be changed or deleted"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [entry.pk])

    assert AuditEntry.objects.get().note == ""
