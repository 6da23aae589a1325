"""The staff roles, page by page and action by action.

Each identity is a staff member put in one of the groups `setup_roles` makes (or a superuser).
It reaches the pages and runs the actions of its own work; every other page answers 403 (404
for a customer's order page, which never says whether an order exists), every other action is
refused or not offered, and nothing changes.
"""

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

import pytest
from django.urls import reverse

from accounts.roles import ROLES
from accounts.services import setup_roles
from catalog.models import Product
from orders.models import Order, OrderEvent, OrderLine
from payments.services import open_payment
from shipping.models import PurchaseOrder, PurchaseOrderLine, Shipment
from shipping.services import create_shipment, send_purchase_order
from support import services as support
from support.models import ReturnRequest, Ticket
from tests.accounts.factories import StaffFactory, UserFactory
from tests.orders.factories import (
    CartFactory,
    CartLineFactory,
    OrderFactory,
    VoucherFactory,
    place,
)
from tests.orders.factories import stocked_variant as stocked
from tests.shipping.factories import ShippingMethodFactory, SupplierFactory, WarehouseFactory
from tests.support.factories import TicketFactory, delivered_order

pytestmark = pytest.mark.django_db

CATALOG, ORDERS, WAREHOUSE, SERVICE = (
    "Catalog managers",
    "Order managers",
    "Warehouse staff",
    "Customer service",
)
SUPERUSER = "superuser"
IDENTITIES = [*ROLES, SUPERUSER]

CUSTOMER_EMAIL = "mei.chen@example.com"
PHONE = "+49 30 5550100"
VOUCHER_CODE = "SPRING-INSIDER"
COST = Decimal("3.17")


class Shop:
    """One of everything staff work on, each made only when a test asks for it."""

    @cached_property
    def variant(self):
        return stocked(units=10, price=Decimal("10.00"), sku="SHIRT", cost=COST)

    @cached_property
    def order(self):
        """A cash-on-delivery order with a parcel packed and a voucher code on it."""
        cart = CartFactory()
        CartLineFactory(cart=cart, variant=self.variant, quantity=2)
        order = place(cart, shipping_method=ShippingMethodFactory(), email=CUSTOMER_EMAIL)
        Order.objects.filter(pk=order.pk).update(phone=PHONE, voucher_code=VOUCHER_CODE)
        order.refresh_from_db()
        open_payment(order=order)
        return order

    @cached_property
    def shipment(self):
        return create_shipment(order=self.order)

    @cached_property
    def open_order(self):
        """A bank transfer order awaiting payment: it may still be cancelled or marked paid."""
        return OrderFactory(email=CUSTOMER_EMAIL, subtotal=Decimal("20.00"), total=Decimal("20.00"))

    @cached_property
    def ticket(self):
        return TicketFactory(order=self.order, email=CUSTOMER_EMAIL, user=None)

    @cached_property
    def return_request(self):
        order = delivered_order(user=UserFactory())
        line = order.lines.get()
        return support.request_return(order=order, quantities={line.pk: 1}, reason="Too big")

    @cached_property
    def purchase_order(self):
        purchase_order = PurchaseOrder.objects.create(
            supplier=SupplierFactory(), warehouse=WarehouseFactory()
        )
        PurchaseOrderLine.objects.create(
            purchase_order=purchase_order, variant=self.variant, quantity=5
        )
        return purchase_order

    @cached_property
    def sent_purchase_order(self):
        return send_purchase_order(purchase_order=self.purchase_order)

    @cached_property
    def shipping_method(self):
        return ShippingMethodFactory(name="Express", price=Decimal("9.90"))


@pytest.fixture
def shop():
    return Shop()


@pytest.fixture
def sign_in(client):
    groups = {group.name: group for group in setup_roles()}

    def sign_in(identity):
        if identity == SUPERUSER:
            user = StaffFactory(is_superuser=True)
        else:
            user = StaffFactory()
            user.groups.add(groups[identity])
        client.force_login(user)
        return user

    return sign_in


# Pages: where to find them, and who may open them besides superusers.


