"""Incremental sync: tombstones for hard deletions, written from the audit hook in the
transaction of each deletion (the audit entry is written before the row goes, so who could
see it is still known)."""

from collections.abc import Sequence

from reservation.models import AuditEntry, Event, Participant, Provider, Tombstone


def provider_owner(provider_id: int) -> int:
    """The user behind a provider (who sees its windows)."""
    return Provider.objects.values_list("user_id", flat=True).get(pk=provider_id)


def tombstones_record(entries: Sequence[AuditEntry]) -> list[Tombstone]:
    """One tombstone per deletion among `entries`, with the users who could see the object;
    nothing (and no query) when none is a deletion."""
    stones = []
    for entry in entries:
        if entry.action == "event.delete":
            people = set(
                Participant.objects.filter(event_id=entry.subject_id).values_list(
                    "user_id", flat=True
                )
            )
            organizer = (
                Event.objects.filter(pk=entry.subject_id)
                .values_list("organizer_id", flat=True)
                .first()
            )
            if organizer is not None:
                people.add(organizer)
            stones.append(("Event", entry.subject_id, people, entry))
        elif entry.action == "time_off.delete":
            # Audited on its user; the row's own id is in the changes.
            stones.append(("TimeOff", int(entry.changes["id"]), {entry.subject_id}, entry))
        elif entry.action in ("availability.add", "availability.delete"):
            # Audited on the provider; a window merged into a new one is gone as much as a
            # deleted one (windows are never edited in place).
            ids = entry.changes.get(
                "ids" if entry.action == "availability.delete" else "merged_away_ids"
            )
            if ids:
                owner = provider_owner(entry.subject_id)
                stones.extend(("AvailabilityWindow", int(pk), {owner}, entry) for pk in ids)
    if not stones:
        return []
    return Tombstone.objects.bulk_create(
        Tombstone(subject_type=kind, subject_id=pk, deleted_at=entry.at, visible_to=sorted(people))
        for kind, pk, people, entry in stones
    )
