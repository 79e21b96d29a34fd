"""Writing audit entries: always inside the caller's transaction."""

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from reservation.actors import Actor
from reservation.models import AuditEntry
from reservation.services.sync import tombstones_record
from reservation.services.webhooks import webhooks_emit


def _jsonable(changes: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(changes, cls=DjangoJSONEncoder))


def _entry(
    *, actor: Actor, action: str, subject: Any, changes: dict[str, Any], at: datetime
) -> AuditEntry:
    if actor.system:
        kind = AuditEntry.ActorKind.SYSTEM
    elif actor.api_token is not None or actor.access_token is not None:
        kind = AuditEntry.ActorKind.TOKEN
    else:
        kind = AuditEntry.ActorKind.USER
    return AuditEntry(
        at=at,
        actor_kind=kind,
        actor_user=actor.user,
        actor_token=actor.api_token,
        actor_access_token=actor.access_token,
        action=action,
        subject_type=subject._meta.model_name,
        subject_id=subject.pk,
        changes=_jsonable(changes),
    )


def audit_entry(
    *, actor: Actor, action: str, subject: Any, changes: dict[str, Any], at: datetime
) -> AuditEntry:
    """The entry `audit_record` would write, unsaved: for a caller that INSERTs it in the same
    statement as the change it records."""
    return _entry(actor=actor, action=action, subject=subject, changes=changes, at=at)


def audit_record(
    *, actor: Actor, action: str, subject: Any, changes: dict[str, Any], at: datetime
) -> AuditEntry:
    """Write one audit entry for `subject` (a saved model instance)."""
    entry = _entry(actor=actor, action=action, subject=subject, changes=changes, at=at)
    entry.save()
    webhooks_emit([entry])  # the change's webhook deliveries, in the same transaction
    tombstones_record([entry])  # a deletion leaves a tombstone for syncing clients
    return entry


def audit_record_many(
    *, actor: Actor, action: str, items: Iterable[tuple[Any, dict[str, Any]]], at: datetime
) -> list[AuditEntry]:
    """Write one entry per (subject, changes) pair in a single INSERT."""
    entries = [
        _entry(actor=actor, action=action, subject=subject, changes=changes, at=at)
        for subject, changes in items
    ]
    created = AuditEntry.objects.bulk_create(entries)
    webhooks_emit(created)  # the changes' webhook deliveries, in the same transaction
    tombstones_record(created)  # deletions leave tombstones for syncing clients
    return created
