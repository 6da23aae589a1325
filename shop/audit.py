"""The audit trail: what staff did, recorded by the services where they do it."""

from .models import AuditEntry


def _changed_only(before, after):
    keys = [key for key in {**before, **after} if before.get(key) != after.get(key)]
    return (
        {key: before[key] for key in keys if key in before},
        {key: after[key] for key in keys if key in after},
    )


def record(*, actor, action, target, before=None, after=None, note=""):
    """Record that `actor` did `action` (e.g. "order.status_changed") to the model `target`.

    Called inside the service's transaction, so the entry is written with the change or not
    at all. Only staff are recorded: a shopper acting on their own order or ticket, and a
    task or command (no actor), are the shop at work, already told by the order's events and
    the stock ledger. `before` and `after` are small dicts of fields; given both, only the
    fields that differ are kept. Returns the entry, or None when nothing was recorded.
    """
    if actor is None or not actor.is_authenticated or not (actor.is_staff or actor.is_superuser):
        return None
    if before is not None and after is not None:
        before, after = _changed_only(before, after)
    return AuditEntry.objects.create(
        actor=actor,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:255],
        before=before,
        after=after,
        note=str(note)[:255],
    )
