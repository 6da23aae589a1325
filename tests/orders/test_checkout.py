import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orders import services
from orders.models import Cart, CartLine, Order, OrderEvent, Voucher, VoucherRedemption
from shipping.models import StockMovement
from shipping.services import adjust_stock
from tests.accounts.factories import AddressFactory, UserFactory
from tests.shipping.factories import ShippingMethodFactory

from .factories import CartFactory, CartLineFactory, VoucherFactory, place, stocked_variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def method():
    return ShippingMethodFactory(name="Standard", price=Decimal("4.90"))


@pytest.fixture
def variant():
    return stocked_variant(units=10, price=Decimal("19.99"), product__title="Linen shirt")


def fill_cart(client, variant, quantity=2):
    client.post(reverse("orders:cart_add"), {"variant": variant.pk, "quantity": quantity})


def guest_details(method, **overrides):
    return {
        "email": "mei@example.com",
        "full_name": "Mei Chen",
        "line1": "Unter den Linden 1",
        "line2": "",
        "postal_code": "10117",
        "city": "Berlin",
        "country": "DE",
        "phone": "",
        "shipping_method": method.pk,
        "payment_method": "cash_on_delivery",
        "voucher_code": "",
        **overrides,
    }


def review(client):
    """Open the review page and return the checkout token it rendered."""
    response = client.get(reverse("orders:checkout_review"))
    assert response.status_code == 200, response
    return response.context["checkout_token"]


def test_guest_checks_out_with_cash_on_delivery(
    client, variant, method, django_capture_on_commit_callbacks
):
    fill_cart(client, variant, 2)
    assert client.get(reverse("orders:checkout")).status_code == 200

    response = client.post(reverse("orders:checkout"), guest_details(method))
    assert response.status_code == 302 and response.url == reverse("orders:checkout_review")
    page = client.get(reverse("orders:checkout_review")).content.decode()
    for figure in ("39.98", "4.90", "44.88", "7.17", "Including 19% tax"):
        assert figure in page
    token = review(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("orders:checkout_review"), {"checkout_token": token})

    order = Order.objects.get()
    assert response.status_code == 302
    assert response.url == (
        f"{reverse('orders:order_confirmation', args=[order.number])}?key={order.access_key}"
    )
    assert order.status == Order.Status.CONFIRMED
    assert order.user is None and order.email == "mei@example.com"
    assert (order.subtotal, order.shipping_total, order.total) == (
        Decimal("39.98"),
        Decimal("4.90"),
        Decimal("44.88"),
    )
    assert order.tax_rate == Decimal("0.19") and order.tax_total == Decimal("7.17")
    line = order.lines.get()
    assert (line.product_title, line.sku, line.unit_price, line.quantity) == (
        "Linen shirt",
        variant.sku,
        Decimal("19.99"),
        2,
    )
    assert line.tax_amount == Decimal("6.38")
    assert order.events.get().to_status == Order.Status.CONFIRMED
    variant.refresh_from_db()
    assert variant.stock_available == 8
    assert not CartLine.objects.exists()
    assert [message.to for message in mail.outbox] == [["mei@example.com"]]

    confirmation = client.get(response.url).content.decode()
    assert order.number in confirmation
    secret_link = f"{reverse('orders:order_detail', args=[order.number])}?key={order.access_key}"
    assert secret_link in confirmation
    order_page = client.get(secret_link).content.decode()
    assert "Linen shirt" in order_page and "Confirmed, pay on delivery" in order_page


