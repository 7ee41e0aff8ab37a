"""Files one service writes and another reads: the model directory, written atomically.

    models_dir/
      <version>/   metadata.json, clv_model.pkl, scaler.pkl, reference_profile.npz,
                   loss_model.pkl (schemas/loss_model.py; versions before it lack one)
      latest       the version in use, one line

Versions are UTC timestamps (YYYYmmddTHHMMSSffffffZ), so they sort by time. Every file is
written to a temporary name, fsynced, renamed into place and its directory fsynced: a
reader (or a crash) never sees half a file, and `latest` moves only once the version it
names is complete on disk.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from pathlib import Path

LATEST = "latest"
METADATA = "metadata.json"
MODEL = "clv_model.pkl"
SCALER = "scaler.pkl"
PROFILE = "reference_profile.npz"
LOSS_MODEL = "loss_model.pkl"
REQUIRED_FILES = (METADATA, MODEL, SCALER, PROFILE)
VERSION_FILES = (*REQUIRED_FILES, LOSS_MODEL)
MAX_PACKED_BYTES = 64 * 1024 * 1024  # the largest packed version model.artifacts accepts
# model.artifacts keeps the latest record per version (key): every version stays loadable.
ARTIFACTS_TOPIC_CONFIG = {"cleanup.policy": "compact", "max.message.bytes": str(MAX_PACKED_BYTES)}


def atomic_write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` all at once, durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)  # readable by the other services sharing the volume
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


def pack(version_dir: Path) -> bytes:
    """A version directory's files as one gzipped tar (the model.artifacts message)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in VERSION_FILES:
            if (version_dir / name).exists():
                tar.add(version_dir / name, arcname=name)
    return buffer.getvalue()


def unpack(data: bytes, models_dir: Path, version: str) -> Path:
    """Write a packed version into ``models_dir/version``; only the expected files, by name."""
    target = models_dir / version
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile() and m.name in VERSION_FILES}
        missing = set(REQUIRED_FILES) - set(members)
        if missing:
            raise ValueError(f"the packed version {version} lacks {', '.join(sorted(missing))}")
        for name, member in members.items():
            atomic_write(target / name, tar.extractfile(member).read())
    return target
