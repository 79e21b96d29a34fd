from datetime import timedelta

import pytest

from reservation.validation import describe_duration


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=24), "24 hours"),
        (timedelta(minutes=90), "1 hour 30 minutes"),
        (timedelta(days=60), "60 days"),
        (timedelta(days=1, hours=6), "30 hours"),
        (timedelta(days=2, hours=6), "2 days 6 hours"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(hours=23, minutes=59), "23 hours 59 minutes"),
        (timedelta(0), "0 minutes"),
    ],
)
def test_describe_duration_says_it_as_people_do(value: timedelta, text: str) -> None:
    assert describe_duration(value) == text