def test_signed_in_shopper_checks_out_with_a_saved_address(client, variant, method):
    user = UserFactory()
    address = AddressFactory(user=user, city="Hamburg", postal_code="20095", country="DE")
    client.force_login(user)
    fill_cart(client, variant, 1)

    form = client.get(reverse("orders:checkout")).context["form"]
    assert "email" not in form.fields
    assert form.initial["saved_address"] == address.pk
    details = guest_details(method, saved_address=address.pk, payment_method="bank_transfer")
    for name in ("email", "full_name", "line1", "postal_code", "city", "country"):
        details[name] = ""
    response = client.post(reverse("orders:checkout"), details)
    assert response.status_code == 302
    client.post(reverse("orders:checkout_review"), {"checkout_token": review(client)})

    order = Order.objects.get()
    assert order.user == user and order.email == user.email
    assert (order.city, order.postal_code, order.full_name) == (
        "Hamburg",
        "20095",
        address.full_name,
    )
    assert order.status == Order.Status.PENDING_PAYMENT
    page = client.get(order.get_absolute_url()).content.decode()
    assert "How to pay by bank transfer" in page
    assert f"Use <strong>{order.number}</strong> as the payment reference" in page
    assert order.number in client.get(reverse("orders:order_list")).content.decode()


def test_a_signed_in_shopper_can_choose_a_new_address_instead_of_a_saved_one(
    client, variant, method
):
    user = UserFactory()
    AddressFactory(user=user, city="Hamburg", postal_code="20095", country="DE")
    client.force_login(user)
    fill_cart(client, variant, 1)

    form = client.get(reverse("orders:checkout")).context["form"]
    assert [str(label) for _value, label in form.fields["saved_address"].choices][0] == (
        "A new address"
    )
    details = guest_details(method, saved_address="", city="Lyon", postal_code="69001")
    details["country"] = "FR"
    response = client.post(reverse("orders:checkout"), details)
    assert response.status_code == 302
    client.post(reverse("orders:checkout_review"), {"checkout_token": review(client)})

    assert (Order.objects.get().city, Order.objects.get().postal_code) == ("Lyon", "69001")


def test_a_double_submit_places_one_order(client, variant, method):
    fill_cart(client, variant, 1)
    client.post(reverse("orders:checkout"), guest_details(method))
    token = review(client)

    first = client.post(reverse("orders:checkout_review"), {"checkout_token": token})
    second = client.post(reverse("orders:checkout_review"), {"checkout_token": token})

    assert Order.objects.count() == 1
    assert first.url == second.url
    assert Order.objects.get().number in second.url
    variant.refresh_from_db()
    assert variant.stock_available == 9


def test_the_same_checkout_token_places_one_order_through_the_service(variant, method):
    cart = CartLineFactory(variant=variant).cart
    first = place(cart, shipping_method=method, checkout_token="same-token")
    CartLineFactory(cart=cart, variant=variant)
    second = place(cart, shipping_method=method, checkout_token="same-token")
    assert first == second and Order.objects.count() == 1


def test_sold_out_lines_are_named_and_the_cart_is_kept(client, variant, method):
    fill_cart(client, variant, 3)
    client.post(reverse("orders:checkout"), guest_details(method))
    token = review(client)
    adjust_stock(
        variant=variant, warehouse=variant.stock_levels.get().warehouse, on_hand=2, note="count"
    )
    movements = StockMovement.objects.count()

    response = client.post(reverse("orders:checkout_review"), {"checkout_token": token})

    assert response.status_code == 302 and response.url == reverse("orders:cart")
    page = client.get(response.url).content.decode()
    assert "Only 2 of “Linen shirt” left; your cart asks for 3." in page
    assert not Order.objects.exists()
    assert StockMovement.objects.count() == movements
    assert Cart.objects.get().lines.get().quantity == 3


def test_posted_prices_are_ignored(client, variant, method):
    fill_cart(client, variant, 1)
    client.post(reverse("orders:checkout"), {**guest_details(method), "total": "0.01"})
    client.post(
        reverse("orders:checkout_review"),
        {"checkout_token": review(client), "unit_price": "0.01", "total": "0.01"},
    )
    order = Order.objects.get()
    assert order.lines.get().unit_price == Decimal("19.99")
    assert order.total == Decimal("24.89")


def test_a_price_change_before_placing_sends_the_shopper_back_to_review(client, variant, method):
    fill_cart(client, variant, 1)
    client.post(reverse("orders:checkout"), guest_details(method))
    token = review(client)
    variant.price = Decimal("24.99")
    variant.save()

    response = client.post(reverse("orders:checkout_review"), {"checkout_token": token})

    assert response.url == reverse("orders:checkout_review")
    assert not Order.objects.exists()
    page = client.get(response.url).content.decode()
    assert "changed from 19.99 to 24.99" in page
    client.post(reverse("orders:checkout_review"), {"checkout_token": token})
    assert Order.objects.get().subtotal == Decimal("24.99")


