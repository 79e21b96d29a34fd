"""Public references for rows whose IDs must not be published (seed 002: "Never publish staff
or relationship ID"): a keyed permutation of the 48-bit ID space (a four-round Feistel
network over HMAC-SHA256 with the SECRET_KEY), written as 10 base-32 characters. It reveals
neither the ID nor how many rows there are, and maps back without a lookup table."""

import base64
import hashlib
import hmac

from django.conf import settings

_HALF = 24
_MASK = (1 << _HALF) - 1
_ROUNDS = 4


def _round(value: int, round_no: int, purpose: str) -> int:
    key = f"{settings.SECRET_KEY}:publicref:{purpose}".encode()
    mac = hmac.new(key, f"{round_no}:{value}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:3], "big") & _MASK


def encode_ref(pk: int, *, purpose: str) -> str:
    """The public reference of a positive ID below 2**48, for one purpose (kind of row)."""
    if not 0 < pk < 1 << (2 * _HALF):
        raise ValueError("ID out of range for a public reference.")
    left, right = pk >> _HALF, pk & _MASK
    for round_no in range(_ROUNDS):
        left, right = right, left ^ _round(right, round_no, purpose)
    raw = ((left << _HALF) | right).to_bytes(6, "big") + b"\0\0\0\0"
    return base64.b32encode(raw).decode()[:10].lower()


def decode_ref(ref: str, *, purpose: str) -> int | None:
    """The ID behind a reference made by `encode_ref` for the same purpose, or None."""
    if len(ref) != 10:
        return None
    try:
        raw = base64.b32decode(ref.upper() + "======")
    except (ValueError, base64.binascii.Error):
        return None
    value = int.from_bytes(raw[:6], "big")
    left, right = value >> _HALF, value & _MASK
    for round_no in reversed(range(_ROUNDS)):
        left, right = right ^ _round(left, round_no, purpose), left
    pk = (left << _HALF) | right
    return pk if pk > 0 and encode_ref(pk, purpose=purpose) == ref else None
