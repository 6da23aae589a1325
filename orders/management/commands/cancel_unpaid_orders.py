"""Cancel orders left unpaid too long, releasing their stock, and remind slow bank transfers."""

from django.conf import settings
from django.core.management.base import BaseCommand

from orders.emails import transfer_deadline
from orders.services import cancel_unpaid_orders, remind_unpaid_transfers


class Command(BaseCommand):
    help = (
        "Cancel card orders still awaiting payment after ORDER_UNPAID_MINUTES and bank "
        "transfer orders after ORDER_BANK_TRANSFER_DAYS, putting their stock back on sale; "
        "remind bank transfer shoppers halfway, once per order."
    )

    def handle(self, *args, **options):
        cancelled = cancel_unpaid_orders()
        for order in cancelled:
            self.stdout.write(
                f"Cancelled {order.number} ({order.email}, {order.total} {order.currency}, "
                f"{order.get_payment_method_display()}), "
                f"placed {order.created_at:%Y-%m-%d %H:%M %Z}"
            )
        reminded = remind_unpaid_transfers()
        for order in reminded:
            self.stdout.write(
                f"Reminded {order.number} ({order.email}, {order.total} {order.currency}): "
                f"cancelled on {transfer_deadline(order):%Y-%m-%d %H:%M %Z} unless paid"
            )
        noun = "order" if len(cancelled) == 1 else "orders"
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(cancelled)} unpaid {noun} cancelled (card orders older than "
                f"{settings.ORDER_UNPAID_MINUTES} minutes, bank transfers older than "
                f"{settings.ORDER_BANK_TRANSFER_DAYS} days); "
                f"{len(reminded)} bank transfer reminder{'' if len(reminded) == 1 else 's'} queued."
            )
        )
