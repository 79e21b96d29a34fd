"""A real HTTP server on loopback for the reminder channel tests: it records every request it
receives (method, path, headers, body) and can be told to answer with an error or a redirect,
or be stopped (a server that is down refuses the connection) and started again on the same
port. It is on loopback: the channels reach it only with REMINDER_ALLOW_PRIVATE_NETWORKS on."""

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from reservation.tests.smtp import free_port


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it; header names lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """`http://127.0.0.1:<port>`: records requests; answers `status` (200 unless told), with
    a `Location` header when `location` is set (a redirect)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.status = 200
        self.location: str | None = None
        self.requests: list[Received] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._changed:
                    receiver.requests.append(
                        Received(
                            method=self.command,
                            path=self.path,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                        )
                    )
                    receiver._changed.notify_all()
                status = receiver.status
                answer = b'{"ok":true}' if status < 400 else b'{"ok":false}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if receiver.location is not None:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_PUT = do_POST

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def wait_for(self, count: int, *, timeout: float) -> list[Received]:
        """The requests, once there are at least `count` (or the timeout has passed)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return list(self.requests)
