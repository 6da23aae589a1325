"""Template context every page needs: the shop's name and currency."""

from django.conf import settings


def shop(request):
    return {"SHOP_NAME": settings.SHOP_NAME, "SHOP_CURRENCY": settings.SHOP_CURRENCY}
