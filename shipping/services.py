"""Stock, shipment and replenishment actions: every change to a stock level writes the ledger.

Each function is one transaction (joining the caller's when there is one): it locks the stock
rows it changes, writes a `StockMovement` per row changed, and recomputes the variants'
`stock_available` before the transaction ends, so the storefront never disagrees with the
stock levels. `0 <= reserved <= on_hand` is enforced by the database; the checks here repeat it
to give a clear `StockError` instead of an integrity error.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext

from catalog.models import Variant
from catalog.services import set_availability, update_availability
from shop import outbox
from shop.audit import record

from . import carriers
from .models import (
    Allocation,
    Carrier,
    PurchaseOrder,
    PurchaseOrderLine,
    Shipment,
    ShipmentEvent,
    ShipmentLine,
    ShippingMethod,
    StockLevel,
    StockMovement,
    Supplier,
    Warehouse,
)
from .replenishment import DEMAND_WINDOW_DAYS, policy_levels
from .selectors import (  # noqa: F401
    ShippingOption,
    parcel_weight,
    serves,
    shipping_options,
    shipping_price,
)
from .signals import order_lines_packed, shipment_status_changed

NOTE_LENGTH = StockMovement._meta.get_field("note").max_length


class StockError(Exception):
    """A stock change that breaks a rule; the message says which, for staff or shoppers."""


@dataclass(frozen=True)
class Shortage:
    """One line that can't be filled: how many units were asked for and how many are left."""

    variant_id: int | None
    sku: str
    requested: int
    available: int


class OutOfStock(StockError):
    """Some lines of an order cannot be filled; `shortages` says which and how many are left.

    `reasons` holds one sentence per short line for the shopper, naming the product as the
    shop shows it (title and variant name; the SKU only for a variant since deleted) and
    saying it sold out, or how many are left.
    """

    def __init__(self, shortages):
        self.shortages = list(shortages)
        variants = Variant.objects.select_related("product").in_bulk(
            [s.variant_id for s in self.shortages if s.variant_id is not None]
        )
        self.reasons = [
            _shortage_reason(shortage, variants.get(shortage.variant_id))
            for shortage in self.shortages
        ]
        super().__init__(" ".join(self.reasons))


def _shortage_reason(shortage, variant):
    item = str(variant) if variant is not None else shortage.sku
    if shortage.available <= 0:
        return gettext("Sorry, “%(item)s” is sold out.") % {"item": item}
    return gettext("Only %(available)s of “%(item)s” left; your cart asks for %(requested)s.") % {
        "available": shortage.available,
        "item": item,
        "requested": shortage.requested,
    }


def create_warehouse(*, code, name, priority=0, city="", country=""):
    """Return the warehouse with this code, creating it the first time.

    An existing warehouse is returned as it is, so running a setup command again never
    overwrites what staff changed since.
    """
    warehouse, _created = Warehouse.objects.get_or_create(
        code=code,
        defaults={"name": name, "priority": priority, "city": city, "country": country},
    )
    return warehouse


def create_shipping_method(
    *, name, price, free_over=None, min_days=2, max_days=5, position=0
) -> ShippingMethod:
    """Return the shipping method with this name, creating it the first time.

    Like create_warehouse, an existing method is left as staff last set it.
    """
    method, _created = ShippingMethod.objects.get_or_create(
        name=name,
        defaults={
            "price": price,
            "free_over": free_over,
            "min_days": min_days,
            "max_days": max_days,
            "position": position,
        },
    )
    return method


def receive_stock(*, variant, warehouse, quantity, user=None, note=""):
    """Add units that arrived at a warehouse."""
    _require_units(quantity, minimum=1)
    with transaction.atomic():
        level = _locked_level(variant=variant, warehouse=warehouse)
        _move(level, kind=StockMovement.Kind.RECEIPT, on_hand=quantity, user=user, note=note)
        record(
            actor=user,
            action="stock.received",
            target=level,
            before={"on_hand": level.on_hand - quantity},
            after={"on_hand": level.on_hand},
            note=note,
        )
        update_availability(variant_ids=[level.variant_id])
    return level


def receive_stock_batch(*, receipts, user=None, note=""):
    """Receive many deliveries at once: `receipts` are (variant_id, warehouse_id, quantity).

    The ledger ends up as if receive_stock had been called for each, but a catalog import
    or the demo seeder can stock thousands of variants in seconds: stock rows that don't
    exist yet are inserted holding their units, in bulk (no order can hold them, so there
    is nothing to lock); rows that exist are locked in id order, as reserve_stock locks
    them, and topped up; availability is recomputed once at the end. Receipts for the same
    row are added together. Returns the stock levels received into.
    """
    wanted = Counter()
    for variant_id, warehouse_id, quantity in receipts:
        _require_units(quantity, minimum=1)
        wanted[(variant_id, warehouse_id)] += quantity
    variant_ids = {variant_id for variant_id, _warehouse_id in wanted}
    with transaction.atomic():
        _require_known(variant_ids, {warehouse_id for _variant_id, warehouse_id in wanted})
        existing = {
            (variant_id, warehouse_id): pk
            for pk, variant_id, warehouse_id in StockLevel.objects.filter(
                variant_id__in=variant_ids
            ).values_list("pk", "variant_id", "warehouse_id")
        }
        fresh = [
            StockLevel(variant_id=variant_id, warehouse_id=warehouse_id)
            for variant_id, warehouse_id in wanted
            if (variant_id, warehouse_id) not in existing
        ]
        movements = [_receipt(level, wanted, user=user, note=note) for level in fresh]
        if not _inserted(fresh):
            # A concurrent receipt created some of these rows: top them up like the others.
            for level in fresh:
                existing[_key(level)] = StockLevel.objects.get_or_create(
                    variant_id=level.variant_id, warehouse_id=level.warehouse_id
                )[0].pk
            fresh, movements = [], []
        topped_up = list(
            StockLevel.objects.select_for_update(of=("self",))
            .filter(pk__in=[existing[key] for key in wanted if key in existing])
            .order_by("pk")
        )
        movements += [_receipt(level, wanted, user=user, note=note) for level in topped_up]
        StockLevel.objects.bulk_update(topped_up, ["on_hand"], batch_size=1000)
        StockMovement.objects.bulk_create(movements, batch_size=1000)
        if variant_ids:
            update_availability(variant_ids=variant_ids)
    return fresh + topped_up


