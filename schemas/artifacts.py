"""Files one service writes and another reads: the model directory, written atomically.

    models_dir/
      <version>/   metadata.json, clv_model.pkl, scaler.pkl, reference_profile.npz
      latest       the version in use, one line

Versions are UTC timestamps (YYYYmmddTHHMMSSffffffZ), so they sort by time. Every file is
written to a temporary name, fsynced, renamed into place and its directory fsynced: a
reader (or a crash) never sees half a file, and `latest` moves only once the version it
names is complete on disk.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

LATEST = "latest"
METADATA = "metadata.json"
MODEL = "clv_model.pkl"
SCALER = "scaler.pkl"
PROFILE = "reference_profile.npz"
VERSION_FILES = (METADATA, MODEL, SCALER, PROFILE)


def atomic_write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` all at once, durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path


def read_latest(models_dir: Path) -> str | None:
    """The version `latest` names; None when there is no model yet."""
    pointer = models_dir / LATEST
    if not pointer.exists():
        return None
    return pointer.read_text().strip() or None


def write_latest(models_dir: Path, version: str) -> None:
    atomic_write(models_dir / LATEST, f"{version}\n".encode())
