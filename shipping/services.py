"""Stock actions: every change to a stock level goes through here and writes the stock ledger.

Each function is one transaction (joining the caller's when there is one): it locks the stock
rows it changes, writes a `StockMovement` per row changed, and recomputes the variants'
`stock_available` before the transaction ends, so the storefront never disagrees with the
stock levels. `0 <= reserved <= on_hand` is enforced by the database; the checks here repeat it
to give a clear `StockError` instead of an integrity error.
"""

from collections import Counter
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from catalog.models import Variant
from catalog.services import update_availability

from .models import Allocation, ShippingMethod, StockLevel, StockMovement, Warehouse
from .selectors import ShippingOption, shipping_options, shipping_price  # noqa: F401

NOTE_LENGTH = StockMovement._meta.get_field("note").max_length


class StockError(Exception):
    """A stock change that breaks a rule; the message says which, for staff or shoppers."""


@dataclass(frozen=True)
class Shortage:
    variant_id: int | None
    sku: str
    requested: int
    available: int


class OutOfStock(StockError):
    """Some lines of an order cannot be filled; `shortages` says which and how many are left."""

    def __init__(self, shortages):
        self.shortages = list(shortages)
        short_lines = ", ".join(
            gettext("%(sku)s (%(requested)d requested, %(available)d available)")
            % {"sku": s.sku, "requested": s.requested, "available": s.available}
            for s in self.shortages
        )
        super().__init__(gettext("Not enough stock for %(lines)s.") % {"lines": short_lines})


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
        update_availability(variant_ids={level.variant_id for level in touched})
    return allocations


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