def adjust_stock(*, variant, warehouse, on_hand, user=None, note):
    """Set on hand to what a count found; units promised to orders cannot be counted away."""
    _require_units(on_hand, minimum=0)
    if not note.strip():
        raise StockError(gettext("Say why the count changed."))
    with transaction.atomic():
        level = _locked_level(variant=variant, warehouse=warehouse)
        if on_hand < level.reserved:
            raise StockError(
                gettext(
                    "%(level)s has %(reserved)d units reserved for orders: "
                    "on hand cannot be set to %(on_hand)d."
                )
                % {"level": level, "reserved": level.reserved, "on_hand": on_hand}
            )
        record(
            actor=user,
            action="stock.adjusted",
            target=level,
            before={"on_hand": level.on_hand},
            after={"on_hand": on_hand},
            note=note,
        )
        _move(
            level,
            kind=StockMovement.Kind.ADJUSTMENT,
            on_hand=on_hand - level.on_hand,
            user=user,
            note=note,
        )
        update_availability(variant_ids=[level.variant_id])
    return level


def reserve_stock(*, order_lines, user=None):
    """Promise stock to the lines of one order, or raise `OutOfStock` and change nothing.

    All candidate rows are locked in one statement ordered by id, so two checkouts holding
    the same variants in any order queue up instead of deadlocking. Each line is taken from
    the highest-priority warehouse that can fill it alone, so an order ships in as few
    parcels as possible; only when none can is it split across warehouses by priority.

    The stock rows of a bestseller are the hottest rows of the shop: checkout calls this
    last, just before it commits, and from the lock on it writes only the rows, the ledger,
    the allocations and the variants' availability (counted on the locked rows, not again).
    """
    lines = list(order_lines)
    for line in lines:
        _require_units(line.quantity, minimum=1)
    with transaction.atomic():
        if Allocation.objects.filter(order_line__in=lines).exists():
            raise StockError(gettext("Stock for this order is already reserved."))
        levels = list(
            StockLevel.objects.select_for_update(of=("self",))
            .filter(variant_id__in={line.variant_id for line in lines}, warehouse__is_active=True)
            .select_related("warehouse")
            .order_by("pk")
        )
        plan, shortages = _plan_reservation(lines, levels)
        if shortages:
            raise OutOfStock(_with_skus(shortages))

        before = _available_per_variant(levels)
        allocations, movements = [], []
        for line, level, quantity in plan:
            allocations.append(Allocation(order_line=line, stock_level=level, quantity=quantity))
            movements.append(
                _apply(
                    level,
                    kind=StockMovement.Kind.RESERVATION,
                    reserved=quantity,
                    order_id=line.order_id,
                    user=user,
                )
            )
        touched = list({level.pk: level for _line, level, _quantity in plan}.values())
        StockLevel.objects.bulk_update(touched, ["reserved"])
        StockMovement.objects.bulk_create(movements)
        allocations = Allocation.objects.bulk_create(allocations)
        after = _available_per_variant(levels)
        set_availability(figures={pk: (before[pk], after[pk]) for pk in before})
    return allocations


def _available_per_variant(levels):
    """Units free to sell per variant, summed over its stock rows (those of active warehouses)."""
    available = Counter()
    for level in levels:
        available[level.variant_id] += level.available
    return available


def release_reservation(*, order, user=None, note=""):
    """Give back every unit still promised to an order (cancelled or expired).

    What has shipped is no longer allocated, so a second call, or one after part of the
    order shipped, releases only what is left.
    """
    with transaction.atomic():
        allocations = _locked_allocations(
            Allocation.objects.filter(order_line__order=order).select_related("order_line")
        )
        for allocation in allocations:
            _move(
                allocation.stock_level,
                kind=StockMovement.Kind.RELEASE,
                reserved=-allocation.quantity,
                order_id=allocation.order_line.order_id,
                user=user,
                note=note,
            )
        Allocation.objects.filter(pk__in=[a.pk for a in allocations]).delete()
        if allocations:
            update_availability(variant_ids={a.stock_level.variant_id for a in allocations})


