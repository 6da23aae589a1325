from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self):
        from allauth.account.signals import user_logged_in

        from .signals import merge_cart_on_login

        user_logged_in.connect(merge_cart_on_login, dispatch_uid="orders.merge_cart_on_login")
