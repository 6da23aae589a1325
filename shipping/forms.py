"""Forms of the shipping pages: they parse what was sent; selectors and services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _


class TrackOrderForm(forms.Form):
    number = forms.CharField(label=_("Order number"), max_length=20)
    email = forms.EmailField(label=_("Email used for the order"))
