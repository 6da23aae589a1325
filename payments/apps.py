from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments")

    def ready(self):
        from orders.signals import order_cancelled, order_placed
        from shipping.signals import shipment_status_changed

        from .signals import (
            collect_cash_on_delivery,
            open_payment_for_placed_order,
            settle_cancelled_order,
        )

        order_placed.connect(
            open_payment_for_placed_order, dispatch_uid="payments.open_payment_for_placed_order"
        )
        order_cancelled.connect(
            settle_cancelled_order, dispatch_uid="payments.settle_cancelled_order"
        )
        shipment_status_changed.connect(
            collect_cash_on_delivery, dispatch_uid="payments.collect_cash_on_delivery"
        )