@pytest.mark.parametrize(
    ("country", "postal_code", "example"),
    [
        ("DE", "1011", "10115"),
        ("FR", "7500A", "75001"),
        ("GB", "12345", "SW1A 1AA"),
        ("US", "ABCDE", "94103"),
        ("CN", "10000", "100000"),
        ("NL", "0123 AB", "1012 AB"),
    ],
)
def test_postal_codes_are_checked_per_country(
    client, variant, method, country, postal_code, example
):
    fill_cart(client, variant, 1)
    response = client.post(
        reverse("orders:checkout"),
        guest_details(method, country=country, postal_code=postal_code),
    )
    assert response.status_code == 400
    assert f"for example {example}" in response.content.decode()


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("GB", "sw1a1aa", "SW1A 1AA"),
        ("NL", "1012ab", "1012 AB"),
        ("US", "94103-1234", "94103-1234"),
    ],
)
def test_postal_codes_are_written_the_countrys_way(country, typed, stored):
    assert services.clean_postal_code(country=country, postal_code=typed) == stored


def test_checkout_asks_for_the_missing_address_fields(client, variant, method):
    fill_cart(client, variant, 1)
    response = client.post(reverse("orders:checkout"), guest_details(method, line1="", email="x"))
    assert response.status_code == 400
    assert set(response.context["form"].errors) >= {"line1", "email"}


def test_tax_follows_the_country_shipped_to(variant, method):
    rates = {}
    for country, postal_code in [("CN", "200000"), ("FR", "75001"), ("US", "94103")]:
        cart = CartLineFactory(variant=variant).cart
        address = {**SHIPPED_TO, "country": country, "postal_code": postal_code}
        order = place(cart, shipping_method=method, address=address)
        rates[country] = (order.tax_rate, order.tax_total)
    assert rates == {
        "CN": (Decimal("0.13"), Decimal("2.86")),
        "FR": (Decimal("0.20"), Decimal("4.15")),
        "US": (Decimal("0.20"), Decimal("4.15")),
    }


SHIPPED_TO = {
    "full_name": "Mei Chen",
    "line1": "1 Road",
    "city": "Somewhere",
    "postal_code": "10117",
    "country": "DE",
}


def test_card_is_offered_only_when_stripe_is_configured(client, variant, method, settings):
    fill_cart(client, variant, 1)
    settings.STRIPE_SECRET_KEY = ""
    response = client.post(reverse("orders:checkout"), guest_details(method, payment_method="card"))
    assert response.status_code == 400
    assert "payment_method" in response.context["form"].errors

    settings.STRIPE_SECRET_KEY = "sk_test_123"
    response = client.post(reverse("orders:checkout"), guest_details(method, payment_method="card"))
    assert response.status_code == 302


def test_checkout_of_an_empty_cart_goes_back_to_the_cart(client):
    response = client.get(reverse("orders:checkout"))
    assert response.status_code == 302 and response.url == reverse("orders:cart")
    response = client.get(reverse("orders:checkout_review"))
    assert response.status_code == 302


def test_a_forged_checkout_token_places_nothing(client, variant, method):
    fill_cart(client, variant, 1)
    client.post(reverse("orders:checkout"), guest_details(method))
    review(client)
    response = client.post(reverse("orders:checkout_review"), {"checkout_token": "forged"})
    assert response.url == reverse("orders:checkout_review")
    assert not Order.objects.exists()


def test_order_numbers_can_be_read_out(variant, method):
    numbers = {
        place(CartLineFactory(variant=variant).cart, shipping_method=method).number
        for _ in range(5)
    }
    assert len(numbers) == 5
    for number in numbers:
        assert re.fullmatch(
            r"SH-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}", number
        )


