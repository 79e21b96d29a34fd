"""The client's parts that need no server: typed times, error words, its operations against
the server's schema, and where the token is kept."""

import json
import os
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
from graphql import build_schema, parse, validate

from rendezvous_tui import api, config, times
from rendezvous_tui.api import Problem, operation_names, operation_text
from rendezvous_tui.words import PLAIN, plain
from reservation.errors import ErrorCode

SCHEMA = Path(__file__).resolve().parents[4] / "schema.graphql"
BERLIN = ZoneInfo("Europe/Berlin")


# --- typed times -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "minutes"),
    [
        ("2030-01-15T10 1", datetime(2030, 1, 15, 9, 0, tzinfo=UTC), 60),
        ("2030-01-15T10:30 0:45", datetime(2030, 1, 15, 9, 30, tzinfo=UTC), 45),
        ("2030-01-15 10:30 1:30", datetime(2030, 1, 15, 9, 30, tzinfo=UTC), 90),
        ("2030-07-15T10:30 0:45", datetime(2030, 7, 15, 8, 30, tzinfo=UTC), 45),  # summer time
        ("2030-01-15T10:30Z 2", datetime(2030, 1, 15, 10, 30, tzinfo=UTC), 120),
        ("2030-01-15T10:30+05:30 0:10", datetime(2030, 1, 15, 5, 0, tzinfo=UTC), 10),
        ("2030-01-15T10:30:15-0200 0:01", datetime(2030, 1, 15, 12, 30, 15, tzinfo=UTC), 1),
        ("  2030-01-15t09 24  ", datetime(2030, 1, 15, 8, 0, tzinfo=UTC), 1440),
    ],
)
def test_a_typed_span_is_a_start_in_my_zone_and_a_length(
    text: str, start: datetime, minutes: int
) -> None:
    span = times.parse_span(text, BERLIN)
    assert (span.start.astimezone(UTC), span.minutes) == (start, minutes)
    assert span.as_input() == {"start": start.isoformat(), "durationMinutes": minutes}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2030-01-15 1", "type a start and a length as YYYY-MM-DDThh[:mm] hh[:mm]"),
        ("2030-02-30T10 1", "2030-02-30 is not a date"),
        ("2030-01-15T24 1", "24:00 is not a time of day"),
        ("2030-01-15T10:60 1", "10:60 is not a time of day"),
        ("2030-01-15T10 0:75", "0:75 is not a length"),
        ("2030-01-15T10 0", "the length must be at least one minute"),
        ("2030-01-15T10+25:00 1", "+25:00 is not a UTC offset"),
        ("2030-03-31T02:30 1", "2030-03-31 02:30 does not exist in Europe/Berlin"),
    ],
)
def test_a_mistyped_span_says_why(text: str, reason: str) -> None:
    with pytest.raises(times.BadTime) as caught:
        times.parse_span(text, BERLIN)
    assert str(caught.value).startswith(reason)


def test_the_clock_going_back_takes_the_first_of_the_two_times() -> None:
    span = times.parse_span("2030-10-27T02:30 1", BERLIN)  # 02:30 happens twice that night
    assert span.start.astimezone(UTC) == datetime(2030, 10, 27, 0, 30, tzinfo=UTC)


def test_days_and_spans_read_back_in_my_zone() -> None:
    today = date(2030, 1, 15)
    assert times.parse_day("", BERLIN, today=today) == today
    assert times.parse_day("tomorrow", BERLIN, today=today) == date(2030, 1, 16)
    assert times.parse_day("+10", BERLIN, today=today) == date(2030, 1, 25)
    assert times.parse_day("2030-02-01", BERLIN, today=today) == date(2030, 2, 1)
    with pytest.raises(times.BadTime):
        times.parse_day("soon", BERLIN, today=today)
    start, end = "2030-01-15T22:30:00Z", "2030-01-16T00:00:00+00:00"
    assert times.span_text(start, end, BERLIN) == "Tue 2030-01-15 23:30–Wed 2030-01-16 01:00"
    assert times.span_text(start, start, BERLIN, short=True) == "Tue 01-15 23:30–23:30"
    assert [times.length(m) for m in (45, 60, 90, 1440)] == ["45m", "1h", "1h30m", "24h"]


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=WEEKLY;BYDAY=MO", "weekly on Mon"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=5", "every 2 weeks on Mon, Thu, 5 times"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "monthly on last Fri"),
        (
            "FREQ=MONTHLY;BYMONTHDAY=15;UNTIL=20301231T235959Z",
            "monthly on day 15, until 2030-12-31",
        ),
        ("FREQ=DAILY", "daily"),
    ],
)
def test_a_recurrence_rule_reads_as_words(rule: str, words: str) -> None:
    assert times.rule_text(rule) == words


# --- error words -----------------------------------------------------------------------------


def test_every_domain_error_code_has_plain_words() -> None:
    assert sorted(code.value for code in ErrorCode if code.value not in PLAIN) == []


def test_plain_words_keep_the_code_and_the_servers_detail() -> None:
    assert plain(Problem("SLOT_UNAVAILABLE", "")) == (
        "That time is not free (any more). [SLOT_UNAVAILABLE]"
    )
    assert plain(Problem("IN_THE_PAST", "slots[0] starts in the past.", "slots")) == (
        "That time has passed already. [IN_THE_PAST] (slots: slots[0] starts in the past.)"
    )
    assert plain(Problem("SOMETHING_NEW", "A new refusal.")) == "A new refusal. [SOMETHING_NEW]"
    assert plain(Problem("HTTP_502", "Bad Gateway")) == (
        "The server answered HTTP 502. [HTTP_502] (Bad Gateway)"
    )


