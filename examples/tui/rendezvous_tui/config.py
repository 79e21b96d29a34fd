"""Where the server is and who you are: flags, then environment, then ~/.config/rendezvous/.

    ~/.config/rendezvous/config.toml   url = "...", time_zone = "Europe/Berlin" (optional)
    ~/.config/rendezvous/token         the API token `login` stores (mode 0600)

$XDG_CONFIG_HOME replaces ~/.config; $RENDEZVOUS_CONFIG_DIR replaces the whole folder.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000/graphql"


def config_dir() -> Path:
    if explicit := os.environ.get("RENDEZVOUS_CONFIG_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "rendezvous"


class ConfigError(Exception):
    """The configuration cannot be used; the message says why."""


@dataclass
class Settings:
    url: str
    token: str | None
    token_source: str  # where the token came from, for `w` (never the token itself)
    time_zone: str | None  # None: the account's zone
    color: bool


def read_file_config(folder: Path) -> dict:
    path = folder / "config.toml"
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def token_path(folder: Path) -> Path:
    return folder / "token"


def read_token(path: Path) -> str | None:
    if not path.exists():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"{path} can be read by others (mode {mode:o}): run `chmod 600 {path}` first"
        )
    token = path.read_text("utf-8").strip()
    return token or None


def write_token(path: Path, token: str) -> None:
    """Store a token readable by its owner only (the folder too), replacing any older one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # an older file keeps its mode through O_CREAT
        os.write(descriptor, token.encode() + b"\n")
    finally:
        os.close(descriptor)


def forget_token(path: Path) -> bool:
    if path.exists():
        path.unlink()
        return True
    return False


def resolve(
    *,
    url: str | None,
    token_file: str | None,
    time_zone: str | None,
    no_color: bool,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Flags win over the environment, which wins over the config folder."""
    env = dict(os.environ if environ is None else environ)
    folder = config_dir()
    file_config = read_file_config(folder)
    resolved_url = url or env.get("RENDEZVOUS_URL") or file_config.get("url") or DEFAULT_URL
    token: str | None = None
    source = "none"
    if token_file:
        token, source = read_token(Path(token_file)), f"--token-file {token_file}"
    elif env.get("RENDEZVOUS_TOKEN"):
        token, source = env["RENDEZVOUS_TOKEN"].strip(), "$RENDEZVOUS_TOKEN"
    else:
        path = token_path(folder)
        token = read_token(path)
        source = str(path) if token else "none"
    zone_name = time_zone or env.get("RENDEZVOUS_TZ") or file_config.get("time_zone")
    color = not no_color and not env.get("NO_COLOR") and env.get("TERM") != "dumb"
    return Settings(
        url=resolved_url,
        token=token,
        token_source=source,
        time_zone=zone_name,
        color=color,
    )
