"""A real SMTP server on loopback for the mail tests (aiosmtpd), and the settings that send
Django's mail to it."""

import asyncio
import email
import socket
import threading
import time
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pytest_django.fixtures import Settings


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """An SMTP server on 127.0.0.1 that keeps every message it accepts, parsed.

    It can be stopped and started again on the same port (a server that is down refuses the
    connection), and told to hold the first message it receives without answering until
    released: when the client goes away meanwhile, aiosmtpd cancels the handler and the message
    is never accepted, as with a real server that had not yet replied 250.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.hold_first = False
        self.holding = threading.Event()  # set once the first message is being held
        self.release = threading.Event()  # set to let the held message through
        self._changed = threading.Condition()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.hold_first and not self.holding.is_set():
            self.holding.set()
            # Until released; aiosmtpd cancels this when the client's connection is lost.
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._changed:
            self.messages.append(message)
            self.recipients.append(list(envelope.rcpt_tos))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, *, timeout: float) -> list[EmailMessage]:
        """The messages, once there are at least `count` (or the timeout has passed)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return list(self.messages)


def send_mail_to(settings: Settings, mailbox: Mailbox) -> None:
    """Point Django's SMTP backend at the mailbox (pytest-django's `settings` fixture undoes
    it after the test)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = mailbox.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5


def calendar_part(message: EmailMessage) -> EmailMessage | None:
    """The text/calendar attachment of a message, if it has one."""
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) <= 1
    return parts[0] if parts else None


def text_body(message: EmailMessage) -> str:
    """The plain-text body, with the wire's CRLF line ends read as newlines."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")
