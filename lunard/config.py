"""Configuration: one frozen dataclass built from defaults < TOML file < environment < flags.

Upstream Lunar's variables keep their names and meaning (`PORT`, `DATA_DIR`, `API_KEY`,
`BASE_URL`, `EXECUTION_TIMEOUT`); `HOST` is added, and every other setting is read from
`LUNARD_<NAME>` (e.g. `LUNARD_WORKERS`). A TOML file uses the field names below.
An invalid value raises `ConfigError` naming the setting; start-up stops.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from lunard.errors import ConfigError
from lunard.wire import DEFAULT_TIMEOUT_S, JobLimits

# Settings whose environment variable is upstream's name rather than LUNARD_<NAME>.
UPSTREAM_ENV = {
    "host": "HOST",
    "port": "PORT",
    "data_dir": "DATA_DIR",
    "api_key": "API_KEY",
    "base_url": "BASE_URL",
    "execution_timeout": "EXECUTION_TIMEOUT",
}


# off: records wait in memory until the sink's next batch (a crash loses them);
# process: written to the journal before the answer (survives the daemon's death);
# fsync: also fsync'ed per group commit (survives power loss).
DURABILITY_MODES = ("off", "process", "fsync")
STATE_URL_SCHEMES = ("postgresql://", "postgres://")


def redacted_url(url: str) -> str:
    """`url` with the password of its user part (`user:secret@`) replaced by `********`, and
    a `password=` query parameter too; for logs and `check-config`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if at and ":" in userinfo:
        authority = userinfo.split(":", 1)[0] + ":********@" + host
    path, question, query = tail.partition("?")
    if question:
        params = [
            "password=********" if item.lower().startswith("password=") else item
            for item in query.split("&")
        ]
        tail = path + "?" + "&".join(params)
    return f"{scheme}://{authority}{slash}{tail}"


def _cpu_count() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


