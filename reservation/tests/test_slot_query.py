"""The slot-data statement (selectors.booking.slot_query): one round trip, on the GiST index."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reservation.models import ReservationStatus
from reservation.selectors.booking import slot_query
from reservation.tests.factories import NOW, at, make_client, make_provider, make_reservation

pytestmark = pytest.mark.django_db


def test_busy_time_is_read_through_the_exclusion_constraints_index() -> None:
    provider, client = make_provider(), make_client()
    for day in range(1, 40):  # history the listing must not read
        make_reservation(provider=provider, client=client, start=NOW - timedelta(days=day))
    near = make_reservation(provider=provider, client=client, start=at(8, 10))
    make_reservation(  # a lapsed hold: free, but still HELD
        provider=provider,
        client=client,
        start=at(8, 12),
        status=ReservationStatus.HELD,
        expires_at=NOW - timedelta(minutes=1),
    )

    with CaptureQueriesContext(connection) as queries:
        query = slot_query(provider=provider, start=at(8, 9), end=at(8, 14), now=NOW)

    assert len(queries) == 1
    assert query.busy == [(near.start, near.end)]
    assert query.lapsed == 1  # in the way of the constraint, not of the listing
    # The planner may take the index for this shape of query (small tables aside): the
    # expressions match the constraint's index exactly.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + queries[0]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "reservation_no_overlap" in plan
    assert "reservation_provider_start" not in plan
