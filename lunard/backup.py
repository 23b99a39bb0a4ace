"""Backups of a running daemon's data and their restore onto a stopped daemon's data dir.

A backup is a directory holding
- `lunard.db`: the state database, copied with SQLite's online backup API from a
  connection of its own (WAL: the daemon and its workers keep writing meanwhile; the copy
  is one consistent snapshot);
- `records.duckdb`: the records database, copied by the sink on its own thread after a
  flush and a `CHECKPOINT` (a `SinkQuery`): nothing else touches the DuckDB connection
  meanwhile, so the file is consistent. (`EXPORT DATABASE` and `ATTACH` are refused on the
  records instance, whose external access is off, see `duckdb_instance`.) Records keep
  arriving in the journal and the sink's inbox during the copy; they wait, none is lost;
- `api_key.txt` when the data dir has one;
- `manifest.json`: lunard version, schema versions, and each file's size and SHA-256.

Order: records first, then state. Every call answered before the backup began has its
record in the sink's inbox by then (the journal forwards before the pool answers), so the
flush writes it; its KV writes and every function change were committed before that.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import trio

from lunard import __version__
from lunard.datadir import API_KEY_FILE
from lunard.errors import BadRequest, LunardError
from lunard.records import sink, store
from lunard.records.journal import JOURNAL_DIR
from lunard.records.sink import RECORDS_FILE
from lunard.state.db import STATE_FILE, StateStore

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
CHUNK = 1024 * 1024
# What a database leaves beside itself; stale ones in a restore target would be replayed
# into (or corrupt) the restored file.
_COMPANIONS = {
    STATE_FILE: ("-wal", "-shm", "-journal"),
    RECORDS_FILE: (".wal",),
}


class BackupError(LunardError):
    """A backup or restore request that cannot be carried out as asked (400)."""

    status = 400


class TargetNotEmpty(BackupError):
    """The backup directory exists and holds files (409): a backup never overwrites."""

    status = 409


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a backup: its name in the backup dir, size in bytes and SHA-256 (hex)."""

    name: str
    size: int
    sha256: str


# --------------------------------------------------------------------------- backup


def prepare_target(target: Path) -> Path:
    """Create the backup directory (mode 0700: it holds env vars and the admin key).

    It must be an absolute path; an existing directory must be empty (TargetNotEmpty), and
    anything else there is a BackupError.
    """
    if not target.is_absolute():
        raise BackupError(f"path: must be an absolute directory path, got {str(target)!r}")
    if target.exists():
        if not target.is_dir():
            raise BackupError(f"path: {target} exists and is not a directory")
        if any(target.iterdir()):
            raise TargetNotEmpty(f"path: {target} is not empty; choose a new directory")
        return target
    try:
        target.mkdir(mode=0o700, parents=True)
    except OSError as exc:
        raise BackupError(f"path: cannot create {target}: {exc.strerror}") from exc
    return target


