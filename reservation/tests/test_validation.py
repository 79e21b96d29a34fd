from datetime import timedelta

import pytest

from reservation.errors import DomainError, ErrorCode
from reservation.validation import describe_duration, require_one_line


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


@pytest.mark.parametrize("text", ["Ann\nBcc: victim@example.com", "Tab\there", "Bell\x07", "\x7f"])
def test_one_line_text_refuses_control_characters(text: str) -> None:
    with pytest.raises(DomainError) as info:
        require_one_line(text, field="title", max_length=200)

    assert (info.value.error_code, info.value.message_dict) == (
        ErrorCode.INVALID_INPUT,
        {"title": ["title must be one line of text."]},
    )


def test_one_line_text_is_trimmed_and_bounded() -> None:
    assert require_one_line("  Café — déjà vu  ", field="name", max_length=14) == "Café — déjà vu"
    with pytest.raises(DomainError, match="too long"):
        require_one_line("x" * 201, field="name", max_length=200)