def consume_reservation(*, order_line, quantity, user=None, note=""):
    """Take shipped units out of stock: they leave on hand together with their reservation."""
    _require_units(quantity, minimum=1)
    with transaction.atomic():
        allocations = _locked_allocations(order_line.allocations.all())
        allocated = sum(allocation.quantity for allocation in allocations)
        if quantity > allocated:
            raise StockError(
                gettext(
                    "Cannot ship %(quantity)d of %(sku)s: only %(allocated)d are reserved "
                    "for this line."
                )
                % {"quantity": quantity, "sku": order_line.sku, "allocated": allocated}
            )
        allocations.sort(key=lambda a: (-a.stock_level.warehouse.priority, a.stock_level.pk))
        remaining = quantity
        for allocation in allocations:
            taken = min(remaining, allocation.quantity)
            if not taken:
                break
            _move(
                allocation.stock_level,
                kind=StockMovement.Kind.SHIPMENT,
                on_hand=-taken,
                reserved=-taken,
                order_id=order_line.order_id,
                user=user,
                note=note,
            )
            allocation.quantity -= taken
            if allocation.quantity:
                allocation.save(update_fields=["quantity"])
            else:
                allocation.delete()
            remaining -= taken
        update_availability(variant_ids={a.stock_level.variant_id for a in allocations})


def return_stock(*, variant, warehouse, quantity, order=None, user=None, note=""):
    """Put returned units back on hand, in the warehouse that took them in."""
    _require_units(quantity, minimum=1)
    with transaction.atomic():
        level = _locked_level(variant=variant, warehouse=warehouse)
        _move(
            level,
            kind=StockMovement.Kind.RETURN,
            on_hand=quantity,
            order_id=order.pk if order is not None else None,
            user=user,
            note=note,
        )
        update_availability(variant_ids=[level.variant_id])
    return level


def _require_units(quantity, *, minimum):
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < minimum:
        raise StockError(
            gettext("The quantity must be a whole number of at least %(minimum)d.")
            % {"minimum": minimum}
        )


def _key(level):
    return (level.variant_id, level.warehouse_id)


def _receipt(level, wanted, *, user, note):
    return _apply(
        level, kind=StockMovement.Kind.RECEIPT, on_hand=wanted[_key(level)], user=user, note=note
    )


def _require_known(variant_ids, warehouse_ids):
    """Refuse ids of variants or warehouses that don't exist, naming them."""
    for model, ids, message in (
        (Variant, variant_ids, gettext("There is no variant with the id %(ids)s.")),
        (Warehouse, warehouse_ids, gettext("There is no warehouse with the id %(ids)s.")),
    ):
        unknown = set(ids) - set(model.objects.filter(pk__in=ids).values_list("pk", flat=True))
        if unknown:
            raise StockError(message % {"ids": ", ".join(str(pk) for pk in sorted(unknown))})


def _inserted(levels):
    """Insert new stock rows; False, with nothing written, if one of them exists by now."""
    try:
        with transaction.atomic():
            StockLevel.objects.bulk_create(levels, batch_size=1000)
    except IntegrityError:
        return False
    return True


def _locked_level(*, variant, warehouse):
    level, _created = StockLevel.objects.get_or_create(variant=variant, warehouse=warehouse)
    return (
        StockLevel.objects.select_for_update(of=("self",))
        .select_related("variant", "warehouse")
        .get(pk=level.pk)
    )


def _locked_allocations(allocations):
    """Lock the stock rows behind these allocations (by id), then read the allocations.

    Reading after the lock means a concurrent release or shipment of the same units has
    committed first, so it is never counted twice.
    """
    level_ids = allocations.values("stock_level_id")
    levels = {
        level.pk: level
        for level in StockLevel.objects.select_for_update(of=("self",))
        .filter(pk__in=level_ids)
        .select_related("warehouse")
        .order_by("pk")
    }
    found = list(allocations.order_by("pk"))
    for allocation in found:
        allocation.stock_level = levels[allocation.stock_level_id]
    return found


def _plan_reservation(lines, levels):
    """Decide which warehouse gives how many units to each line, on the locked rows."""
    by_variant = {}
    for level in sorted(levels, key=lambda lv: (-lv.warehouse.priority, lv.pk)):
        by_variant.setdefault(level.variant_id, []).append(level)
    free = {level.pk: level.available for level in levels}

    plan, shortages = [], []
    for line in lines:
        candidates = by_variant.get(line.variant_id, [])
        available = sum(free[level.pk] for level in candidates)
        if available < line.quantity:
            shortages.append((line, available))
            continue
        whole = next((lv for lv in candidates if free[lv.pk] >= line.quantity), None)
        takes = [(whole, line.quantity)] if whole else _split(line.quantity, candidates, free)
        for level, quantity in takes:
            free[level.pk] -= quantity
            plan.append((line, level, quantity))
    return plan, shortages


def _split(quantity, candidates, free):
    takes = []
    for level in candidates:
        taken = min(quantity, free[level.pk])
        if taken:
            takes.append((level, taken))
            quantity -= taken
        if not quantity:
            break
    return takes


def _with_skus(shortages):
    skus = dict(
        Variant.objects.filter(pk__in=[line.variant_id for line, _ in shortages]).values_list(
            "pk", "sku"
        )
    )
    return [
        Shortage(
            variant_id=line.variant_id,
            sku=skus.get(line.variant_id, line.sku),
            requested=line.quantity,
            available=available,
        )
        for line, available in shortages
    ]