@dataclass(frozen=True)
class Config:
    """Every setting of the daemon. Field metadata `help` documents it (README table)."""

    host: str = field(default="127.0.0.1", metadata={"help": "address to listen on"})
    port: int = field(default=3000, metadata={"help": "TCP port (0 picks a free port)"})
    data_dir: Path = field(
        default=Path("./data"), metadata={"help": "state, records and api_key.txt live here"}
    )
    state_url: str = field(
        default="",
        metadata={
            "help": "postgresql://user:pass@host:port/db puts the control-plane state (functions, "
            "env, KV, tokens, sessions) on PostgreSQL; empty = SQLite in data_dir"
        },
    )
    state_pool_size: int = field(
        default=4, metadata={"help": "PostgreSQL connections (threads) of the daemon, 1..64"}
    )
    records_url: str = field(
        default="",
        metadata={
            "help": "postgresql://… puts execution records on PostgreSQL (needs state_url on "
            "PostgreSQL); empty = DuckDB in data_dir"
        },
    )
    lake_url: str = field(
        default="",
        metadata={
            "help": "a directory (file:///path or /path) where sealed slices of the records "
            "are exported as Parquet for cluster analytics; needs records_url"
        },
    )
    lake_export_interval: float = field(
        default=60.0, metadata={"help": "seconds per exported slice of records (lake_url)"}
    )
    state_cache_ttl: float = field(
        default=5.0,
        metadata={
            "help": "seconds a node may serve a cached function or env read from PostgreSQL "
            "without hearing of a change (a backstop: every change is NOTIFYed)"
        },
    )
    node_id: str = field(
        default="",
        metadata={"help": "this node's name in cron claims; empty = <hostname>-<pid>"},
    )
    api_key: str = field(
        default="", metadata={"help": "admin key; empty = api_key.txt or a generated key"}
    )
    base_url: str = field(
        default="", metadata={"help": "public URL; empty = http://localhost:<port>"}
    )
    execution_timeout: int = field(
        default=DEFAULT_TIMEOUT_S,
        metadata={"help": f"seconds an execution may run (0 = {DEFAULT_TIMEOUT_S})"},
    )
    workers: int = field(
        default_factory=_cpu_count, metadata={"help": "Lua worker processes (default: CPUs)"}
    )
    queue_size: int = field(
        default=256, metadata={"help": "executions waiting for a worker before 503"}
    )
    max_memory_mb: int = field(default=64, metadata={"help": "Lua memory per execution, MiB"})
    worker_address_space_mb: int = field(
        default=1024, metadata={"help": "address-space limit of a worker process, MiB"}
    )
    max_body_bytes: int = field(
        default=6 * 1024 * 1024, metadata={"help": "largest /fn request body (413 past it)"}
    )
    max_log_entries: int = field(default=1000, metadata={"help": "log lines kept per execution"})
    max_log_bytes: int = field(
        default=1024 * 1024, metadata={"help": "log bytes kept per execution"}
    )
    http_max_response_bytes: int = field(
        default=10 * 1024 * 1024, metadata={"help": "largest response body for Lua http.*"}
    )
    drain_delay: float = field(
        default=5.0,
        metadata={
            "help": "seconds to keep serving after SIGTERM with /readyz 503 and Connection: "
            "close, so a proxy stops sending before the listener closes"
        },
    )
    shutdown_grace: float = field(
        default=30.0, metadata={"help": "seconds to drain in-flight requests on SIGTERM"}
    )
    sink_batch_rows: int = field(
        default=5000, metadata={"help": "records buffered before the sink writes a batch"}
    )
    sink_flush_interval: float = field(
        default=0.2, metadata={"help": "seconds a record may wait in the sink's buffer"}
    )
    durability: str = field(
        default="process",
        metadata={
            "help": "when a call's records are safe before it is answered: off, process, fsync"
        },
    )
    records_memory_mb: int = field(
        default=256,
        metadata={"help": "memory limit of the records database and of each analytics query, MiB"},
    )
    records_threads: int = field(
        default=1, metadata={"help": "threads the records database (DuckDB) may use"}
    )
    function_max_workers: int = field(
        default=0,
        metadata={"help": "workers one function may hold while others wait (0 = all but one)"},
    )
    session_ttl: int = field(default=86400, metadata={"help": "dashboard session lifetime, s"})
    timezone: str = field(
        default="", metadata={"help": "time zone for cron schedules; empty = local time"}
    )
    runtime_dir: Path | None = field(
        default=None, metadata={"help": "worker sockets; empty = $RUNTIME_DIRECTORY or a temp dir"}
    )
    log_level: str = field(default="INFO", metadata={"help": "DEBUG, INFO, WARNING or ERROR"})
    log_format: str = field(
        default="text", metadata={"help": "text, or json: one object per line (journald, Loki)"}
    )

    @functools.cached_property
    def job_limits(self) -> JobLimits:
        """The limits every execution carries, built once per config (not once per call)."""
        return JobLimits(
            max_memory_bytes=self.max_memory_mb * 1024 * 1024,
            max_log_entries=self.max_log_entries,
            max_log_bytes=self.max_log_bytes,
            http_max_response_bytes=self.http_max_response_bytes,
        )

    @property
    def public_url(self) -> str:
        """BASE_URL, or upstream's default `http://localhost:<port>`, without a trailing /."""
        return (self.base_url or f"http://localhost:{self.port}").rstrip("/")

    @property
    def node_name(self) -> str:
        """`node_id`, or `<hostname>-<pid>`: unique per running process."""
        return self.node_id or f"{socket.gethostname()}-{os.getpid()}"

    @property
    def timeout_seconds(self) -> int:
        """The effective execution timeout (upstream: 0 falls back to 5 minutes)."""
        return self.execution_timeout or DEFAULT_TIMEOUT_S


def env_name(name: str) -> str:
    """The environment variable that sets field `name`."""
    return UPSTREAM_ENV.get(name, f"LUNARD_{name.upper()}")


