"""Every error code the server (or the way to it) can answer, in plain words."""

from __future__ import annotations

from rendezvous_tui.api import Problem

PLAIN: dict[str, str] = {
    # the domain's codes (reservation/errors.py)
    "UNAUTHENTICATED": "You are not signed in, or your token was revoked: sign in again.",
    "PERMISSION_DENIED": "You may not do that.",
    "NOT_FOUND": "There is no such thing, or it is not yours to see.",
    "INVALID_INPUT": "Something you typed was not accepted.",
    "INVALID_CREDENTIALS": "That e-mail address and password do not match an account.",
    "EMAIL_TAKEN": "An account with that e-mail address exists already.",
    "WEAK_PASSWORD": "That password is too weak.",
    "NAIVE_DATETIME": "A time was sent without its UTC offset.",
    "INVALID_TIME_RANGE": "A time range ends before it starts, or is empty.",
    "INVALID_TIME_ZONE": "That is not a known time zone.",
    "RANGE_TOO_LONG": "That time range is too long.",
    "IN_THE_PAST": "That time has passed already.",
    "TOO_MANY_WINDOWS": "Too many periods at once.",
    "SLOT_UNAVAILABLE": "That time is not free (any more).",
    "NOTICE_TOO_SHORT": "That starts too soon: the provider needs more notice.",
    "BEYOND_HORIZON": "That is too far ahead to book.",
    "HOLD_EXPIRED": "The hold ran out before it was confirmed: reserve again.",
    "HOLD_LIMIT_REACHED": "You hold too many unconfirmed reservations: confirm or cancel one.",
    "RESERVATION_NOT_ACTIVE": "That reservation is cancelled or expired.",
    "IDEMPOTENCY_KEY_REUSED": "This request repeated an earlier one with different details.",
    "STALE_VERSION": "Someone changed the event since you looked at it.",
    "EVENT_NOT_PROPOSED": "The event is no longer proposed: a time was agreed or it was cancelled.",
    "EVENT_CANCELLED": "The event is cancelled.",
    "NOT_A_PARTY": "That person is not on this event.",
    "NOT_A_CANDIDATE": "That time is not one of the event's candidates.",
    "EVENT_NOT_SCHEDULED": "The event has no agreed time yet.",
    "NOT_RECURRING": "The event does not repeat.",
    "NOT_AN_OCCURRENCE": "The event has no occurrence at that time.",
    "OCCURRENCE_CANCELLED": "That occurrence is cancelled.",
    # codes other branches add (so this client speaks them the day they land)
    "READ_ONLY_TOKEN": "Your token is read-only: sign in again (i) for one that may change things.",
    "CLIENT_NOT_ASSIGNED": "This provider takes bookings only from their own clients.",
    "SLUG_TAKEN": "That address is taken.",
    "SERIES_INCOMPLETE": "Nothing was booked: some of the times are not free.",
    "CALENDAR_UNREACHABLE": "The calendar server refused the account or could not be reached.",
    "WEBHOOK_DISABLED": "That webhook is switched off; switch it on first.",
    "INVALID_CHARACTERS": "Something you typed contains a character that cannot be stored.",
    "START_NOT_IN_RULE": "The start is not one the repeat rule gives.",
    # the API's own codes (api/)
    "CSRF_FAILED": "The server wanted a CSRF token: this client signs in with a token instead.",
    "RATE_LIMITED": "Too many requests: wait a minute and try again.",
    "DATABASE_UNAVAILABLE": "The server's database is unavailable for a moment: try again.",
    "INTERNAL_ERROR": "The server failed; nothing you did caused it. Try again later.",
    "REQUEST_TOO_LARGE": "That was too much to send at once.",
    "QUERY_TOO_DEEP": "The server refused the request as too deep (a client bug).",
    "TOO_MANY_ALIASES": "The server refused the request (too many aliases; a client bug).",
    "TOO_MANY_TOKENS": "The server refused the request as too long (a client bug).",
    "INTROSPECTION_DISABLED": "The server does not describe its schema.",
    "GRAPHQL_VALIDATION_FAILED": "The server does not understand this client's request "
    "(client and server versions differ).",
    "PERSISTED_QUERY_NOT_FOUND": "The server does not know that stored request.",
    "PERSISTED_QUERY_NOT_ALLOWED": "The server accepts only stored requests.",
    "PERSISTED_QUERY_HASH_MISMATCH": "A stored request did not match its hash.",
    "INVALID_CURSOR": "The page position was not accepted: list again.",
    "BAD_REQUEST": "The server did not accept the request (a client bug).",
    "QUERY_TOO_COSTLY": "The server refused the request as too costly (a client bug).",
    "OPERATION_NAME_REQUIRED": "The server wants named operations (a client bug).",
    "BATCHING_NOT_SUPPORTED": "The server takes one request at a time (a client bug).",
    "INVALID_JSON": "The server could not read the request (a client bug).",
    "INVALID_REQUEST": "The server did not accept the request (a client bug).",
    "METHOD_NOT_ALLOWED": "The server did not accept the request's method (a client bug).",
    "MISSING_QUERY": "The request carried no query (a client bug).",
    "NOT_ACCEPTABLE": "The server cannot answer in a form this client reads.",
    "OPERATION_NOT_FOUND": "The server found no such operation in the request (a client bug).",
    "UNSUPPORTED_MEDIA_TYPE": "The server did not accept the request's content type.",
    # this client's own
    "UNREACHABLE": "The server cannot be reached: is it running, and is the URL right?",
    "BAD_RESPONSE": "The server's answer made no sense (is the URL the GraphQL endpoint?).",
    "GRAPHQL_ERROR": "The server refused the request.",
}


def plain(problem: Problem) -> str:
    """`That time is not free (any more). [SLOT_UNAVAILABLE] slot: starts at 10:00 …`"""
    words = PLAIN.get(problem.code)
    if words is None and problem.code.startswith("HTTP_"):
        words = f"The server answered HTTP {problem.code[5:]}."
    detail = problem.message.strip()
    if problem.field:
        detail = f"{problem.field}: {detail}"
    if words is None:
        return f"{detail or 'The server refused.'} [{problem.code}]"
    if detail and detail.rstrip(".").lower() not in words.lower():
        return f"{words} [{problem.code}] ({detail})"
    return f"{words} [{problem.code}]"
