"""Shipping pages: public order tracking, and staff's packing slip and low-stock report."""

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _

from . import selectors
from .forms import TrackOrderForm


def track(request):
    """Anyone holding an order's number and email sees where its parcels are."""
    form = TrackOrderForm(request.GET or None)
    order, status = None, 200
    if form.is_valid():
        order = selectors.order_for_tracking(**form.cleaned_data)
        if order is None:
            form.add_error(None, _("No order has this number and email."))
            status = 404
    elif form.is_bound:
        status = 400
    context = {"form": form, "order": order}
    if order is not None:
        context["shipments"] = selectors.shipments_of(order)
    return render(request, "shipping/track.html", context, status=status)


@staff_member_required
@permission_required("shipping.view_shipment", raise_exception=True)
def packing_slip(request, pk):
    shipment = selectors.shipment_for_slip(pk)
    if shipment is None:
        raise Http404(_("There is no such shipment."))
    context = {"shipment": shipment, "order": shipment.order}
    return render(request, "shipping/packing_slip.html", context)


@staff_member_required
@permission_required("shipping.view_stocklevel", raise_exception=True)
def low_stock(request):
    return render(request, "shipping/low_stock.html", {"levels": selectors.low_stock_report()})