def _convert(name: str, kind: Any, value: Any, *, source: str = "") -> Any:
    """Convert a raw value (TOML value or string) to the field's type, or raise ConfigError.

    `source` (e.g. "environment") is appended to the message so the user knows where to look.
    """
    text = str(value).strip() if not isinstance(value, bool) else value
    try:
        if kind in ("int", int):
            if isinstance(value, bool):
                raise ValueError
            return int(text)
        if kind in ("float", float):
            return float(text)
        if kind in ("Path", Path):
            return Path(str(value))
        if kind in ("Path | None",):
            return Path(str(value)) if str(value) else None
        return str(value)
    except ValueError:
        expected = {"int": "an integer", "float": "a number"}.get(str(kind), str(kind))
        where = f" (from {source})" if source else ""
        raise ConfigError(
            f"invalid value for {name} ({env_name(name)}): {value!r} is not {expected}{where}"
        ) from None


def _describe_source(name: str, sources: Mapping[str, str], file: Path | None) -> str:
    source = sources.get(name, "default")
    if source == "file":
        return f" (from config file {file})"
    if source == "env":
        return " (from environment)"
    if source == "flag":
        return f" (from flag --{name.replace('_', '-')})"
    return ""


def _validate(
    cfg: Config, sources: Mapping[str, str] | None = None, file: Path | None = None
) -> None:
    sources = sources or {}
    checks: list[tuple[str, bool, str]] = [
        ("port", 0 <= cfg.port <= 65535, "must be between 0 and 65535"),
        ("execution_timeout", cfg.execution_timeout >= 0, "must be >= 0 seconds"),
        ("workers", 1 <= cfg.workers <= 256, "must be between 1 and 256"),
        ("queue_size", cfg.queue_size >= 1, "must be >= 1"),
        ("max_memory_mb", cfg.max_memory_mb >= 1, "must be >= 1"),
        ("worker_address_space_mb", cfg.worker_address_space_mb >= 256, "must be >= 256"),
        ("max_body_bytes", cfg.max_body_bytes >= 0, "must be >= 0"),
        ("max_log_entries", cfg.max_log_entries >= 1, "must be >= 1"),
        ("max_log_bytes", cfg.max_log_bytes >= 1, "must be >= 1"),
        ("http_max_response_bytes", cfg.http_max_response_bytes >= 1, "must be >= 1"),
        ("drain_delay", 0 <= cfg.drain_delay < math.inf, "must be >= 0 seconds (and finite)"),
        ("shutdown_grace", cfg.shutdown_grace >= 0, "must be >= 0"),
        ("session_ttl", cfg.session_ttl >= 60, "must be >= 60 seconds"),
        (
            "durability",
            cfg.durability in DURABILITY_MODES,
            "must be one of " + ", ".join(DURABILITY_MODES),
        ),
        ("records_memory_mb", cfg.records_memory_mb >= 16, "must be >= 16"),
        ("records_threads", 1 <= cfg.records_threads <= 64, "must be between 1 and 64"),
        ("state_pool_size", 1 <= cfg.state_pool_size <= 64, "must be between 1 and 64"),
        ("state_cache_ttl", 0 < cfg.state_cache_ttl <= 3600, "must be > 0 and <= 3600 seconds"),
        (
            "lake_export_interval",
            1 <= cfg.lake_export_interval <= 86400,
            "must be between 1 and 86400 seconds",
        ),
        ("function_max_workers", cfg.function_max_workers >= 0, "must be >= 0"),
        ("log_format", cfg.log_format in ("text", "json"), "must be text or json"),
        ("sink_batch_rows", cfg.sink_batch_rows >= 1, "must be >= 1"),
        ("sink_flush_interval", cfg.sink_flush_interval > 0, "must be > 0 seconds"),
        (
            "log_level",
            cfg.log_level.upper() in ("DEBUG", "INFO", "WARNING", "WARN", "ERROR"),
            "must be DEBUG, INFO, WARNING or ERROR",
        ),
    ]
    for name, ok, rule in checks:
        if not ok:
            value = getattr(cfg, name)
            raise ConfigError(
                f"invalid value for {name} ({env_name(name)}): {value!r} {rule}"
                + _describe_source(name, sources, file)
            )
    _validate_urls(cfg, sources, file)
    if cfg.timezone:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(cfg.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"invalid value for timezone ({env_name('timezone')}): "
                f"unknown time zone {cfg.timezone!r}" + _describe_source("timezone", sources, file)
            ) from None