# --- operations ------------------------------------------------------------------------------

# Sent only to servers that have them; older ones answer GRAPHQL_VALIDATION_FAILED and the
# client falls back (see shell.obtain_token).
NEWER_THAN_THIS_SCHEMA = {"TokenObtain"}


def test_every_operation_is_valid_against_the_servers_schema() -> None:
    schema = build_schema(SCHEMA.read_text("utf-8"))
    has_obtain = "apiTokenObtain" in schema.mutation_type.fields
    checked = []
    for name in operation_names():
        if name in NEWER_THAN_THIS_SCHEMA and not has_obtain:
            continue
        errors = validate(schema, parse(operation_text(name)))
        assert [str(e) for e in errors] == [], name
        checked.append(name)
    assert len(checked) >= 20


def test_an_operation_is_sent_with_exactly_the_fragments_it_uses() -> None:
    text = operation_text("Agree")
    assert text.startswith("mutation Agree(")
    assert "fragment EventFull on Event" in text
    assert "fragment Problem on OperationInfo" in text
    assert "fragment" not in operation_text("Me")


# --- configuration ---------------------------------------------------------------------------


def test_the_token_file_is_the_owners_alone(tmp_path: Path) -> None:
    path = tmp_path / "rendezvous" / "token"
    path.parent.mkdir()
    path.write_text("old")
    path.chmod(0o644)
    config.write_token(path, "rdv_secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config.read_token(path) == "rdv_secret"
    path.chmod(0o640)
    with pytest.raises(config.ConfigError, match="can be read by others"):
        config.read_token(path)


def test_flags_beat_the_environment_which_beats_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDEZVOUS_CONFIG_DIR", str(tmp_path))
    (tmp_path / "config.toml").write_text('url = "http://file/graphql"\ntime_zone = "Asia/Tokyo"\n')
    config.write_token(tmp_path / "token", "rdv_from_file")

    def resolve(env: dict[str, str], **flags: str | None) -> tuple[object, ...]:
        found = config.resolve(
            url=flags.get("url"),
            token_file=flags.get("token_file"),
            time_zone=flags.get("time_zone"),
            no_color=False,
            environ=env,
        )
        return found.url, found.token, found.time_zone, found.color

    assert resolve({}) == ("http://file/graphql", "rdv_from_file", "Asia/Tokyo", True)
    env = {"RENDEZVOUS_URL": "http://env/graphql", "RENDEZVOUS_TOKEN": "rdv_env", "NO_COLOR": "1"}
    assert resolve(env) == ("http://env/graphql", "rdv_env", "Asia/Tokyo", False)
    other = tmp_path / "other"
    config.write_token(other, "rdv_flag")
    assert resolve(env, url="http://flag/graphql", token_file=str(other), time_zone="UTC") == (
        "http://flag/graphql",
        "rdv_flag",
        "UTC",
        False,
    )
    assert resolve({"NO_COLOR": ""})[3] is True  # NO_COLOR counts only when not empty
    os.remove(tmp_path / "config.toml")
    assert resolve({})[0] == config.DEFAULT_URL


# --- a database that is away for a moment ------------------------------------------------------


class Flaky(BaseHTTPRequestHandler):
    """Answers DATABASE_UNAVAILABLE (503, as the server does) `outage` times, then data."""

    outage = 0
    bodies: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Flaky.bodies.append(body)
        if Flaky.outage:
            Flaky.outage -= 1
            status, answer = (
                503,
                {
                    "data": None,
                    "errors": [{"message": "wait", "extensions": {"code": "DATABASE_UNAVAILABLE"}}],
                },
            )
        else:
            status, answer = 200, {"data": {"me": {"email": "ana@example.com"}}}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(api, "RETRY_WAIT", 0.01)
    Flaky.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/graphql"
    server.shutdown()
    server.server_close()


def test_a_query_is_asked_again_while_the_database_is_away(flaky: str) -> None:
    Flaky.outage = 2
    client = api.Api(flaky, "rdv_secret")
    said: list[str] = []
    client.on_retry = said.append
    assert client.run("Me") == {"email": "ana@example.com"}
    assert len(Flaky.bodies) == 3
    assert said == ["the server's database is unavailable; asking again in 0.01 s"] * 2


def test_a_mutation_without_an_idempotency_key_is_not_repeated(flaky: str) -> None:
    Flaky.outage = 1
    with pytest.raises(api.ApiError) as caught:
        api.Api(flaky, "rdv_secret").run("Confirm", id="UmVzZXJ2YXRpb246MQ==")
    assert caught.value.codes == ["DATABASE_UNAVAILABLE"]
    assert len(Flaky.bodies) == 1


def test_a_reservation_with_its_key_is_repeated_with_the_same_key(flaky: str) -> None:
    Flaky.outage = 1
    api.Api(flaky, "rdv_secret").run("Reserve", provider="p", start="s", key="k-1")
    assert [b["variables"]["key"] for b in Flaky.bodies] == ["k-1", "k-1"]


def test_gives_up_after_three_tries(flaky: str) -> None:
    Flaky.outage = 5
    with pytest.raises(api.ApiError):
        api.Api(flaky, "rdv_secret").run("Me")
    assert len(Flaky.bodies) == 3
