from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self):
        from allauth.account.signals import user_logged_in

        from shipping.signals import order_lines_packed, shipment_status_changed

        from .signals import follow_shipment, merge_cart_on_login, record_packed_lines

        user_logged_in.connect(merge_cart_on_login, dispatch_uid="orders.merge_cart_on_login")
        shipment_status_changed.connect(follow_shipment, dispatch_uid="orders.follow_shipment")
        order_lines_packed.connect(record_packed_lines, dispatch_uid="orders.record_packed_lines")
