"""`~/.config/lunar/config.yaml` and where each setting comes from (platform §8.2).

Precedence: command-line flags > `LUNAR_SERVER` / `LUNAR_TOKEN` > the config file (`server:`
and `token:` keys) > the default server `http://localhost:3000`. The file lives in
`$XDG_CONFIG_HOME/lunar/` (default `~/.config/lunar/`) and is written with mode 0600.

A token from the config file is sent only to the server it was saved for: `lunar --server
OTHER ...` does not leak it to another host (a flag or `LUNAR_TOKEN` is always used).

The file is a flat mapping of strings, the subset of YAML this client needs, so the client
does not depend on a YAML library: `key: value` lines, values plain, 'single-' or
"double-quoted"; blank lines and `#` comments are ignored. It is written with double-quoted
(JSON-escaped) values, which every YAML parser reads back.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lunard.client.errors import ConfigFileError

DEFAULT_SERVER = "http://localhost:3000"
SERVER_ENV = "LUNAR_SERVER"
TOKEN_ENV = "LUNAR_TOKEN"
_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)\s*:(?:\s+(.*))?\s*$")


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/lunar/config.yaml`, or `~/.config/lunar/config.yaml`."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "lunar" / "config.yaml"


def normalize_server(url: str) -> str:
    """A server URL without trailing slashes, `http://` added when no scheme is given."""
    url = url.strip().rstrip("/")
    if url and "://" not in url:
        url = "http://" + url
    return url


# --------------------------------------------------------------------------- the file


def _scalar(raw: str, lineno: int) -> str:
    raw = raw.strip()
    if raw.startswith('"'):
        try:
            value, end = json.JSONDecoder().raw_decode(raw)
        except ValueError:
            raise ConfigFileError(f"line {lineno}: unterminated double-quoted value") from None
        _only_comment(raw[end:], lineno)
        return str(value)
    if raw.startswith("'"):
        match = re.match(r"'((?:[^']|'')*)'", raw)
        if match is None:
            raise ConfigFileError(f"line {lineno}: unterminated single-quoted value")
        _only_comment(raw[match.end() :], lineno)
        return match.group(1).replace("''", "'")
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def _only_comment(rest: str, lineno: int) -> None:
    rest = rest.strip()
    if rest and not rest.startswith("#"):
        raise ConfigFileError(f"line {lineno}: unexpected text after the value: {rest!r}")


def parse_config(text: str) -> dict[str, str]:
    """The `key: value` pairs of a config file; anything else is a `ConfigFileError`."""
    values: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            continue
        match = _LINE.match(line)
        if match is None or line[:1].isspace():
            raise ConfigFileError(
                f"line {lineno}: expected 'key: value' (only flat string settings are supported)"
            )
        values[match.group(1)] = _scalar(match.group(2) or "", lineno)
    return values


def render_config(values: Mapping[str, str]) -> str:
    """The file's text: one `key: "value"` line per setting, in a stable order."""
    lines = ["# lunar client settings (written by `lunar login`; keep private)"]
    lines += [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def load_config(path: Path) -> dict[str, str]:
    """The settings in `path`; `{}` when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"cannot read {path}: {exc}") from None
    try:
        return parse_config(text)
    except ConfigFileError as exc:
        raise ConfigFileError(f"cannot read {path}: {exc.message}") from None


def save_config(path: Path, values: Mapping[str, str]) -> None:
    """Replace `path` atomically with `values`, mode 0600 (its directory 0700 if created)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # mkstemp creates the file 0600, so the token is never readable by others.
        fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".yaml", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(render_config(values))
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigFileError(f"cannot write {path}: {exc}") from None


# --------------------------------------------------------------------------- precedence


@dataclass(frozen=True)
class Settings:
    """Where the client talks to, with what, and where each value came from."""

    server: str
    server_source: str
    token: str | None
    token_source: str | None
    config_file: Path
    stored: Mapping[str, str]


def resolve(
    *,
    server_flag: str | None,
    token_flag: str | None,
    env: Mapping[str, str],
    path: Path,
) -> Settings:
    """Apply flags > environment > config file > default to the server and the token."""
    stored = load_config(path)
    server, server_source = _first(
        (server_flag, "--server"),
        (env.get(SERVER_ENV), SERVER_ENV),
        (stored.get("server"), str(path)),
        (DEFAULT_SERVER, "default"),
    )
    server = normalize_server(server or DEFAULT_SERVER)
    file_token = stored.get("token")
    if file_token and normalize_server(stored.get("server") or DEFAULT_SERVER) != server:
        file_token = None  # saved for another server: never send it here
    token, token_source = _first(
        (token_flag, "--token"), (env.get(TOKEN_ENV), TOKEN_ENV), (file_token, str(path))
    )
    return Settings(server, server_source or "default", token, token_source, path, stored)


def _first(*candidates: tuple[str | None, str]) -> tuple[str | None, str | None]:
    for value, source in candidates:
        if value:
            return value, source
    return None, None
