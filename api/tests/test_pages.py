"""The page an e-mailed link opens (/e/<id>/?token=...): it shows the event in the reader's
zone, votes and narrows through the same services, with the same actor and audit entries as
the API, keeps CSRF on, labels every control, and shows nothing for a dead link."""

import re
import shutil
import subprocess
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client as HttpClient

from api.middleware import bearer_actor
from reservation.models import AuditEntry, Event, Notification, Participant, User, Vote
from reservation.services.events import (
    access_token_issue,
    access_token_mint,
    event_agree,
    event_narrow,
    event_notify,
    event_view,
    event_vote,
)
from reservation.services.mail import notification_send
from reservation.tests.event_factories import (
    candidate_ids,
    deliver,
    delivered,
    event_rows,
    propose,
)
from reservation.tests.factories import NOW, actor_for, make_user

pytestmark = pytest.mark.django_db

# Tue 09:00, Tue 10:00 and Wed 14:00 UTC, as Ann (New York) and Bob (no zone: UTC) see them.
ANN_SEES = (
    "Tue 08 Jan 2030, 04:00–05:00 (America/New_York)",
    "Tue 08 Jan 2030, 05:00–06:00 (America/New_York)",
    "Wed 09 Jan 2030, 09:00–10:00 (America/New_York)",
)
BOB_SEES = (
    "Tue 08 Jan 2030, 09:00–10:00 (UTC)",
    "Tue 08 Jan 2030, 10:00–11:00 (UTC)",
    "Wed 09 Jan 2030, 14:00–15:00 (UTC)",
)