def _copy_hashing(source: BinaryIO, dest: Path) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    with dest.open("xb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return FileEntry(dest.name, size, digest.hexdigest())


def hash_file(path: Path) -> FileEntry:
    """Size and SHA-256 of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(path.name, size, digest.hexdigest())


def copy_records(conn: Any, source: Path, dest: Path) -> tuple[FileEntry, int]:
    """On the sink's thread: checkpoint, copy the file, return it with its schema version.

    After `CHECKPOINT` the DuckDB file holds every committed row and its WAL is empty; the
    sink runs nothing else on the connection until this returns.
    """
    conn.execute("CHECKPOINT")
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    wal = source.with_name(source.name + ".wal")
    if wal.exists() and wal.stat().st_size > 0:  # pragma: no cover - CHECKPOINT empties it
        raise BackupError(f"records WAL {wal} is not empty after CHECKPOINT; try again")
    with source.open("rb") as handle:
        entry = _copy_hashing(handle, dest / RECORDS_FILE)
    return entry, int(row[0]) if row else 0


def snapshot_state(source: Path, dest: Path) -> tuple[FileEntry, int]:
    """Copy the state database with SQLite's online backup API; entry and schema version.

    Its own connections, so the daemon's state connection is never held; the copy is
    taken in one step (`pages=-1`), one consistent snapshot even while others write.
    """
    target = dest / STATE_FILE
    src = sqlite3.connect(source, timeout=5.0)
    try:
        out = sqlite3.connect(target)
        try:
            src.backup(out, pages=-1)
            version = out.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            schema = int(version.fetchone()[0])
            # A self-contained file: no WAL mode, so a copy is a single file.
            out.execute("PRAGMA journal_mode = DELETE")
        finally:
            out.close()
    finally:
        src.close()
    return hash_file(target), schema


def manifest(
    files: Iterable[FileEntry], *, state_schema: int, records_schema: int
) -> dict[str, Any]:
    """The manifest document of a backup."""
    return {
        "format": MANIFEST_FORMAT,
        "lunard_version": __version__,
        "created_at": int(time.time()),
        "schema_versions": {"state": state_schema, "records": records_schema},
        "files": {f.name: {"size": f.size, "sha256": f.sha256} for f in files},
    }


def _write_manifest(dest: Path, document: dict[str, Any]) -> None:
    path = dest / MANIFEST
    path.write_text(json.dumps(document, indent=2) + "\n")
    os.chmod(path, 0o600)


async def take_backup(
    state: StateStore, sink_inbox: trio.MemorySendChannel[sink.SinkMessage], target: Path
) -> dict[str, Any]:
    """Back up a running daemon's data dir into `target`; return the manifest written.

    `target` is prepared by `prepare_target` (on a thread). A failure part-way removes
    what was written, so a retry can use the same path. State on PostgreSQL is refused
    (400): `pg_dump` is the tool for it, and a half backup would mislead.
    """
    if state.dialect != "sqlite":
        raise BadRequest(
            "backup covers SQLite state only; back up PostgreSQL state with pg_dump "
            "(and this node's records.duckdb with the daemon stopped)"
        )
    dest = await trio.to_thread.run_sync(prepare_target, target)
    data_dir = state.path.parent
    started = time.monotonic()
    try:
        records_entry, records_schema = await sink.query(
            sink_inbox, lambda conn: copy_records(conn, data_dir / RECORDS_FILE, dest)
        )
        state_entry, state_schema = await trio.to_thread.run_sync(snapshot_state, state.path, dest)
        entries = [state_entry, records_entry]
        key = data_dir / API_KEY_FILE
        if key.is_file():
            entries.append(await trio.to_thread.run_sync(_copy_file, key, dest))
        document = manifest(entries, state_schema=state_schema, records_schema=records_schema)
        await trio.to_thread.run_sync(_write_manifest, dest, document)
    except BaseException:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(_empty_dir, dest)
        raise
    log.info(
        "backup written to %s in %.2fs (%d bytes)",
        dest,
        time.monotonic() - started,
        sum(e.size for e in entries),
    )
    return document


def _copy_file(source: Path, dest: Path) -> FileEntry:
    with source.open("rb") as handle:
        entry = _copy_hashing(handle, dest / source.name)
    os.chmod(dest / source.name, 0o600)
    return entry


def _empty_dir(path: Path) -> None:
    for child in path.iterdir():
        child.unlink(missing_ok=True)


# --------------------------------------------------------------------------- restore


def read_manifest(backup_dir: Path) -> dict[str, Any]:
    """The backup's manifest, checked for shape; BackupError names what is wrong."""
    path = backup_dir / MANIFEST
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"{path} not found: {backup_dir} is not a lunard backup") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read {path}: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"{path}: unknown manifest format")
    files = document.get("files")
    if not isinstance(files, dict) or STATE_FILE not in files or RECORDS_FILE not in files:
        raise BackupError(f"{path}: files must list {STATE_FILE} and {RECORDS_FILE}")
    allowed = {STATE_FILE, RECORDS_FILE, API_KEY_FILE}
    for name, entry in files.items():
        if name not in allowed:
            raise BackupError(f"{path}: unexpected file {name!r}")
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise BackupError(f"{path}: files.{name} needs a sha256")
    return document


def verify(backup_dir: Path) -> dict[str, Any]:
    """Check every file of the backup against its manifest entry; return the manifest."""
    document = read_manifest(backup_dir)
    for name, expected in document["files"].items():
        path = backup_dir / name
        if not path.is_file():
            raise BackupError(f"{path} is missing from the backup")
        actual = hash_file(path)
        if actual.size != expected.get("size") or actual.sha256 != expected["sha256"]:
            raise BackupError(
                f"{path} does not match the manifest (size {actual.size}, sha256 "
                f"{actual.sha256}): the backup is damaged; do not restore it"
            )
    return document


def _check_schema(document: dict[str, Any]) -> None:
    from lunard.state.migrations import MIGRATIONS

    versions = document.get("schema_versions") or {}
    known = {"state": max(v for v, _ in MIGRATIONS), "records": store.SCHEMA_VERSION}
    for name, mine in known.items():
        theirs = versions.get(name)
        if isinstance(theirs, int) and theirs > mine:
            raise BackupError(
                f"the backup's {name} schema ({theirs}) is newer than this lunard's ({mine}); "
                "restore it with a lunard at least as new as the one that wrote it"
            )


def restore(backup_dir: Path, data_dir: Path, *, force: bool = False) -> list[str]:
    """Verify the backup and copy its files into `data_dir` (of a stopped daemon).

    Existing database files are refused unless `force`; with `force` their WAL/SHM
    companions and the journal's segments (records of the replaced database) go too.
    Each file is written beside its target and renamed over it. Returns the names restored.
    """
    document = verify(backup_dir)
    _check_schema(document)
    names = list(document["files"])
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    present = [n for n in names if (data_dir / n).exists()]
    if present and not force:
        raise BackupError(
            f"{data_dir} already holds {', '.join(present)}; stop its daemon and pass "
            "--force to replace them"
        )
    _remove_stale(data_dir)
    for name in names:
        partial = data_dir / f".{name}.restoring"
        shutil.copyfile(backup_dir / name, partial)
        os.chmod(partial, 0o600)
        os.replace(partial, data_dir / name)
    return names


def _remove_stale(data_dir: Path) -> None:
    for name, suffixes in _COMPANIONS.items():
        for suffix in suffixes:
            (data_dir / (name + suffix)).unlink(missing_ok=True)
    journal = data_dir / JOURNAL_DIR
    if journal.is_dir():
        for segment in journal.glob("segment-*.wal*"):
            log.warning("restore: removing journal segment %s of the replaced records", segment)
            segment.unlink()
