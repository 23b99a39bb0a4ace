"""DATA_DIR preparation and the admin API key (http-api §2.1, platform §4.2)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from lunard.credentials import new_raw_token
from lunard.errors import DataDirError

log = logging.getLogger(__name__)

API_KEY_FILE = "api_key.txt"


def prepare_data_dir(path: Path) -> Path:
    """Create DATA_DIR if missing (mode 0755) and check it is a writable directory."""
    if path.exists() and not path.is_dir():
        raise DataDirError(f"data directory {path} exists but is not a directory")
    try:
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(f"cannot create data directory {path}: {exc.strerror}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise DataDirError(f"data directory {path} is not writable by this user")
    return path.resolve()


def resolve_api_key(data_dir: Path, configured: str) -> str:
    """The admin key: the configured one, else api_key.txt verbatim, else a new one.

    A generated key is written with mode 0600 and logged once, as upstream does, so the
    operator can find it in the journal.
    """
    if configured:
        return configured
    path = data_dir / API_KEY_FILE
    try:
        return path.read_text()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DataDirError(f"cannot read {path}: {exc.strerror}") from exc
    key = new_raw_token()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
    except OSError as exc:
        raise DataDirError(f"cannot write {path}: {exc.strerror}") from exc
    log.info("Generated new API key key=%s file=%s", key, path)
    return key
