"""Forms of the cart and checkout pages: they parse what was posted; services decide."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from shipping.services import shipping_options

from . import selectors, services
from .models import Order

QUANTITY_MESSAGES = {
    "invalid": _("Enter the quantity as a whole number."),
    "required": _("Enter a quantity."),
    "min_value": _("The quantity must be at least 1."),
    "max_value": _("You can buy at most %(limit_value)s of an item per order."),
}


class AddToCartForm(forms.Form):
    variant = forms.IntegerField(
        min_value=1,
        max_value=services.BIGGEST_ID,
        error_messages={
            "invalid": _("This product is not available."),
            "required": _("Choose a product."),
            "min_value": _("This product is not available."),
            "max_value": _("This product is not available."),
        },
    )
    quantity = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=settings.CART_MAX_QUANTITY,
        error_messages=QUANTITY_MESSAGES,
    )

    def clean_quantity(self):
        return self.cleaned_data["quantity"] or 1


class CartQuantityForm(forms.Form):
    quantity = forms.IntegerField(
        min_value=1, max_value=settings.CART_MAX_QUANTITY, error_messages=QUANTITY_MESSAGES
    )


class CheckoutForm(forms.Form):
    """Contact, shipping address, shipping method, payment and voucher, in one page.

    A signed-in shopper uses the account's email and may pick a saved address instead
    of typing one; a guest gives an email for the confirmation.
    """

    email = forms.EmailField(label=_("Email"), help_text=_("We send the order confirmation here."))
    saved_address = forms.ModelChoiceField(
        label=_("Ship to"),
        queryset=None,
        required=False,
        empty_label=_("A new address"),
        # Without blank=True a RadioSelect drops the empty choice, and with it "A new address".
        blank=True,
        widget=forms.RadioSelect,
    )
    full_name = forms.CharField(label=_("Full name"), max_length=200, required=False)
    line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    line2 = forms.CharField(label=_("Address line 2"), max_length=200, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=20, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    country = forms.ChoiceField(label=_("Country"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    shipping_method = forms.ChoiceField(
        label=_("Shipping method"),
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("This shipping method can't deliver this order.")},
    )
    payment_method = forms.ChoiceField(label=_("Payment method"), widget=forms.RadioSelect)
    voucher_code = forms.CharField(label=_("Voucher code"), max_length=40, required=False)

    def __init__(self, *args, user, subtotal, weight_grams=None, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.user = user if user.is_authenticated else None
        if self.user is None:
            del self.fields["saved_address"]
        else:
            del self.fields["email"]
            addresses = self.user.addresses.all()
            if addresses:
                self.fields["saved_address"].queryset = addresses
            else:
                del self.fields["saved_address"]
        self.fields["country"].choices = [("", _("Choose a country"))] + list(countries)
        # The country is known before the form is sent only from the shopper's last choice
        # or their saved address; the server checks the method against the address anyway.
        self.fields["shipping_method"].choices = [
            (str(option.method.pk), self._shipping_label(option))
            for option in shipping_options(
                subtotal=subtotal,
                country=None if self.is_bound else self._known_country(kwargs.get("initial")),
                weight_grams=weight_grams,
            )
        ]
        self.fields["payment_method"].choices = [
            (method.value, method.label) for method in selectors.payment_methods()
        ]
        if self.fields["shipping_method"].choices:
            self.initial.setdefault("shipping_method", self.fields["shipping_method"].choices[0][0])

    def _known_country(self, initial):
        initial = initial or {}
        if initial.get("country"):
            return initial["country"]
        saved = initial.get("saved_address")
        address = self.user.addresses.filter(pk=saved).first() if self.user and saved else None
        return str(address.country) if address else None

    @staticmethod
    def _shipping_label(option):
        return _("%(name)s: %(price)s %(currency)s, %(days)s") % {
            "name": option.method.name,
            "price": option.price,
            "currency": settings.SHOP_CURRENCY,
            "days": selectors.delivery_time(option.method),
        }

    def clean(self):
        data = super().clean()
        saved = data.get("saved_address")
        if saved is not None:
            try:
                services.clean_address(
                    {name: getattr(saved, name) for name in services.ADDRESS_FIELDS}
                )
            except services.CheckoutError as error:
                self.add_error("saved_address", str(error))
            return data
        for name in services.REQUIRED_ADDRESS_FIELDS:
            if not data.get(name):
                self.add_error(name, _("This field is required."))
        if data.get("country") and data.get("postal_code"):
            try:
                data["postal_code"] = services.clean_postal_code(
                    country=data["country"], postal_code=data["postal_code"]
                )
            except services.CheckoutError as error:
                self.add_error("postal_code", str(error))
        return data

    def checkout_data(self):
        """What the review page and place_order need, as plain values the session can keep."""
        data = self.cleaned_data
        source = data.get("saved_address")
        address = {
            name: str(getattr(source, name) if source else data[name])
            for name in services.ADDRESS_FIELDS
        }
        return {
            "email": self.user.email if self.user else data["email"],
            "saved_address_id": source.pk if source else None,
            "address": address,
            "shipping_method_id": int(data["shipping_method"]),
            "payment_method": data["payment_method"],
            "voucher_code": data["voucher_code"].strip(),
        }

    @classmethod
    def initial_from(cls, data, user):
        """Initial values: what the shopper entered before, else their default address."""
        if data:
            return {
                "email": data["email"],
                "saved_address": data["saved_address_id"],
                **data["address"],
                "shipping_method": str(data["shipping_method_id"]),
                "payment_method": data["payment_method"],
                "voucher_code": data["voucher_code"],
            }
        initial = {"payment_method": Order.PaymentMethod.CASH_ON_DELIVERY}
        if user.is_authenticated:
            # Addresses are ordered with the default shipping address first.
            first = user.addresses.first()
            initial["saved_address"] = first.pk if first else None
        return initial
