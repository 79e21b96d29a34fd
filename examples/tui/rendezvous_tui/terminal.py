"""Reading and writing lines on the terminal through prompt_toolkit, colour optional."""

from __future__ import annotations

import shutil
from collections.abc import Callable

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import ColorDepth, Output
from prompt_toolkit.styles import Style

STYLE = Style.from_dict(
    {
        "ok": "ansigreen",
        "err": "ansired",
        "warn": "ansiyellow",
        "dim": "ansibrightblack",
        "head": "bold",
        "key": "ansicyan",
        "bottom-toolbar": "reverse",
    }
)
PLAIN_STYLE = Style.from_dict({"bottom-toolbar": "noreverse"})


class Terminal:
    """`say` prints a line, `ask` reads one; both go through one prompt_toolkit session."""

    def __init__(
        self,
        *,
        color: bool,
        toolbar: Callable[[], str] | None = None,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        self.color = color
        self.style = STYLE if color else PLAIN_STYLE
        self.depth = None if color else ColorDepth.DEPTH_1_BIT
        self.session: PromptSession[str] = PromptSession(
            history=InMemoryHistory(),
            input=input,
            output=output,
            style=self.style,
            color_depth=self.depth,
            bottom_toolbar=toolbar,
            enable_suspend=True,
        )

    @property
    def width(self) -> int:
        return max(40, min(shutil.get_terminal_size((80, 24)).columns, 120))

    def say(self, text: str = "", style: str = "") -> None:
        for line in text.split("\n"):
            self.write([(style, line)])

    def write(self, parts: list[tuple[str, str]]) -> None:
        """One line made of (style, text) parts; styles are names from STYLE."""
        fragments = [
            (f"class:{style}" if style and self.color else "", text) for style, text in parts
        ]
        print_formatted_text(
            FormattedText(fragments),
            style=self.style,
            color_depth=self.depth,
            output=self.session.output,
        )

    def ask(self, message: str, *, default: str = "", password: bool = False) -> str:
        """One line typed by the person; Ctrl-C raises KeyboardInterrupt, Ctrl-D EOFError."""
        return self.session.prompt(message, default=default, is_password=password).strip()

    def yes(self, question: str, *, default: bool) -> bool:
        hint = "[Y/n]" if default else "[y/N]"
        answer = self.ask(f"{question} {hint} ").lower()
        return default if not answer else answer.startswith("y")