def _validate_urls(cfg: Config, sources: Mapping[str, str], file: Path | None) -> None:
    """`state_url` and `records_url`: PostgreSQL URLs (shown without their password), and
    records on PostgreSQL only together with the state."""
    for name, fallback in (("state_url", "SQLite"), ("records_url", "DuckDB")):
        url = getattr(cfg, name)
        if url and not url.startswith(STATE_URL_SCHEMES):
            raise ConfigError(
                f"invalid value for {name} ({env_name(name)}): {redacted_url(url)!r} must be a "
                f"postgresql:// or postgres:// URL (leave it empty for {fallback} in data_dir)"
                + _describe_source(name, sources, file)
            )
    if cfg.records_url and not cfg.state_url:
        raise ConfigError(
            f"records_url ({env_name('records_url')}) needs state_url on PostgreSQL too: "
            "a cluster shares both" + _describe_source("records_url", sources, file)
        )
    if cfg.lake_url and not cfg.lake_url.startswith(("file:///", "/")):
        raise ConfigError(
            f"invalid value for lake_url ({env_name('lake_url')}): {cfg.lake_url!r} must be "
            "file:///absolute/path or /absolute/path" + _describe_source("lake_url", sources, file)
        )
    if cfg.lake_url and not cfg.records_url:
        raise ConfigError(
            f"lake_url ({env_name('lake_url')}) needs records_url: the lake holds slices of "
            "the records on PostgreSQL" + _describe_source("lake_url", sources, file)
        )


# Where an effective value came from, lowest precedence first.
SOURCES = ("default", "file", "env", "flag")


def load_config(
    *,
    file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the Config: defaults < `file` (TOML) < `environ` < `overrides` (command line).

    `EXECUTION_TIMEOUT` keeps upstream's leniency: a non-integer value means the default.
    """
    return load_config_with_sources(file=file, environ=environ, overrides=overrides)[0]


def load_config_with_sources(
    *,
    file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Config, dict[str, str]]:
    """Like `load_config`, plus where each field's value came from: one of `SOURCES`.

    An invalid value's ConfigError also says which source it came from.
    """
    environ = os.environ if environ is None else environ
    kinds = {f.name: f.type for f in fields(Config)}
    values: dict[str, Any] = {}
    sources = dict.fromkeys(kinds, "default")

    if file is not None:
        try:
            data = tomllib.loads(file.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config file {file}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from exc
        for key, value in data.items():
            if key not in kinds:
                raise ConfigError(f"unknown setting {key!r} in config file {file}")
            values[key] = _convert(key, kinds[key], value, source=f"config file {file}")
            sources[key] = "file"

    for name, kind in kinds.items():
        raw = environ.get(env_name(name))
        if raw is None or raw == "":
            continue
        sources[name] = "env"
        if name == "execution_timeout":
            try:
                values[name] = int(raw)
            except ValueError:
                values[name] = DEFAULT_TIMEOUT_S  # upstream: a non-integer means the default
            continue
        values[name] = _convert(name, kind, raw, source="environment")

    for name, value in (overrides or {}).items():
        if value is not None:
            flag = "--" + name.replace("_", "-")
            values[name] = _convert(name, kinds[name], value, source=f"flag {flag}")
            sources[name] = "flag"

    cfg = dataclasses.replace(Config(), **values)
    _validate(cfg, sources, file)
    return cfg, sources
