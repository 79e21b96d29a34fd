"""A person at a terminal: the client in a real tmux pane (80×24), typed into and read back.

Each Screen has its own tmux server (`tmux -L <name>`), so tests never see each other's panes
or the developer's own sessions.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # examples/tui


def tmux_missing() -> str | None:
    if shutil.which("tmux") is None:
        return "tmux is not installed (.ci/run installs it)"
    return None


class Screen:
    def __init__(self, *args: str, env: dict[str, str], width: int = 80, height: int = 24) -> None:
        self.socket = f"rdv-tui-{uuid.uuid4().hex[:8]}"
        self.log = Path(env["RENDEZVOUS_CONFIG_DIR"]) / "screen.txt"
        command = " ".join(
            [
                "env",
                *(shlex.quote(f"{k}={v}") for k, v in env.items()),
                shlex.quote(f"PYTHONPATH={PACKAGE_ROOT}"),
                shlex.quote(sys.executable),
                "-m",
                "rendezvous_tui",
                *map(shlex.quote, args),
                # keep the pane (and what it shows) after the client exits
                "; echo '[exited' $? ']'; sleep 600",
            ]
        )
        self.tmux("new-session", "-d", "-s", "tui", "-x", str(width), "-y", str(height), command)
        self.tmux("set-option", "-t", "tui", "history-limit", "5000")
        self.line = 0  # lines before this one are already matched by expect()

    def tmux(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603
            ["tmux", "-L", self.socket, *args],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return done.stdout

    def lines(self) -> list[str]:
        """Everything the pane showed, scrollback included, wrapped lines joined."""
        text = self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "tui")
        return text.rstrip("\n").split("\n")

    def visible(self) -> str:
        """The 24 rows as they are now (with colour escapes)."""
        return self.tmux("capture-pane", "-p", "-e", "-t", "tui")

    def type(self, *lines: str) -> None:
        """Type each line and press Enter after it."""
        for line in lines:
            if line:
                self.tmux("send-keys", "-t", "tui", "-l", line)
            self.tmux("send-keys", "-t", "tui", "Enter")
            time.sleep(0.15)

    def expect(self, text: str, *, timeout: float = 20) -> str:
        """Wait until `text` shows on a line not matched before; return that line."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.lines()
            for index in range(self.line, len(lines)):
                if text in lines[index]:
                    self.line = index + 1
                    return lines[index]
            if time.monotonic() > deadline:
                shown = "\n".join(lines[-40:])
                raise AssertionError(f"{text!r} did not show; the screen's last lines:\n{shown}")
            time.sleep(0.1)

    def transcript(self) -> str:
        return "\n".join(self.lines())

    def close(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.write_text(self.transcript(), "utf-8")  # kept in tmp_path for a failed test
        subprocess.run(  # noqa: S603
            ["tmux", "-L", self.socket, "kill-server"],  # noqa: S607
            capture_output=True,
            check=False,
            env={**os.environ},
            timeout=10,
        )
