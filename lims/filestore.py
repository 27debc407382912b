"""Content-addressed file folders: a file kept as ``<folder>/<sha256 of its bytes>``, the same content once.
Controlled documents' versions (``LIMS_DOCUMENTS_DIR``), quality evidence and instruments' calibration
certificates (``LIMS_EVIDENCE_DIR``) are kept so; their records hold the SHA-256, which names the file and
checks it on every read."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def store(content: bytes, folder: Path) -> str:
    """Keep ``content`` as ``folder/<sha256>`` (written to a temporary file beside it, flushed to disk, renamed
    onto it: a reader never sees half a file); returns the SHA-256. A file already there with that content is
    kept; one whose content no longer matches its name is replaced."""
    digest = hashlib.sha256(content).hexdigest()
    path = folder / digest
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest:
        return digest
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{digest}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return digest


def read(folder: Path, sha256: str) -> bytes | None:
    """The bytes of the file named ``sha256`` in ``folder``; None when the name is no SHA-256 or no such file
    is there. The caller checks them against the name (:func:`intact`)."""
    if not SHA256_HEX.fullmatch(sha256):
        return None
    try:
        return (folder / sha256).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None


def intact(data: bytes, sha256: str) -> bool:
    """Whether ``data`` still has the SHA-256 it is kept under."""
    return hashlib.sha256(data).hexdigest() == sha256
