"""Relay global IDs in, database keys out. A wrong type or a malformed ID is NOT_FOUND, the
same answer as an ID that does not exist, so IDs cannot be probed."""

import strawberry
from strawberry import relay

from reservation.errors import NotFound


def decode_id(gid: relay.GlobalID | strawberry.ID | str, type_name: str) -> int:
    if not isinstance(gid, relay.GlobalID):
        try:
            gid = relay.GlobalID.from_id(str(gid))
        except Exception as exc:
            raise NotFound(f"No such {type_name}.") from exc
    if gid.type_name != type_name:
        raise NotFound(f"No such {type_name}.")
    try:
        value = int(gid.node_id)
    except ValueError as exc:
        raise NotFound(f"No such {type_name}.") from exc
    if not 0 < value < 2**63:
        raise NotFound(f"No such {type_name}.")
    return value


def decode_ids(gids: list[relay.GlobalID], type_name: str) -> list[int]:
    return [decode_id(gid, type_name) for gid in gids]
