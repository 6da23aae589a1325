"""Reads for account pages: only ever the signed-in user's own rows."""

from django.shortcuts import get_object_or_404

from .models import Address


def addresses_of(user):
    return Address.objects.filter(user=user)


def address_of(user, pk):
    """The user's address with this id, or 404: another user's address does not exist here."""
    return get_object_or_404(Address, pk=pk, user=user)