def _apply(level, *, kind, on_hand=0, reserved=0, order_id=None, user=None, note=""):
    """Change a locked level in memory and return its ledger row, both still unsaved."""
    level.on_hand += on_hand
    level.reserved += reserved
    return StockMovement(
        stock_level=level,
        kind=kind,
        on_hand_change=on_hand,
        reserved_change=reserved,
        on_hand_after=level.on_hand,
        reserved_after=level.reserved,
        order_id=order_id,
        user=user if user is not None and user.is_authenticated else None,
        note=note[:NOTE_LENGTH],
    )


def _move(level, **change):
    """Change one locked level and write its ledger row."""
    movement = _apply(level, **change)
    level.save(update_fields=["on_hand", "reserved"])
    movement.save()


# Shipments

ShipmentStatus = Shipment.Status
# Orders a shipment may be made for (order statuses, by value: orders sits above shipping).
SHIPPABLE_ORDER_STATUSES = ("confirmed", "paid", "partially_shipped")
# A parcel's journey: where each status may go next. A carrier may skip steps.
SHIPMENT_TRANSITIONS = {
    ShipmentStatus.PACKED: {
        ShipmentStatus.SHIPPED,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERED,
        ShipmentStatus.EXCEPTION,
    },
    ShipmentStatus.SHIPPED: {
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERED,
        ShipmentStatus.EXCEPTION,
        ShipmentStatus.RETURNED,
    },
    ShipmentStatus.IN_TRANSIT: {
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERED,
        ShipmentStatus.EXCEPTION,
        ShipmentStatus.RETURNED,
    },
    ShipmentStatus.OUT_FOR_DELIVERY: {
        ShipmentStatus.DELIVERED,
        ShipmentStatus.EXCEPTION,
        ShipmentStatus.RETURNED,
    },
    ShipmentStatus.EXCEPTION: {
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERED,
        ShipmentStatus.RETURNED,
    },
    ShipmentStatus.DELIVERED: set(),
    ShipmentStatus.RETURNED: set(),
}


class ShipmentError(Exception):
    """A shipment staff or a carrier asked for that breaks a rule; the message says which."""


def _staff(user):
    return user if user is not None and user.is_authenticated else None


def _default_warehouse(lines):
    allocation = (
        Allocation.objects.filter(order_line__in=lines)
        .select_related("stock_level__warehouse")
        .order_by("-stock_level__warehouse__priority", "stock_level__pk")
        .first()
    )
    if allocation is None:
        raise ShipmentError(gettext("Nothing of this order is reserved to ship."))
    return allocation.stock_level.warehouse


def _quantities_to_ship(lines, quantities):
    """{line: units} to ship: what was asked, or everything still to ship."""
    if quantities is None:
        wanted = {line: line.quantity - line.quantity_shipped for line in lines}
    else:
        by_id = {line.pk: line for line in lines}
        unknown = set(quantities) - set(by_id)
        if unknown:
            raise ShipmentError(gettext("Those lines are not part of this order."))
        wanted = {by_id[pk]: quantity for pk, quantity in quantities.items()}
    wanted = {line: quantity for line, quantity in wanted.items() if quantity}
    if not wanted:
        raise ShipmentError(gettext("Nothing is left to ship on this order."))
    for line, quantity in wanted.items():
        left = line.quantity - line.quantity_shipped
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise ShipmentError(gettext("Ship a whole number of units."))
        if quantity > left:
            raise ShipmentError(
                gettext("Only %(left)d of %(sku)s are left to ship.")
                % {"left": left, "sku": line.sku}
            )
    return wanted


def _check_warehouse(wanted, warehouse):
    """Each line must ship from the warehouse that consume_reservation takes it from.

    Reserved units leave from the highest-priority warehouse holding them first, so a parcel
    packed anywhere else would have the ledger empty the wrong shelf.
    """
    allocations = (
        Allocation.objects.filter(order_line__in=list(wanted))
        .select_related("stock_level")
        .order_by("-stock_level__warehouse__priority", "stock_level__pk")
    )
    first = {}
    for allocation in allocations:
        first.setdefault(allocation.order_line_id, allocation)
    for line, quantity in wanted.items():
        allocation = first.get(line.pk)
        here = allocation is not None and allocation.stock_level.warehouse_id == warehouse.pk
        held = allocation.quantity if here else 0
        if held < quantity:
            raise ShipmentError(
                gettext("%(warehouse)s can ship only %(held)d of %(sku)s for this order now.")
                % {"warehouse": warehouse, "held": held, "sku": line.sku}
            )