def admin(name, *args):
    return lambda shop: reverse(f"admin:{name}", args=[arg(shop) for arg in args])


PAGES = {
    "ticket desk": (
        lambda shop: reverse("support:desk_ticket", args=[shop.ticket.number]),
        {SERVICE},
    ),
    "customer's order page": (lambda shop: shop.order.get_absolute_url(), {ORDERS, SERVICE}),
    "packing slip": (
        lambda shop: reverse("shipping:packing_slip", args=[shop.shipment.pk]),
        {ORDERS, WAREHOUSE, SERVICE},
    ),
    "low stock report": (lambda shop: reverse("shipping:low_stock"), {CATALOG, ORDERS, WAREHOUSE}),
    "sales": (lambda shop: reverse("sales"), {ORDERS, SERVICE}),
    "orders": (admin("orders_order_changelist"), {ORDERS, WAREHOUSE, SERVICE}),
    "order": (
        admin("orders_order_change", lambda shop: shop.order.pk),
        {ORDERS, WAREHOUSE, SERVICE},
    ),
    "vouchers": (admin("orders_voucher_changelist"), {ORDERS, SERVICE}),
    "tickets": (admin("support_ticket_changelist"), {SERVICE}),
    "returns": (admin("support_returnrequest_changelist"), {SERVICE}),
    "payments": (admin("payments_payment_changelist"), {ORDERS, SERVICE}),
    "refunds to pay back": (admin("payments_refundtopayback_changelist"), {ORDERS, SERVICE}),
    "webhook events": (admin("payments_webhookevent_changelist"), {ORDERS}),
    "shipments": (admin("shipping_shipment_changelist"), {ORDERS, WAREHOUSE, SERVICE}),
    "stock levels": (admin("shipping_stocklevel_changelist"), {CATALOG, ORDERS, WAREHOUSE}),
    "stock ledger": (admin("shipping_stockmovement_changelist"), {ORDERS, WAREHOUSE}),
    "purchase orders": (
        admin("shipping_purchaseorder_changelist"),
        {CATALOG, ORDERS, WAREHOUSE},
    ),
    "shipping methods": (
        admin("shipping_shippingmethod_changelist"),
        {ORDERS, WAREHOUSE, SERVICE},
    ),
    "products": (admin("catalog_product_changelist"), {CATALOG, WAREHOUSE}),
    "variants": (admin("catalog_variant_changelist"), {CATALOG, WAREHOUSE}),
    "price rules": (admin("catalog_pricerule_changelist"), {CATALOG}),
    "reviews": (admin("catalog_review_changelist"), {CATALOG}),
    "customers": (admin("accounts_user_changelist"), {ORDERS, SERVICE}),
    "sent emails": (admin("shop_sentemail_changelist"), set()),
}


@pytest.mark.parametrize("identity", IDENTITIES)
def test_each_role_opens_the_pages_of_its_work_and_no_other(client, sign_in, shop, identity):
    sign_in(identity)

    seen = {name: client.get(url(shop)).status_code for name, (url, _roles) in PAGES.items()}

    denied = {"customer's order page": 404}
    expected = {
        name: 200 if identity in roles or identity == SUPERUSER else denied.get(name, 403)
        for name, (_url, roles) in PAGES.items()
    }
    assert seen == expected


# What each role sees of a customer on the pages it shares with others.


