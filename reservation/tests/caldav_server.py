"""A real CalDAV server (Radicale, from PyPI) on a free loopback port, for the tests of
connected calendars; fixtures and helpers shared by the service and API tests."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import caldav
import pytest
from django.test import override_settings

USER, PASSWORD = "coach", "app-password-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Radicale server on a free loopback port with one user; its base URL."""
    folder = tmp_path_factory.mktemp("radicale")
    port = _free_port()
    (folder / "users").write_text(f"{USER}:{PASSWORD}\nother:other-password\n")
    (folder / "config").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {folder / 'users'}\n"
        "htpasswd_encryption = plain\n"
        f"[storage]\nfilesystem_folder = {folder / 'collections'}\n"
        "[logging]\nlevel = warning\n"
    )
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "radicale", "--config", str(folder / "config")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture
def _loopback_allowed() -> Iterator[None]:
    with override_settings(REMINDER_ALLOW_PRIVATE_NETWORKS=True):
        yield


def vevent(uid: str, start: str, end: str, *extra: str) -> str:
    lines = "\r\n".join(extra)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\n"
        f"SUMMARY:{uid}\r\n{lines + chr(13) + chr(10) if lines else ''}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def put(calendar: caldav.Calendar, uid: str, body: str) -> None:
    response = calendar.client.put(
        f"{calendar.url}{uid}.ics", body, {"Content-Type": "text/calendar"}
    )
    assert response.status in (201, 204), response.status