def create_shipment(
    *, order, warehouse=None, quantities=None, carrier=Carrier.MANUAL, tracking_number="", user=None
) -> Shipment:
    """Pack units of a paid or cash-on-delivery order into a parcel and take them out of stock.

    `quantities` maps order line ids to units; without it everything left is packed. The
    units leave stock through consume_reservation (the ledger says "shipment"), the lines
    count them as shipped, and the carrier books the parcel.
    """
    with transaction.atomic():
        # The order first, then its lines and stock rows: the order cancel_order locks them in.
        order.status = (
            type(order)
            .objects.select_for_update()
            .values_list("status", flat=True)
            .get(pk=order.pk)
        )
        lines = list(order.lines.select_for_update().order_by("pk"))
        if order.status not in SHIPPABLE_ORDER_STATUSES:
            raise ShipmentError(
                gettext("Order %(number)s is “%(status)s”: it can't be shipped.")
                % {"number": order.number, "status": order.get_status_display()}
            )
        wanted = _quantities_to_ship(lines, quantities)
        warehouse = warehouse or _default_warehouse(list(wanted))
        _check_warehouse(wanted, warehouse)
        shipment = Shipment.objects.create(
            order=order, warehouse=warehouse, carrier=carrier, created_by=_staff(user)
        )
        note = gettext("Shipment %(id)s") % {"id": shipment.pk}
        for line, quantity in wanted.items():
            consume_reservation(order_line=line, quantity=quantity, user=user, note=note)
        order_lines_packed.send(
            sender=Shipment,
            order_id=order.pk,
            quantities={line.pk: quantity for line, quantity in wanted.items()},
        )
        ShipmentLine.objects.bulk_create(
            ShipmentLine(shipment=shipment, order_line=line, quantity=quantity)
            for line, quantity in wanted.items()
        )
        booking = carriers.adapter_for(carrier).book(shipment, tracking_number=tracking_number)
        shipment.tracking_number, shipment.label = booking.tracking_number, booking.label
        shipment.save(update_fields=["tracking_number", "label", "updated_at"])
        ShipmentEvent.objects.create(
            shipment=shipment,
            status=ShipmentStatus.PACKED,
            happened_at=shipment.created_at,
            user=_staff(user),
        )
        record(
            actor=user,
            action="shipment.packed",
            target=shipment,
            after={
                "order": order.number,
                "warehouse": warehouse.code,
                "units": {line.sku: quantity for line, quantity in wanted.items()},
            },
        )
    return shipment


def pack_what_is_left(*, order, user=None, carrier=Carrier.MANUAL) -> list[Shipment]:
    """Pack everything still to ship of the order: one parcel per warehouse.

    Parcels are packed in the order consume_reservation empties the warehouses (a line split
    across warehouses goes in two parcels), each with create_shipment, so the ledger and the
    order's lines follow as usual.
    """
    shipments = []
    with transaction.atomic():
        while (parcel := _next_parcel(order)) is not None:
            warehouse, quantities = parcel
            shipments.append(
                create_shipment(
                    order=order,
                    warehouse=warehouse,
                    quantities=quantities,
                    carrier=carrier,
                    user=user,
                )
            )
    if not shipments:
        raise ShipmentError(gettext("Nothing is left to ship on this order."))
    return shipments


def ship_what_is_left(*, order, user=None, carrier=Carrier.MANUAL) -> list[Shipment]:
    """Staff's shortcut: pack everything still to ship and hand the parcels to the carrier."""
    with transaction.atomic():
        return [
            advance_shipment(shipment=shipment, status=ShipmentStatus.SHIPPED, user=user)
            for shipment in pack_what_is_left(order=order, user=user, carrier=carrier)
        ]


def _next_parcel(order):
    """(warehouse, {line id: units}) for the first warehouse each line's units leave from."""
    first = {}
    allocations = (
        Allocation.objects.filter(order_line__order_id=order.pk)
        .select_related("stock_level__warehouse")
        .order_by("-stock_level__warehouse__priority", "stock_level__pk")
    )
    for allocation in allocations:
        first.setdefault(allocation.order_line_id, allocation)
    if not first:
        return None
    warehouse = min(
        (allocation.stock_level.warehouse for allocation in first.values()),
        key=lambda place: (-place.priority, place.pk),
    )
    quantities = {
        line_id: allocation.quantity
        for line_id, allocation in first.items()
        if allocation.stock_level.warehouse_id == warehouse.pk
    }
    return warehouse, quantities


def deliver_shipments(*, order, user=None) -> list[Shipment]:
    """Staff learned the order's parcels arrived: each one still travelling becomes delivered."""
    travelling = Shipment.objects.filter(order_id=order.pk).exclude(
        status__in=[ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED]
    )
    with transaction.atomic():
        delivered = [
            advance_shipment(shipment=shipment, status=ShipmentStatus.DELIVERED, user=user)
            for shipment in travelling.order_by("pk")
        ]
    if not delivered:
        raise ShipmentError(gettext("No parcel of this order is on its way."))
    return delivered


def set_tracking_number(*, shipment, tracking_number, user=None) -> Shipment:
    """Staff type the number a manual carrier gave them."""
    number = str(tracking_number).strip()[:64]
    if not number:
        raise ShipmentError(gettext("Enter the tracking number."))
    with transaction.atomic():
        before = Shipment.objects.select_for_update().get(pk=shipment.pk).tracking_number
        Shipment.objects.filter(pk=shipment.pk).update(tracking_number=number)
        shipment.tracking_number = number
        record(
            actor=user,
            action="shipment.tracking_number_set",
            target=shipment,
            before={"tracking_number": before},
            after={"tracking_number": number},
        )
    return shipment


def _order_facts(order_id):
    shipments = list(Shipment.objects.filter(order_id=order_id).values_list("status", flat=True))
    left = [status for status in shipments if status != ShipmentStatus.PACKED]
    lines = apps.get_model("orders", "OrderLine").objects.filter(order_id=order_id)
    everything_packed = not lines.filter(quantity_shipped__lt=F("quantity")).exists()
    all_shipped = everything_packed and len(left) == len(shipments)
    return {
        "any_left": bool(left),
        "all_shipped": all_shipped,
        "all_delivered": all_shipped
        and all(status == ShipmentStatus.DELIVERED for status in shipments),
    }