def page(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200
    return response


def text(response):
    return response.content.decode()


def inlines(response):
    return {formset.opts.model for formset in response.context["inline_admin_formsets"]}


def test_warehouse_staff_see_where_an_order_goes_but_not_who_ordered_or_with_what_voucher(
    client, sign_in, shop
):
    sign_in(WAREHOUSE)
    order = page(client, reverse("admin:orders_order_change", args=[shop.order.pk]))
    orders = page(client, reverse("admin:orders_order_changelist"))
    slip = page(client, reverse("shipping:packing_slip", args=[shop.shipment.pk]))
    by_email = page(client, reverse("admin:orders_order_changelist"), q=CUSTOMER_EMAIL)

    for shown in (text(order), text(slip)):
        assert "Mei Chen" in shown and "Unter den Linden 1" in shown and PHONE in shown
    assert "SHIRT" in text(order)
    assert inlines(order) == {OrderLine}
    for shown in (order, orders, slip):
        assert CUSTOMER_EMAIL not in text(shown)
        assert VOUCHER_CODE not in text(shown)
    assert list(by_email.context["cl"].result_list) == []


def test_order_managers_see_the_customer_the_voucher_and_the_history(client, sign_in, shop):
    sign_in(ORDERS)
    order = page(client, reverse("admin:orders_order_change", args=[shop.order.pk]))
    by_email = page(client, reverse("admin:orders_order_changelist"), q=CUSTOMER_EMAIL)

    assert CUSTOMER_EMAIL in text(order) and VOUCHER_CODE in text(order)
    assert OrderEvent in inlines(order)
    assert list(by_email.context["cl"].result_list) == [shop.order]


@pytest.mark.parametrize(("identity", "may_cancel"), [(ORDERS, True), (SERVICE, False)])
def test_the_cancel_button_on_a_customers_order_is_for_who_may_cancel_it(
    client, sign_in, shop, identity, may_cancel
):
    sign_in(identity)

    shown = text(page(client, shop.open_order.get_absolute_url()))

    assert CUSTOMER_EMAIL in shown
    assert ("Cancel this order" in shown) is may_cancel


@pytest.mark.parametrize(("identity", "sees_cost"), [(CATALOG, True), (WAREHOUSE, False)])
def test_only_who_prices_variants_sees_what_they_cost(client, sign_in, shop, identity, sees_cost):
    sign_in(identity)
    variant = page(client, reverse("admin:catalog_variant_change", args=[shop.variant.pk]))
    variants = page(client, reverse("admin:catalog_variant_changelist"))
    product = page(client, reverse("admin:catalog_product_change", args=[shop.variant.product_id]))

    for shown in (variants, variant, product):
        assert (str(COST) in text(shown)) is sees_cost


@pytest.mark.parametrize(
    ("identity", "edits"),
    [(ORDERS, True), (WAREHOUSE, False), (SERVICE, False), (SUPERUSER, True)],
)
def test_only_order_managers_edit_shipping_prices(client, sign_in, shop, identity, edits):
    sign_in(identity)
    url = reverse("admin:shipping_shippingmethod_change", args=[shop.shipping_method.pk])

    assert ('name="price"' in text(page(client, url))) is edits
    if not edits:
        assert client.post(url, {"name": "Express", "price": "0.00"}).status_code == 403
        shop.shipping_method.refresh_from_db()
        assert shop.shipping_method.price == Decimal("9.90")


@pytest.mark.parametrize(("identity", "edits"), [(ORDERS, True), (SERVICE, False)])
def test_customer_service_reads_vouchers_and_order_managers_edit_them(
    client, sign_in, identity, edits
):
    voucher = VoucherFactory(code="SPRING", value=Decimal("10"))
    sign_in(identity)
    url = reverse("admin:orders_voucher_change", args=[voucher.pk])

    assert ('name="value"' in text(page(client, url))) is edits
    if not edits:
        assert client.post(url, {"code": "SPRING", "value": "90"}).status_code == 403
        voucher.refresh_from_db()
        assert voucher.value == Decimal("10")


# Actions: how to run each, how to tell it happened, and who may besides superusers.


@dataclass
class Action:
    run: object
    happened: object
    roles: set
    # For an admin action: its name and the changelist that offers it.
    name: str = ""
    changelist: str = ""


def admin_action(changelist, name, target, happened, roles):
    def run(client, shop):
        selected = [target(shop).pk]
        url = reverse(f"admin:{changelist}")
        return client.post(url, {"action": name, "_selected_action": selected})

    return Action(run, happened, roles, name=name, changelist=f"admin:{changelist}")


def status(obj):
    obj.refresh_from_db()
    return obj.status


ACTIONS = {
    "answer a ticket on the desk": Action(
        run=lambda client, shop: client.post(
            reverse("support:desk_ticket", args=[shop.ticket.number]),
            {"body": "It left our warehouse today."},
        ),
        happened=lambda shop: shop.ticket.messages.filter(from_staff=True).exists(),
        roles={SERVICE},
    ),
    "take a ticket on the desk": Action(
        run=lambda client, shop: client.post(
            reverse("support:desk_action", args=[shop.ticket.number, "assign"])
        ),
        happened=lambda shop: Ticket.objects.get(pk=shop.ticket.pk).assignee_id is not None,
        roles={SERVICE},
    ),
    "approve a return on the desk": Action(
        run=lambda client, shop: client.post(
            reverse("support:desk_action", args=[shop.return_request.ticket.number, "approve"])
        ),
        happened=lambda shop: status(shop.return_request) == ReturnRequest.Status.APPROVED,
        roles={SERVICE},
    ),
    "cancel a customer's order on its page": Action(
        run=lambda client, shop: client.post(
            reverse("orders:order_cancel", args=[shop.open_order.number])
        ),
        happened=lambda shop: status(shop.open_order) == Order.Status.CANCELLED,
        roles={ORDERS},
    ),
    "cancel an order in admin": admin_action(
        "orders_order_changelist",
        "cancel",
        lambda shop: shop.open_order,
        lambda shop: status(shop.open_order) == Order.Status.CANCELLED,
        {ORDERS},
    ),
    "mark an order paid in admin": admin_action(
        "orders_order_changelist",
        "mark_paid",
        lambda shop: shop.open_order,
        lambda shop: status(shop.open_order) == Order.Status.PAID,
        {ORDERS},
    ),
    "ship an order in admin": admin_action(
        "orders_order_changelist",
        "ship",
        lambda shop: shop.order,
        lambda shop: shop.order.shipments.exists(),
        {WAREHOUSE},
    ),
    "mark a parcel shipped": admin_action(
        "shipping_shipment_changelist",
        "mark_shipped",
        lambda shop: shop.shipment,
        lambda shop: status(shop.shipment) == Shipment.Status.SHIPPED,
        {WAREHOUSE},
    ),
    "send a purchase order": admin_action(
        "shipping_purchaseorder_changelist",
        "send",
        lambda shop: shop.purchase_order,
        lambda shop: status(shop.purchase_order) == PurchaseOrder.Status.SENT,
        {WAREHOUSE},
    ),
    "receive a purchase order": admin_action(
        "shipping_purchaseorder_changelist",
        "receive",
        lambda shop: shop.sent_purchase_order,
        lambda shop: status(shop.sent_purchase_order) == PurchaseOrder.Status.RECEIVED,
        {WAREHOUSE},
    ),
    "take a ticket in admin": admin_action(
        "support_ticket_changelist",
        "assign_to_me",
        lambda shop: shop.ticket,
        lambda shop: Ticket.objects.get(pk=shop.ticket.pk).assignee_id is not None,
        {SERVICE},
    ),
    "hide a product": admin_action(
        "catalog_product_changelist",
        "deactivate",
        lambda shop: shop.variant.product,
        lambda shop: not Product.objects.get(pk=shop.variant.product_id).is_active,
        {CATALOG},
    ),
}


def offered(client, action):
    """Whether the changelist offers the action (a changelist this role can't open doesn't)."""
    response = client.get(reverse(action.changelist))
    action_form = response.status_code == 200 and response.context["action_form"]
    return bool(action_form) and action.name in dict(action_form.fields["action"].choices)


@pytest.mark.parametrize("identity", ROLES)
@pytest.mark.parametrize("name", ACTIONS)
def test_each_role_does_the_work_of_its_role_and_nothing_else(
    client, sign_in, shop, name, identity
):
    action = ACTIONS[name]
    allowed = identity in action.roles or identity == SUPERUSER
    sign_in(identity)

    if action.changelist:
        # Admin answers an action it doesn't offer with "No action selected", and does nothing.
        assert offered(client, action) is allowed
        action.run(client, shop)
    else:
        response = action.run(client, shop)
        assert response.status_code == 302 if allowed else response.status_code in (403, 404)
    assert action.happened(shop) is allowed
