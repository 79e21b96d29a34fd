"""Incremental sync: tombstones for hard deletions, written from the audit hook in the
transaction of each deletion (the audit entry is written before the row goes, so who could
see it is still known)."""

from collections.abc import Sequence

from reservation.models import AuditEntry, Event, Participant, Tombstone

# Audit actions that hard-delete what a synced list shows.
DELETIONS = {"event.delete", "time_off.delete"}


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
    if not stones:
        return []
    return Tombstone.objects.bulk_create(
        Tombstone(subject_type=kind, subject_id=pk, deleted_at=entry.at, visible_to=sorted(people))
        for kind, pk, people, entry in stones
    )