def advance_shipment(
    *, shipment, status, user=None, note="", happened_at=None, reference=""
) -> Shipment:
    """Move a parcel one step on its journey, record the event, and tell the order.

    An event with a carrier reference already recorded changes nothing, so reading the
    same tracking twice is harmless. The shopper is emailed when the parcel ships and
    when it arrives, once each.
    """
    if status not in ShipmentStatus.values:
        raise ShipmentError(gettext("“%(status)s” is not a shipment status.") % {"status": status})
    with transaction.atomic():
        locked = Shipment.objects.select_for_update().get(pk=shipment.pk)
        if reference and locked.events.filter(reference=reference).exists():
            return locked
        if status not in SHIPMENT_TRANSITIONS[locked.status]:
            raise ShipmentError(
                gettext("A shipment that is “%(from)s” can't become “%(to)s”.")
                % {"from": locked.get_status_display(), "to": ShipmentStatus(status).label}
            )
        previous = locked.status
        ShipmentEvent.objects.create(
            shipment=locked,
            status=status,
            note=note[:255],
            reference=reference,
            happened_at=happened_at or timezone.now(),
            user=_staff(user),
        )
        record(
            actor=user,
            action="shipment.status_changed",
            target=locked,
            before={"status": previous},
            after={"status": status},
            note=note,
        )
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
        shipment_status_changed.send(
            sender=Shipment,
            shipment_id=locked.pk,
            order_id=locked.order_id,
            status=status,
            previous_status=previous,
            **_order_facts(locked.order_id),
        )
        kinds = ["shipped"] if previous == ShipmentStatus.PACKED else []
        kinds += ["delivered"] if status == ShipmentStatus.DELIVERED else []
        for kind in kinds:
            _queue_shipment_email(locked.pk, kind)
    shipment.status = locked.status
    return locked


def _queue_shipment_email(shipment_id, kind):
    """Mail the shopper about the parcel through the outbox, with the current transaction."""
    outbox.enqueue(
        "shipping.tasks.send_shipment_email",
        shipment_id,
        kind,
        key=f"shipment:{shipment_id}:{kind}",
    )


def track_shipment(*, shipment, now=None) -> int:
    """Record what the carrier reports that is new; returns how many steps were taken."""
    taken = 0
    events = carriers.adapter_for(shipment.carrier).fetch_events(shipment, now=now)
    for event in sorted(events, key=lambda event: event.happened_at):
        shipment.refresh_from_db(fields=["status"])
        if event.status not in SHIPMENT_TRANSITIONS[shipment.status]:
            continue  # already past it, e.g. staff moved the parcel by hand
        before = shipment.status
        advance_shipment(
            shipment=shipment,
            status=event.status,
            note=event.note,
            happened_at=event.happened_at,
            reference=event.reference,
        )
        taken += shipment.status != before
    return taken


# Replenishment

OPEN_PURCHASE_ORDERS = (
    PurchaseOrder.Status.DRAFT,
    PurchaseOrder.Status.SENT,
    PurchaseOrder.Status.PARTIALLY_RECEIVED,
)
RECEIVABLE_PURCHASE_ORDERS = (PurchaseOrder.Status.SENT, PurchaseOrder.Status.PARTIALLY_RECEIVED)


class PurchaseOrderError(Exception):
    """A purchase order step that doesn't fit its status or its lines."""


def create_supplier(*, name, email="", lead_time_days=7, review_days=7):
    """Return the supplier with this name, creating it the first time.

    Like create_warehouse, an existing supplier is left as staff last set it.
    """

    supplier, _created = Supplier.objects.get_or_create(
        name=name,
        defaults={"email": email, "lead_time_days": lead_time_days, "review_days": review_days},
    )
    return supplier


def assign_supplier(*, supplier, stock_levels) -> int:
    """Make the supplier restock these levels; a level that has a supplier keeps it.

    Returns how many levels it now restocks that it didn't.
    """
    return StockLevel.objects.filter(
        pk__in=[level.pk for level in stock_levels], supplier__isnull=True
    ).update(supplier=supplier)


class Outcome:
    """What planning decided for one stock level; Replenishment.reason says it in words."""

    ORDER = "order"
    ABOVE_REORDER_POINT = "above_reorder_point"
    NO_DEMAND = "no_demand"
    NOT_ON_SALE = "not_on_sale"
    NO_SUPPLIER = "no_supplier"


@dataclass(frozen=True)
class Replenishment:
    """The policy's figures for one stock level, what to order now, and why."""

    level: StockLevel
    outcome: str
    days: int = DEMAND_WINDOW_DAYS
    mean: float = 0.0
    spread: float = 0.0
    reorder_point: int = 0
    order_up_to: int = 0
    position: int = 0
    quantity: int = 0
    # True once the quantity is on a draft purchase order, not only planned.
    ordered: bool = False

    @property
    def reason(self) -> str:
        figures = {
            "days": self.days,
            "position": self.position,
            "reorder_point": self.reorder_point,
            "order_up_to": self.order_up_to,
            "quantity": self.quantity,
        }
        if self.outcome == Outcome.ORDER:
            if self.ordered:
                text = gettext(
                    "ordered %(quantity)d (position %(position)d ≤ reorder point "
                    "%(reorder_point)d, up to %(order_up_to)d)"
                )
            else:
                text = gettext(
                    "to order %(quantity)d (position %(position)d ≤ reorder point "
                    "%(reorder_point)d, up to %(order_up_to)d)"
                )
        elif self.outcome == Outcome.ABOVE_REORDER_POINT:
            text = gettext("position %(position)d above reorder point %(reorder_point)d")
        elif self.outcome == Outcome.NO_DEMAND:
            text = gettext("no demand in the last %(days)d days")
        elif self.outcome == Outcome.NOT_ON_SALE:
            text = gettext("not on sale")
        else:
            text = gettext("no supplier")
        return text % figures


