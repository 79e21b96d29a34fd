"""Row locks, always taken in one order (provider, then client) so two bookings cannot
deadlock each other."""

from reservation.models import Client, Provider
from reservation.querycache import CompiledQuery

# of=("self",): the joined user row stays unlocked. A person can be a provider and a client;
# locking users too would make two such people booking each other deadlock. Compiled once
# (reservation.querycache): every write to a calendar starts here.
_PROVIDER_LOCK = CompiledQuery(
    lambda pk: (
        Provider.objects.select_for_update(of=("self",)).select_related("user").filter(pk=pk)
    ),
    pk=int,
)
_CLIENT_LOCK = CompiledQuery(
    lambda pk: Client.objects.select_for_update(of=("self",)).select_related("user").filter(pk=pk),
    pk=int,
)


def lock_provider(*, provider_id: int) -> Provider:
    """Lock the provider row for the rest of the transaction: every write to a provider's
    calendar takes this lock first, so checks made after it see a settled calendar.
    Provider.DoesNotExist when there is none."""
    return _PROVIDER_LOCK.get(pk=provider_id)


def lock_booking(*, provider_id: int, client_id: int) -> tuple[Provider, Client]:
    """Lock the provider, then the client (the client lock serialises the hold limit across
    providers)."""
    provider = lock_provider(provider_id=provider_id)
    return provider, _CLIENT_LOCK.get(pk=client_id)
