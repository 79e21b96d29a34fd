"""`python -m rendezvous_tui [--url URL] [login | logout]`: the prompt, or signing in and out."""

from __future__ import annotations

import argparse
import sys

from rendezvous_tui import config
from rendezvous_tui.api import Api, ApiError
from rendezvous_tui.shell import Shell, obtain_token
from rendezvous_tui.terminal import Terminal
from rendezvous_tui.words import plain

EPILOG = """\
The server's URL: --url, else $RENDEZVOUS_URL, else `url` in config.toml, else
http://127.0.0.1:8000/graphql. The token: --token-file, else $RENDEZVOUS_TOKEN, else the
token file that `login` writes. Config folder: $RENDEZVOUS_CONFIG_DIR, else
$XDG_CONFIG_HOME/rendezvous, else ~/.config/rendezvous. NO_COLOR=1 (or --no-color) turns
colour off.
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rendezvous-tui",
        description="Find a time together and book providers, at a prompt.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--url", help="the server's GraphQL endpoint")
    p.add_argument("--token-file", help="read the API token from this file (mode 0600)")
    p.add_argument("--tz", dest="time_zone", help="show and read times in this IANA zone")
    p.add_argument("--no-color", action="store_true", help="no colour (as NO_COLOR=1)")
    p.add_argument(
        "command",
        nargs="?",
        choices=["login", "logout"],
        help="login: sign in with e-mail and password, store a token; "
        "logout: revoke the stored token and delete it",
    )
    return p


def revoke(api: Api, secret: str) -> bool:
    """Revoke the API token whose secret this is (found by its prefix among mine)."""
    edges = api.run("ApiTokens", first=100)["edges"]
    mine = [
        e["node"]
        for e in edges
        if not e["node"]["revokedAt"] and secret.startswith(e["node"]["prefix"])
    ]
    if len(mine) != 1:
        return False
    api.run("TokenRevoke", id=mine[0]["id"])
    return True


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = config.resolve(
            url=args.url,
            token_file=args.token_file,
            time_zone=args.time_zone,
            no_color=args.no_color,
        )
    except config.ConfigError as exc:
        print(f"rendezvous-tui: {exc}", file=sys.stderr)
        return 2
    path = config.token_path(config.config_dir())
    if args.command == "logout":
        stored = config.read_token(path)
        if stored is None:
            print(f"No token stored in {path}.")
            return 0
        try:
            revoked = revoke(Api(settings.url, stored), stored)
        except ApiError as exc:
            for problem in exc.problems:
                print(f"✗ {plain(problem)}", file=sys.stderr)
            revoked = False
        config.forget_token(path)
        if revoked:
            print(f"✓ signed out: the token is revoked and {path} is deleted")
        else:
            print(f"Deleted {path}; the server did not revoke the token (see above).")
        return 0
    if args.command == "login":
        try:
            if sys.stdin.isatty():
                term = Terminal(color=settings.color)
                email = term.ask("E-mail: ")
                password = term.ask("Password: ", password=True)
            else:  # scripts: e-mail and password on two lines of stdin
                email, password = sys.stdin.readline().strip(), sys.stdin.readline().rstrip("\n")
        except (KeyboardInterrupt, EOFError):
            return 1
        problems: list[str] = []
        token = obtain_token(
            settings.url,
            email,
            password,
            on_error=lambda e: problems.extend(map(plain, e.problems)),
        )
        if token is None:
            for line in problems:
                print(f"✗ {line}", file=sys.stderr)
            return 1
        config.write_token(path, token)
        print(f"✓ signed in as {email}; token stored in {path} (readable by you only)")
        return 0
    shell = Shell(Api(settings.url, settings.token), settings)
    if not shell.start():
        return 1
    shell.loop()
    return 0