def _demand_per_day(movements, *, days, now):
    """{stock level id: units asked for on each of the last `days` days, oldest first}.

    The window ends with today, so what orders reserved this morning counts. Demand is what
    orders reserved, less what cancelled orders gave back; a day without orders counts as
    zero, and a day that gave back more than it took counts as zero too.
    """
    now = now or timezone.now()
    first_day = timezone.localdate(now) - timedelta(days=days - 1)
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=days - 1)
    per_level = {}
    for row in (
        movements.filter(
            kind__in=[StockMovement.Kind.RESERVATION, StockMovement.Kind.RELEASE],
            created_at__gte=start,
            created_at__lte=now,
        )
        .values("stock_level_id", "created_at__date")
        .annotate(units=Sum("reserved_change"))
    ):
        index = (row["created_at__date"] - first_day).days
        if 0 <= index < days:
            per_level.setdefault(row["stock_level_id"], [0] * days)[index] = max(row["units"], 0)
    return per_level


def daily_demand(*, level, days=DEMAND_WINDOW_DAYS, now=None) -> list[int]:
    """Units the level was asked for on each of the last `days` days (today last)."""
    return _demand_per_day(level.movements.all(), days=days, now=now).get(level.pk, [0] * days)


def _on_order(lines):
    """{(variant id, warehouse id): units on open purchase orders that have not arrived}."""
    return {
        (row["variant_id"], row["purchase_order__warehouse_id"]): row["units"]
        for row in lines.filter(purchase_order__status__in=OPEN_PURCHASE_ORDERS)
        .values("variant_id", "purchase_order__warehouse_id")
        .annotate(units=Sum(F("quantity") - F("quantity_received")))
    }


def _plan(level, *, demand, on_order, ordered=False):
    """Apply the policy to one level, given its demand history and its units on order.

    When available plus on order falls to the reorder point, order up to the order-up-to
    level (see replenishment.policy_levels for the formula). A level without a supplier,
    of a variant not on sale, or without demand in the window orders nothing.
    """
    days = len(demand)
    if level.supplier_id is None:
        return Replenishment(level=level, outcome=Outcome.NO_SUPPLIER, days=days)
    if not (level.variant.is_active and level.variant.product.is_active):
        return Replenishment(level=level, outcome=Outcome.NOT_ON_SALE, days=days)
    if not any(demand):
        return Replenishment(level=level, outcome=Outcome.NO_DEMAND, days=days)
    levels = policy_levels(
        demand,
        lead_time_days=level.supplier.lead_time_days,
        review_days=level.supplier.review_days,
    )
    position = level.on_hand - level.reserved + on_order
    reorder = position <= levels.reorder_point
    return Replenishment(
        level=level,
        outcome=Outcome.ORDER if reorder else Outcome.ABOVE_REORDER_POINT,
        days=days,
        mean=levels.mean,
        spread=levels.spread,
        reorder_point=levels.reorder_point,
        order_up_to=levels.order_up_to,
        position=position,
        quantity=max(levels.order_up_to - position, 0) if reorder else 0,
        ordered=ordered and reorder,
    )


def _units_on_order(level):
    lines = PurchaseOrderLine.objects.filter(
        variant_id=level.variant_id, purchase_order__warehouse_id=level.warehouse_id
    )
    return _on_order(lines).get(_key(level), 0)


def plan_replenishment(*, level, now=None, days=DEMAND_WINDOW_DAYS) -> Replenishment:
    """The policy's levels from the ledger's demand history, and the units to order now."""
    return _plan(
        level,
        demand=daily_demand(level=level, days=days, now=now),
        on_order=_units_on_order(level),
    )


def _order(level, *, now, days) -> Replenishment:
    """Plan the level again with its row locked and put the reorder on the supplier's draft.

    Two runs at once (the nightly task and an operator) queue on the stock row, and the
    second sees what the first put on order, so nothing is ordered twice.
    """
    with transaction.atomic():
        level = (
            StockLevel.objects.select_for_update(of=("self",))
            .select_related("supplier", "warehouse", "variant__product")
            .get(pk=level.pk)
        )
        plan = _plan(
            level,
            demand=daily_demand(level=level, days=days, now=now),
            on_order=_units_on_order(level),
            ordered=True,
        )
        if plan.outcome != Outcome.ORDER:
            return plan
        draft, _created = PurchaseOrder.objects.get_or_create(
            supplier_id=level.supplier_id,
            warehouse_id=level.warehouse_id,
            status=PurchaseOrder.Status.DRAFT,
        )
        line, created = PurchaseOrderLine.objects.get_or_create(
            purchase_order=draft,
            variant_id=level.variant_id,
            defaults={"quantity": plan.quantity, "reorder_point": plan.reorder_point},
        )
        if not created:
            line.quantity += plan.quantity
            line.reorder_point = plan.reorder_point
            line.save(update_fields=["quantity", "reorder_point"])
    return plan


