"""Signals shipping sends for the apps above it to react to."""

from django.dispatch import Signal

# Sent inside the transaction that moved a shipment, so the order and its payment follow
# in the same transaction. Arguments, all facts: `shipment_id`, `order_id`, `status`,
# `previous_status`, `any_left` (a parcel of the order has left the warehouse),
# `all_shipped` (every unit of the order has left) and `all_delivered` (every unit arrived).
shipment_status_changed = Signal()

# Sent inside the transaction that packed a shipment, with `order_id` and `quantities`
# ({order line id: units}); orders records the units as shipped on its lines.
order_lines_packed = Signal()