class Page(HTMLParser):
    """What a test needs from the HTML: text, form controls, labels and forms."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.text: list[str] = []
        self.controls: list[dict[str, Any]] = []
        self.labels: dict[str, str] = {}
        self.forms: list[dict[str, Any]] = []
        self.legends = 0
        self._label: str | None = None
        self._alert: list[str] | None = None
        self.alerts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in {"input", "select", "textarea", "button"}:
            self.controls.append({"tag": tag, **a})
            if self.forms:
                self.forms[-1]["controls"].append(a)
        elif tag == "label":
            self._label = a.get("for") or ""
            self.labels.setdefault(self._label, "")
        elif tag == "form":
            self.forms.append({**a, "controls": []})
        elif tag == "legend":
            self.legends += 1
        if a.get("role") == "alert":
            self._alert = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label = None
        elif tag == "div" and self._alert is not None:
            self.alerts.append(" ".join("".join(self._alert).split()))
            self._alert = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._alert is not None:
            self._alert.append(data)
        if self._label is not None:
            self.labels[self._label] += data

    @property
    def content(self) -> str:
        return " ".join(" ".join(self.text).split())

    def form(self, action: str) -> dict[str, Any]:
        """The form whose hidden `action` field is `action`."""
        [form] = [
            f
            for f in self.forms
            if any(c.get("name") == "action" and c.get("value") == action for c in f["controls"])
        ]
        return form

    def fields(self, action: str) -> dict[str, str]:
        """The hidden fields of a form (CSRF token, action, expected version)."""
        return {
            c["name"]: c["value"]
            for c in self.form(action)["controls"]
            if c.get("type") == "hidden"
        }


@pytest.fixture
def olga() -> User:
    return make_user(email="olga@example.com", name="Olga", time_zone="Europe/Berlin")


@pytest.fixture
def ann() -> User:
    return make_user(email="ann@example.com", name="Ann", time_zone="America/New_York")


@pytest.fixture
def event(olga: User, ann: User) -> Event:
    """Olga asks Ann and bob@ (no account yet) about Tue 09:00, Tue 10:00, Wed 14:00 UTC."""
    return propose(olga, "ann@example.com", "bob@example.com", description="Next quarter.")


def link_secret(event: Event, email: str) -> str:
    """Olga e-mails `email` a link (through the service); the secret in that link."""
    event.refresh_from_db()
    [notification] = event_notify(
        actor=actor_for(event.organizer),
        event_id=event.pk,
        parties=[email],
        expected_version=event.version,
        now=NOW,
    )
    return deliver(notification)


def url(event: Event | int, secret: str) -> str:
    return f"/e/{getattr(event, 'pk', event)}/?token={secret}"


def new_entries(since: int) -> list[tuple[Any, ...]]:
    """Audit entries written after entry `since`, as what an actor did: action, subject,
    actor kind, user and link token, and the changes recorded."""
    return list(
        AuditEntry.objects.filter(pk__gt=since)
        .order_by("id")
        .values_list(
            "action",
            "subject_id",
            "actor_kind",
            "actor_user_id",
            "actor_access_token_id",
            "changes",
        )
    )


def last_entry_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def assert_private(response: HttpResponse) -> None:
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "strict-origin"


def submit(
    http: HttpClient, event: Event, secret: str, action: str, data: dict[str, Any]
) -> HttpResponse:
    """Load the page, then post one of its forms with `data`, as a browser would."""
    page = Page(http.get(url(event, secret)).content.decode())
    form = page.form(action)
    return http.post(form["action"], {**page.fields(action), **data})


# --- viewing -------------------------------------------------------------------------------


def test_the_link_shows_the_event_in_the_readers_zone_audited_like_the_api(
    http: HttpClient, event: Event, ann: User
) -> None:
    secret = link_secret(event, "ann@example.com")
    since = last_entry_id()

    response = http.get(url(event, secret))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert_private(response)
    page = Page(response.content.decode())
    for text in (
        "Planning",
        "Proposed",
        "Olga",
        "Next quarter.",
        "Times are shown in America/New_York",
        *ANN_SEES,
    ):
        assert text in page.content
    assert "(UTC)" not in page.content
    assert "<script" not in response.content.decode()
    via_page = new_entries(since)
    since = last_entry_id()
    event_view(actor=bearer_actor(secret), event_id=event.pk)  # what the API's event(id:) does
    via_api = new_entries(since)
    token_id = bearer_actor(secret).access_token.pk  # type: ignore[union-attr]
    assert via_page == via_api
    assert [entry[:5] for entry in via_page] == [
        ("event.view", event.pk, "TOKEN", ann.pk, token_id)
    ]


def test_a_reader_without_a_zone_sees_utc_labelled(http: HttpClient, event: Event) -> None:
    secret = link_secret(event, "bob@example.com")

    page = Page(http.get(url(event, secret)).content.decode())

    for text in BOB_SEES:
        assert text in page.content
    assert "act as bob@example.com" in page.content


def test_the_tallies_and_the_readers_own_votes_are_shown(
    http: HttpClient, event: Event, olga: User, ann: User
) -> None:
    first, _, third = candidate_ids(event)
    event_vote(actor=actor_for(olga), event_id=event.pk, votes=[(first, "YES"), (third, "NO")])
    event_vote(actor=actor_for(ann), event_id=event.pk, votes=[(first, "IF_NEED_BE")])
    secret = link_secret(event, "ann@example.com")

    page = Page(http.get(url(event, secret)).content.decode())

    assert f"{ANN_SEES[0]} 1 1 0 If need be" in page.content
    assert f"{ANN_SEES[1]} 0 0 0 none yet" in page.content
    assert f"{ANN_SEES[2]} 0 0 1 none yet" in page.content
    checked = [c["id"] for c in page.controls if "checked" in c and c.get("type") == "radio"]
    assert checked == [f"vote-{first}-IF_NEED_BE"]


def test_a_scheduled_event_shows_its_time_and_only_the_answer_form(
    http: HttpClient, event: Event, olga: User
) -> None:
    secret = link_secret(event, "ann@example.com")
    event_agree(
        actor=actor_for(olga),
        event_id=event.pk,
        slot_id=candidate_ids(event)[1],
        expected_version=1,
        now=NOW,
    )

    page = Page(http.get(url(event, secret)).content.decode())

    assert f"Status Scheduled: {ANN_SEES[1]} Your answer Undecided Organizer" in page.content
    assert "Candidate times" not in page.content
    assert [page.form("respond")["method"]] == [f["method"] for f in page.forms] == ["post"]


def test_the_scheduled_mails_answer_links_answer_through_the_page(
    http: HttpClient, event: Event, olga: User, ann: User
) -> None:
    """Each participant's "scheduled" mail has Yes / Maybe / No links (their link token, no
    account needed); a link preselects its answer, the reader confirms it with one POST."""
    event_agree(
        actor=actor_for(olga),
        event_id=event.pk,
        slot_id=candidate_ids(event)[1],
        expected_version=1,
        now=NOW,
    )
    notification = Notification.objects.get(recipient=ann, kind=Notification.Kind.EVENT_SCHEDULED)
    notification_send(notification_id=notification.pk, now=NOW)
    body = delivered(notification).body
    links = re.findall(r"(http\S+/e/\d+/\?token=(\S+?)(?:&rsvp=(\w+))?)$", body, re.M)
    assert [(answer or "page") for _, _, answer in links] == ["YES", "MAYBE", "NO", "page"]
    assert len({s for _, s, _ in links}) == 1  # one secret, minted as the mail went

    maybe_link = links[1][0].split("/e/", 1)[1]
    page = Page(http.get(f"/e/{maybe_link}").content.decode())
    assert [c["value"] for c in page.form("respond")["controls"] if "checked" in c] == ["MAYBE"]
    assert "Confirm my answer" in page.content
    assert (
        Participant.objects.get(event=event, user=ann).rsvp == "UNDECIDED"
    )  # a GET answers nothing

    since = last_entry_id()
    response = http.post(
        page.form("respond")["action"], {**page.fields("respond"), "decision": "MAYBE"}
    )
    assert response.status_code == 303
    assert Participant.objects.get(event=event, user=ann).rsvp == "MAYBE"
    [(action, _, kind, user_id, token_id, changes)] = new_entries(since)[:1]
    assert (action, kind, user_id, changes["via"], changes["rsvp"]) == (
        "event.respond",
        "TOKEN",
        ann.pk,
        "link",
        ["UNDECIDED", "MAYBE"],
    )
    assert token_id == notification.access_token_id
    assert "Your answer is saved." in Page(http.get(response["Location"]).content.decode()).content


# --- voting and narrowing ------------------------------------------------------------------


def test_a_vote_through_the_page_is_the_apis_vote(
    http: HttpClient, event: Event, ann: User
) -> None:
    first, _, third = candidate_ids(event)
    secret = link_secret(event, "ann@example.com")
    http.get(url(event, secret))
    since = last_entry_id()

    response = submit(
        http, event, secret, "vote", {f"vote-{first}": "YES", f"vote-{third}": "IF_NEED_BE"}
    )

    assert response.status_code == 303
    assert response["Location"] == f"{url(event, secret)}&done=vote"
    assert_private(response)
    via_page = [e for e in new_entries(since) if e[0] != "event.view"]
    since = last_entry_id()
    event_vote(
        actor=bearer_actor(secret),  # what the API's eventVote does
        event_id=event.pk,
        votes=[(first, "YES"), (third, "IF_NEED_BE")],
    )
    assert via_page == new_entries(since)
    assert via_page[0][:3] == ("event.vote", event.pk, "TOKEN")
    assert list(Vote.objects.values_list("candidate_id", "answer")) == [
        (first, "YES"),
        (third, "IF_NEED_BE"),
    ]
    after = Page(http.get(response["Location"]).content.decode())
    assert "Your votes are saved." in after.content
    checked = [c["id"] for c in after.controls if "checked" in c and c.get("type") == "radio"]
    assert checked == [f"vote-{first}-YES", f"vote-{third}-IF_NEED_BE"]


def test_a_narrow_through_the_page_is_the_apis_narrow(
    http: HttpClient, olga: User, ann: User
) -> None:
    """Two identical events: one narrowed through the page, one as the API would."""
    by_page, by_api = (propose(olga, "ann@example.com") for _ in range(2))
    page_secret, api_secret = link_secret(by_page, ann.email), link_secret(by_api, ann.email)
    since = last_entry_id()

    keep = candidate_ids(by_page)[::2]
    response = submit(http, by_page, page_secret, "narrow", {"keep": keep})

    assert response.status_code == 303
    assert response["Location"] == f"{url(by_page, page_secret)}&done=narrow"
    via_page = [e[:1] + e[2:4] + e[5:] for e in new_entries(since) if e[0] == "event.narrow"]
    since = last_entry_id()
    event_narrow(
        actor=bearer_actor(api_secret),
        event_id=by_api.pk,
        keep_slot_ids=candidate_ids(by_api)[::2],
        expected_version=1,
    )
    via_api = [e[:1] + e[2:4] + e[5:] for e in new_entries(since)]
    assert via_page == via_api
    assert via_page[0][:3] == ("event.narrow", "TOKEN", ann.pk)
    assert candidate_ids(by_page) == keep
    after = Page(http.get(response["Location"]).content.decode())
    assert "The candidates were narrowed." in after.content
    assert after.fields("narrow")["expected_version"] == "2"


def test_a_stale_narrow_shows_the_current_list_and_changes_nothing(
    http: HttpClient, event: Event, olga: User
) -> None:
    first, second, _ = candidate_ids(event)
    secret = link_secret(event, "ann@example.com")
    page = Page(http.get(url(event, secret)).content.decode())
    assert page.fields("narrow")["expected_version"] == "1"
    event_narrow(  # meanwhile, Olga drops Wednesday
        actor=actor_for(olga),
        event_id=event.pk,
        keep_slot_ids=[first, second],
        expected_version=1,
        now=NOW,
    )
    before = event_rows()

    response = http.post(page.form("narrow")["action"], {**page.fields("narrow"), "keep": [first]})

    assert response.status_code == 409
    assert_private(response)
    after = Page(response.content.decode())
    assert after.alerts == [
        "STALE_VERSION: The candidates changed since you loaded the page; here is the current "
        "list. The event changed (version 2, you sent 1); reload it and try again. Nothing was "
        "changed."
    ]
    assert ANN_SEES[1] in after.content
    assert ANN_SEES[2] not in after.content  # Wednesday is gone
    assert after.fields("narrow")["expected_version"] == "2"
    rows = event_rows()
    # Only the view of the current list was recorded (as any look through the link is).
    assert [action for _, action in rows.pop("audit")[len(before["audit"]) :]] == ["event.view"]
    before.pop("audit")
    assert rows == before
    assert candidate_ids(event) == [first, second]


NOT_CANDIDATES = (
    "NOT_A_CANDIDATE: Some of those times are no longer candidates; here is the current list. "
    "Some slots are not candidates of this event. Nothing was changed."
)


@pytest.mark.parametrize(
    ("action", "data", "status", "alert"),
    [
        (
            "narrow",
            {"keep": []},
            400,
            "INVALID_INPUT: Keep at least one slot (cancel the event to drop them all). "
            "Nothing was changed.",
        ),
        ("narrow", {"keep": ["x"]}, 400, "INVALID_INPUT: Not a candidate ID. Nothing was changed."),
        ("narrow", {"keep": [0]}, 409, NOT_CANDIDATES),
        ("vote", {"vote-0": "YES"}, 409, NOT_CANDIDATES),
        (
            "vote",
            {"vote-FIRST": "MAYBE"},
            400,
            "INVALID_INPUT: Answer YES, IF_NEED_BE or NO. Nothing was changed.",
        ),
        ("vote", {"vote-x": "YES"}, 400, "INVALID_INPUT: Not a candidate ID. Nothing was changed."),
        ("", {}, 400, "INVALID_INPUT: Unknown action. Nothing was changed."),
    ],
    ids=[
        "keep-none",
        "keep-junk",
        "keep-foreign",
        "vote-foreign",
        "vote-answer",
        "vote-junk",
        "no-action",
    ],
)
def test_service_errors_are_shown_with_their_code(
    http: HttpClient, event: Event, action: str, data: dict[str, Any], status: int, alert: str
) -> None:
    secret = link_secret(event, "ann@example.com")
    first = candidate_ids(event)[0]
    data = {k.replace("FIRST", str(first)): v for k, v in data.items()}
    before = event_rows()

    response = submit(http, event, secret, action or "vote", {"action": action, **data})

    assert response.status_code == status
    assert_private(response)
    assert Page(response.content.decode()).alerts == [alert]
    rows = event_rows()
    # Only the views of the page were recorded (as any look through the link is).
    assert {a for _, a in rows.pop("audit")[len(before["audit"]) :]} == {"event.view"}
    before.pop("audit")
    assert rows == before


def test_acting_on_a_scheduled_event_says_so(http: HttpClient, event: Event, olga: User) -> None:
    secret = link_secret(event, "ann@example.com")
    page = Page(http.get(url(event, secret)).content.decode())
    first = candidate_ids(event)[0]
    event_agree(
        actor=actor_for(olga), event_id=event.pk, slot_id=first, expected_version=1, now=NOW
    )

    response = http.post(
        page.form("vote")["action"], {**page.fields("vote"), f"vote-{first}": "YES"}
    )

    assert response.status_code == 409
    assert Page(response.content.decode()).alerts == [
        "EVENT_NOT_PROPOSED: A time has already been agreed. Nothing was changed."
    ]
    assert Vote.objects.count() == 0


def test_a_reader_signed_in_as_the_links_person_acts_as_themselves(
    http: HttpClient, event: Event, olga: User, ann: User
) -> None:
    first = candidate_ids(event)[0]
    secret = link_secret(event, "ann@example.com")
    http.force_login(ann)
    since = last_entry_id()

    page = Page(http.get(url(event, secret)).content.decode())
    submit(http, event, secret, "vote", {f"vote-{first}": "NO"})

    assert "You are signed in as Ann." in page.content
    assert [e[:5] for e in new_entries(since)] == [("event.vote", event.pk, "USER", ann.pk, None)]
    # Signed in as somebody else, the link still acts for its own person.
    http.force_login(olga)
    since = last_entry_id()
    submit(http, event, secret, "vote", {f"vote-{first}": "YES"})
    token_id = bearer_actor(secret).access_token.pk  # type: ignore[union-attr]
    assert [e[:5] for e in new_entries(since) if e[0] == "event.vote"] == [
        ("event.vote", event.pk, "TOKEN", ann.pk, token_id)
    ]


# --- links that no longer work, and CSRF ---------------------------------------------------


def dead_link(kind: str, event: Event, ann: User) -> str:
    if kind == "unknown":
        return url(event, "rdve_" + "x" * 43)
    if kind == "missing":
        return f"/e/{event.pk}/"
    if kind == "expired":
        token = access_token_issue(event=event, user=ann, now=NOW - timedelta(days=5))
        return url(event, access_token_mint(token=token))
    if kind == "replaced":
        old = link_secret(event, ann.email)
        link_secret(event, ann.email)
        return url(event, old)
    other = propose(event.organizer, ann.email)
    if kind == "other-event":
        return url(event, link_secret(other, ann.email))
    return url(0, link_secret(other, ann.email))  # "no-event"


@pytest.mark.parametrize(
    "kind", ["unknown", "missing", "expired", "replaced", "other-event", "no-event"]
)
def test_a_dead_link_shows_no_data(
    http: HttpClient, event: Event, ann: User, kind: str, settings: Any
) -> None:
    settings.ACCESS_TOKEN_TTL_DAYS = 5
    link = dead_link(kind, event, ann)
    live = Page(http.get(url(event, link_secret(event, "bob@example.com"))).content.decode())
    form = {**live.fields("vote"), f"vote-{candidate_ids(event)[0]}": "YES"}  # CSRF passes
    before = event_rows()

    for response in (http.get(link), http.post(link, form)):
        assert response.status_code == 403
        assert_private(response)
        content = Page(response.content.decode()).content
        assert "This link is no longer valid" in content
        for leak in ("Planning", "Olga", "olga@", "ann@", "Next quarter", "2030", "Vote"):
            assert leak not in content
    assert event_rows() == before


def test_posts_need_the_csrf_token_and_the_pages_origin(http: HttpClient, event: Event) -> None:
    first = candidate_ids(event)[0]
    secret = link_secret(event, "ann@example.com")
    page = Page(http.get(url(event, secret)).content.decode())
    fields = {**page.fields("vote"), f"vote-{first}": "YES"}
    without_token = {k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}
    before = event_rows()

    refused = http.post(url(event, secret), without_token)
    assert (refused.status_code, refused["Content-Type"]) == (403, "text/html; charset=utf-8")
    assert "Your answer was not saved" in Page(refused.content.decode()).content
    # What browsers send for a form on a `Referrer-Policy: no-referrer` page: refused too,
    # which is why the page uses strict-origin.
    assert http.post(url(event, secret), fields, HTTP_ORIGIN="null").status_code == 403
    no_cookie = HttpClient(enforce_csrf_checks=True)
    assert no_cookie.post(url(event, secret), fields).status_code == 403
    assert event_rows() == before

    ok = http.post(url(event, secret), fields, HTTP_ORIGIN="http://testserver")
    assert ok.status_code == 303
    assert Vote.objects.count() == 1


# --- accessibility -------------------------------------------------------------------------


def test_every_control_has_a_label_and_every_group_a_legend(http: HttpClient, event: Event) -> None:
    secret = link_secret(event, "ann@example.com")

    page = Page(http.get(url(event, secret)).content.decode())

    visible = [c for c in page.controls if c["tag"] != "button" and c.get("type") != "hidden"]
    ids = [c.get("id") for c in visible]
    assert len(visible) == 3 * 3 + 3  # three answers per candidate, a box per candidate
    assert len(set(ids)) == len(ids)
    for control in visible:
        assert page.labels.get(control["id"], "").strip(), control
    assert sorted({page.labels[i].strip() for i in ids if i.startswith("vote-")}) == [
        "If need be",
        "No",
        "Yes",
    ]
    assert page.legends == 3 + 1  # a group per candidate, and the narrowing list
    assert all(c.get("type") == "submit" for c in page.controls if c["tag"] == "button")


W3M = shutil.which("w3m")


@pytest.mark.skipif(W3M is None, reason="w3m is not installed")
def test_the_page_reads_in_a_text_browser(http: HttpClient, event: Event, tmp_path: Any) -> None:
    secret = link_secret(event, "ann@example.com")
    html = tmp_path / "page.html"
    html.write_bytes(http.get(url(event, secret)).content)

    text = subprocess.run(  # noqa: S603 - a fixed command on a file this test wrote
        [str(W3M), "-dump", "-cols", "100", "-T", "text/html", "-O", "UTF-8", str(html)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout

    assert "Planning" in text
    for when in ANN_SEES:
        assert when in text
    assert f"{ANN_SEES[0]}\n\n( ) Yes ( ) If need be ( ) No\n" in text
    assert f"[*] {ANN_SEES[0]}\n" in text
    assert "\nSave my votes\n" in text