def replenish_stock(*, now=None, dry_run=False, days=DEMAND_WINDOW_DAYS) -> list[Replenishment]:
    """Plan every stock level of the active warehouses and put what to order on drafts.

    Returns one plan per level, each with its reason, so an operator sees why a level was
    or wasn't ordered. One draft per supplier and warehouse collects the lines; stock already
    on order counts as available, so running it twice orders nothing twice. Demand and units
    on order are read for all levels at once; only the levels to order are written, each in
    its own transaction. dry_run plans without writing.
    """
    now = now or timezone.now()
    levels = StockLevel.objects.filter(warehouse__is_active=True)
    demand = _demand_per_day(
        StockMovement.objects.filter(stock_level__in=levels.filter(supplier__isnull=False)),
        days=days,
        now=now,
    )
    on_order = _on_order(PurchaseOrderLine.objects.all())
    plans = []
    levels = levels.select_related("supplier", "warehouse", "variant__product").order_by("pk")
    for level in levels:
        plan = _plan(
            level, demand=demand.get(level.pk, [0] * days), on_order=on_order.get(_key(level), 0)
        )
        if plan.outcome == Outcome.ORDER and not dry_run:
            plan = _order(level, now=now, days=days)
        plans.append(plan)
    return plans


def send_purchase_order(*, purchase_order, user=None) -> PurchaseOrder:
    """Staff sent the draft to the supplier: it is on order, no longer to be edited."""
    with transaction.atomic():
        locked = PurchaseOrder.objects.select_for_update().get(pk=purchase_order.pk)
        if locked.status != PurchaseOrder.Status.DRAFT:
            raise PurchaseOrderError(
                gettext("%(po)s is “%(status)s”: only a draft can be sent.")
                % {"po": locked, "status": locked.get_status_display()}
            )
        if not locked.lines.exists():
            raise PurchaseOrderError(gettext("%(po)s has no lines.") % {"po": locked})
        locked.status, locked.sent_at = PurchaseOrder.Status.SENT, timezone.now()
        locked.save(update_fields=["status", "sent_at"])
        record(
            actor=user,
            action="purchase_order.sent",
            target=locked,
            before={"status": PurchaseOrder.Status.DRAFT},
            after={"status": locked.status},
        )
    return locked


def _arrived(purchase_order, lines, quantities):
    """{line: units} that arrived: what was asked, or everything still outstanding."""
    if quantities is None:
        return {line: line.outstanding for line in lines if line.outstanding}
    by_id = {line.pk: line for line in lines}
    if set(quantities) - set(by_id):
        raise PurchaseOrderError(
            gettext("Those lines are not part of %(po)s.") % {"po": purchase_order}
        )
    arrived = {}
    for pk, units in quantities.items():
        line = by_id[pk]
        if isinstance(units, bool) or not isinstance(units, int) or units < 0:
            raise PurchaseOrderError(gettext("Receive a whole number of units."))
        if units > line.outstanding:
            raise PurchaseOrderError(
                gettext("Only %(left)d of %(sku)s are still on order.")
                % {"left": line.outstanding, "sku": line.variant.sku}
            )
        if units:
            arrived[line] = units
    return arrived


def receive_purchase_order(
    *, purchase_order, quantities=None, received_so_far=None, user=None
) -> PurchaseOrder:
    """Book the units that arrived into the warehouse's stock, through the ledger.

    `quantities` maps line ids to the units that arrived; without it, everything still
    outstanding arrived. Each line counts what it has received and never takes more than is
    outstanding, so receiving twice books nothing twice. The order is partly received until
    every line is complete, then received. `received_so_far` ({line id: units}) is what the
    receiving form showed: when a delivery was booked since, e.g. the form was sent twice,
    nothing is booked and staff see the new figures.
    """
    with transaction.atomic():
        locked = PurchaseOrder.objects.select_for_update().get(pk=purchase_order.pk)
        if locked.status not in RECEIVABLE_PURCHASE_ORDERS:
            raise PurchaseOrderError(
                gettext("%(po)s is “%(status)s”: only a sent order can be received.")
                % {"po": locked, "status": locked.get_status_display()}
            )
        lines = list(locked.lines.select_related("variant").order_by("pk"))
        if received_so_far is not None and received_so_far != {
            line.pk: line.quantity_received for line in lines
        }:
            raise PurchaseOrderError(
                gettext("A delivery for %(po)s was booked meanwhile: check what is on order.")
                % {"po": locked}
            )
        arrived = _arrived(locked, lines, quantities)
        if not arrived:
            raise PurchaseOrderError(gettext("Enter the units that arrived."))
        receive_stock_batch(
            receipts=[
                (line.variant_id, locked.warehouse_id, units) for line, units in arrived.items()
            ],
            user=user,
            note=gettext("Purchase order %(po)s") % {"po": locked},
        )
        for line, units in arrived.items():
            line.quantity_received += units
        PurchaseOrderLine.objects.bulk_update(list(arrived), ["quantity_received"])
        previous = locked.status
        if any(line.outstanding for line in lines):
            locked.status = PurchaseOrder.Status.PARTIALLY_RECEIVED
        else:
            locked.status, locked.received_at = PurchaseOrder.Status.RECEIVED, timezone.now()
        locked.save(update_fields=["status", "received_at"])
        record(
            actor=user,
            action="purchase_order.received",
            target=locked,
            before={"status": previous},
            after={
                "status": locked.status,
                "units": {line.variant.sku: units for line, units in arrived.items()},
            },
        )
    return locked
