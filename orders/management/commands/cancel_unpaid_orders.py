"""Cancel card orders left unpaid too long, releasing their stock; safe to run again."""

from django.conf import settings
from django.core.management.base import BaseCommand

from orders.services import cancel_unpaid_orders


class Command(BaseCommand):
    help = (
        "Cancel card orders still awaiting payment after ORDER_UNPAID_MINUTES and put their "
        "stock back on sale."
    )

    def handle(self, *args, **options):
        cancelled = cancel_unpaid_orders()
        for order in cancelled:
            self.stdout.write(
                f"Cancelled {order.number} ({order.email}, {order.total} {order.currency}), "
                f"placed {order.created_at:%Y-%m-%d %H:%M %Z}"
            )
        noun = "order" if len(cancelled) == 1 else "orders"
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(cancelled)} unpaid {noun} cancelled "
                f"(card orders older than {settings.ORDER_UNPAID_MINUTES} minutes)."
            )
        )