def test_voucher_takes_its_discount_and_counts_its_use(client, variant, method):
    VoucherFactory(code="SPRING10", kind=Voucher.Kind.PERCENTAGE, value=Decimal("10"))
    fill_cart(client, variant, 2)
    client.post(reverse("orders:checkout"), guest_details(method, voucher_code="spring10"))
    page = client.get(reverse("orders:checkout_review")).content.decode()
    assert "Voucher SPRING10" in page and "4.00" in page
    client.post(reverse("orders:checkout_review"), {"checkout_token": review(client)})

    order = Order.objects.get()
    assert order.discount_total == Decimal("4.00")
    assert order.total == Decimal("39.98") - Decimal("4.00") + Decimal("4.90")
    assert order.voucher_code == "SPRING10"
    assert Voucher.objects.get().times_used == 1
    assert VoucherRedemption.objects.get().order == order


def test_fixed_voucher_never_takes_more_than_the_subtotal(variant, method):
    VoucherFactory(code="BIG", kind=Voucher.Kind.FIXED, value=Decimal("100"))
    order = place(CartLineFactory(variant=variant).cart, shipping_method=method, voucher_code="BIG")
    assert order.discount_total == Decimal("19.99")
    assert order.total == Decimal("4.90")


@pytest.mark.parametrize(
    ("voucher", "message"),
    [
        ({"is_active": False}, "has expired"),
        ({"valid_until": timezone.now() - timedelta(days=1)}, "has expired"),
        ({"valid_from": timezone.now() + timedelta(days=1)}, "can be used from"),
        ({"min_subtotal": Decimal("100")}, "needs a subtotal of at least 100.00"),
        ({"max_uses": 1, "times_used": 1}, "has been used up"),
    ],
)
def test_vouchers_that_do_not_apply_are_refused_with_the_reason(
    client, variant, method, voucher, message
):
    VoucherFactory(code="NOPE", **voucher)
    fill_cart(client, variant, 1)
    response = client.post(reverse("orders:checkout"), guest_details(method, voucher_code="NOPE"))
    assert response.status_code == 400
    assert message in str(response.context["form"].errors["voucher_code"])


def test_unknown_voucher_code_is_refused(client, variant, method):
    fill_cart(client, variant, 1)
    response = client.post(reverse("orders:checkout"), guest_details(method, voucher_code="NOSUCH"))
    assert "There is no voucher with the code “NOSUCH”." in response.content.decode()


def test_voucher_limited_per_customer_refuses_the_second_use(variant, method):
    VoucherFactory(code="ONCE", max_uses_per_customer=1)
    place(CartLineFactory(variant=variant).cart, shipping_method=method, voucher_code="ONCE")
    with pytest.raises(services.VoucherError, match="already used"):
        place(
            CartLineFactory(variant=variant).cart,
            shipping_method=method,
            voucher_code="ONCE",
            email="GUEST@example.com",
        )
    assert Order.objects.count() == 1


def test_failed_checkout_writes_nothing(variant, method):
    VoucherFactory(code="UP", max_uses=1, times_used=1)
    cart = CartLineFactory(variant=variant, quantity=2).cart
    with pytest.raises(services.VoucherError):
        place(cart, shipping_method=method, voucher_code="UP")
    assert not Order.objects.exists() and not OrderEvent.objects.exists()
    assert cart.lines.get().quantity == 2
    variant.refresh_from_db()
    assert variant.stock_available == 10


def test_place_order_refuses_bad_details(variant, method):
    cart = CartFactory()
    CartLineFactory(cart=cart, variant=variant)
    bad = [
        {"email": "not-an-email"},
        {"payment_method": "card"},
        {"payment_method": "bitcoin"},
        {"shipping_method_id": 999999},
        {"shipping_method_id": "abc"},
        {"address": {**SHIPPED_TO, "postal_code": "ABC"}},
        {"address": {**SHIPPED_TO, "country": "XX"}},
        {"address": {**SHIPPED_TO, "line1": ""}},
        {"checkout_token": ""},
    ]
    for overrides in bad:
        with pytest.raises(services.CheckoutError):
            place(cart, shipping_method=method, **overrides)
    assert not Order.objects.exists()
