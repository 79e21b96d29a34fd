"""Relay global IDs in, database keys out. A wrong type or a malformed ID is NOT_FOUND, the
same answer as an ID that does not exist, so IDs cannot be probed.

Arguments are declared as plain `ID` (not strawberry's `GlobalID`) and decoded here: a
`GlobalID` argument is parsed by strawberry before the resolver runs, and a malformed one
would surface as a GraphQL validation error instead of NOT_FOUND.
"""

from strawberry import relay

from reservation.errors import NotFound

# How the services name what they did not find, so a malformed or wrong-type ID gets the very
# answer an unknown one does.
_NOUNS = {
    "ApiToken": "API token",
    "AvailabilityWindow": "availability window",
    "CalendarConnection": "calendar connection",
    "CalendarFeed": "calendar feed",
    "CandidateSlot": "candidate slot",
    "Client": "client",
    "Event": "event",
    "EventAccessToken": "access token",
    "ExternalCalendar": "calendar",
    "Provider": "provider",
    "Reservation": "reservation",
    "TimeOff": "time off",
}


def split_id(gid: relay.GlobalID | str, *, what: str = "object") -> tuple[str, int]:
    """(type name, primary key) of a global ID, or NOT_FOUND if it is not one."""
    if not isinstance(gid, relay.GlobalID):
        try:
            gid = relay.GlobalID.from_id(str(gid))
        except ValueError as exc:  # GlobalIDValueError: not base64, or no "Type:" part
            raise NotFound(f"No such {what}.") from exc
    node_id = gid.node_id
    # Only the canonical spelling: int() would also take " 7", "007", "1_0" and other digits.
    if not (node_id.isascii() and node_id.isdigit()) or str(int(node_id)) != node_id:
        raise NotFound(f"No such {what}.")
    value = int(node_id)
    if not 0 < value < 2**63:
        raise NotFound(f"No such {what}.")
    return gid.type_name, value


def decode_id(gid: relay.GlobalID | str, type_name: str) -> int:
    """The primary key of a `type_name` global ID, or NOT_FOUND."""
    what = _NOUNS.get(type_name, type_name)
    found_type, value = split_id(gid, what=what)
    if found_type != type_name:
        raise NotFound(f"No such {what}.")
    return value


def decode_ids(gids: list[relay.GlobalID] | list[str], type_name: str) -> list[int]:
    return [decode_id(gid, type_name) for gid in gids]
