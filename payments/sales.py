"""The staff sales page: gross, refunds, returns and net for a period, with a chart drawn here.

It lives in payments because refunds do, and is hooked into the admin by shop/urls.py.
"""

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.models import Order

from . import reports

TEMPLATE = "admin/payments/sales.html"
DEFAULT_DAYS = 30
MAX_DAYS = 366
CHART_WIDTH = 720
CHART_HEIGHT = 200
PIXEL = Decimal("0.1")


class SalesPeriodForm(forms.Form):
    start = forms.DateField(
        label=_("From"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    rank_by = forms.ChoiceField(
        label=_("Top products by"),
        choices=[("units", _("units sold")), ("revenue", _("revenue"))],
        required=False,
    )

    @staticmethod
    def default_data():
        today = timezone.localdate()
        return {"start": today - timedelta(days=DEFAULT_DAYS - 1), "end": today, "rank_by": "units"}

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The start date must not be after the end date."))
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(_("Choose at most %(days)d days.") % {"days": MAX_DAYS})
        return cleaned


def sales_view(request):
    """Staff who may see orders and payments see the sales figures of a period (the last 30
    days at first); packing parcels is no reason to see the revenue."""
    if not request.user.has_perms(["orders.view_order", "payments.view_payment"]):
        raise PermissionDenied
    form = SalesPeriodForm(request.GET or SalesPeriodForm.default_data())
    context = {
        **admin.site.each_context(request),
        "opts": Order._meta,
        "title": _("Sales"),
        "form": form,
    }
    if not form.is_valid():
        return TemplateResponse(request, TEMPLATE, context, status=400)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    rank_by = form.cleaned_data["rank_by"] or "units"
    days = reports.daily_sales(start=start, end=end)
    context |= {
        "days": days,
        "summary": reports.summarize(days),
        "products": reports.top_products(start=start, end=end, rank_by=rank_by),
        "chart": sales_chart(days),
        "currency": settings.SHOP_CURRENCY,
    }
    return TemplateResponse(request, TEMPLATE, context)


def sales_chart(days):
    """Bar geometry for gross and refunds per day, side by side, so the page is plain SVG.

    Coordinates are strings, so number localisation can never put a comma in the SVG.
    """
    peak = max((max(day.gross, day.refunds) for day in days), default=Decimal(0))
    slot = Decimal(CHART_WIDTH) / len(days)
    width = (slot * 4 / 10).quantize(PIXEL)

    def bar(amount, x):
        height = (amount / peak * CHART_HEIGHT).quantize(PIXEL) if peak else Decimal(0)
        return {"x": str(x.quantize(PIXEL)), "y": str(CHART_HEIGHT - height), "height": str(height)}

    bars = [
        {
            "day": day,
            "gross": bar(day.gross, slot * index + slot / 10),
            "refunds": bar(day.refunds, slot * index + slot / 2),
        }
        for index, day in enumerate(days)
    ]
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "bar_width": str(width),
        "peak": peak,
        "bars": bars,
    }
