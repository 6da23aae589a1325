"""Account pages: the profile and the address book, each visible only to its owner."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import AddressForm, ProfileForm


@login_required
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your profile was saved."))
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})


@login_required
def address_list(request):
    addresses = selectors.addresses_of(request.user)
    return render(request, "accounts/address_list.html", {"addresses": addresses})


@login_required
def address_create(request):
    form = AddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.create_address(user=request.user, **form.cleaned_data)
        messages.success(request, _("The address was added."))
        return redirect("accounts:address_list")
    return render(request, "accounts/address_form.html", {"form": form})


@login_required
def address_update(request, pk):
    address = selectors.address_of(request.user, pk)
    form = AddressForm(request.POST or None, instance=address)
    if request.method == "POST" and form.is_valid():
        services.update_address(address=address, **form.cleaned_data)
        messages.success(request, _("The address was saved."))
        return redirect("accounts:address_list")
    return render(request, "accounts/address_form.html", {"form": form, "address": address})


@login_required
@require_POST
def address_delete(request, pk):
    services.delete_address(address=selectors.address_of(request.user, pk))
    messages.success(request, _("The address was deleted."))
    return redirect("accounts:address_list")
