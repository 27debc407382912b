"""Chromatography export files (``export_file``): a watch folder's files are captures, one unit each (by
the SHA-256 of the content), read with :func:`drivers.files.read_chromatogram_file`."""

from __future__ import annotations

import csv
import logging
import os
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from drivers.profiles import Profile
from lims.acquisition.dialects.base import Dialect, register
from lims.acquisition.events import EventKind, record_event
from lims.acquisition.ingest import Ingested, ingest, parsed
from lims.acquisition.runner import Runner
from lims.acquisition.store import CaptureStore, NewCapture, StatusTracker, sha256_hex
from lims.acquisition.values import new_reading
from lims.clock import utcnow
from lims.db.engine import session_scope
from lims.db.models import RawCapture, Reading

if TYPE_CHECKING:
    from lims.acquisition.config import WatchConfig
    from lims.acquisition.settle import PendingOutcome

log = logging.getLogger("lims.acquire")

#: ``RawCapture.profile`` (and dialect kind) of export files imported from a watch folder.
FILE_PROFILE = "export_file"


def parse_file_capture(s: Session, cap: RawCapture) -> list[Reading]:
    """Readings of an export file kept in ``cap`` (``cap.source`` is its file name, which selects the
    reader): one ``peak`` reading per row of each peak table, one ``trace`` reading per detector trace."""
    from drivers.files import ChromatogramFileError, read_chromatogram_file  # numpy: with the first file

    name = Path(cap.source or "export.csv").name
    with tempfile.TemporaryDirectory(prefix="lims-import-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(cap.data)
        try:
            chrom = read_chromatogram_file(path)
        except (ChromatogramFileError, ValueError, OSError, csv.Error) as exc:
            cap.parse_status = "error"
            cap.error = f"{type(exc).__name__}: {str(exc).replace(str(path), name)}"
            return []
    readings = []
    when = cap.received_at or utcnow()
    meta = {"file": name, "source_format": chrom.source_format, "injected_at": chrom.injected_at,
            "method": chrom.method}
    sample = chrom.metadata.get("sample_id") or chrom.metadata.get("sample_name") or None
    for table in chrom.peak_tables:
        for n, peak in enumerate(table.peaks, start=1):
            fields = {**meta, "channel": table.channel, "area_units": table.area_units,
                      "retention_time_min": peak.retention_time_min, "area": peak.area, "height": peak.height,
                      "start_min": peak.start_min, "end_min": peak.end_min, "name": peak.name,
                      "peak_type": peak.peak_type}
            readings.append(new_reading(cap, None, record_type="peak", channel=n, sample_code=sample,
                                        fields=fields, read_at=when))
    for trace in chrom.traces:
        fields = {**meta, "channel": trace.channel, "units": trace.units, "points": int(len(trace.signal)),
                  "start_min": float(trace.times_min[0]) if len(trace.times_min) else None,
                  "end_min": float(trace.times_min[-1]) if len(trace.times_min) else None}
        readings.append(new_reading(cap, None, record_type="trace", sample_code=sample, fields=fields,
                                    read_at=when))
    s.add_all(readings)
    parsed(cap)
    s.flush()
    return readings


class WatchFolderRunner(Runner):
    """Imports chromatography export files dropped into a folder, once each by SHA-256 of the content: the
    file's bytes are committed as a capture (``source`` = file name), then read with
    :func:`drivers.files.read_chromatogram_file`; a malformed file is moved to the quarantine folder with a
    ``<name>.reason.txt`` beside it (its capture stays in ``error`` and can be re-parsed). A file still
    being written (modified less than ``settle_s`` ago) waits for the next scan."""

    def __init__(self, cfg: WatchConfig, store: CaptureStore, status: StatusTracker, stop: threading.Event) -> None:
        super().__init__(cfg.instrument, store, status, stop)
        self.cfg = cfg
        self._seen: dict[tuple[str, int, int], str] = {}
        self._refused: set[str] = set()  # entries refused that could not be moved away (not refused again)

    def run(self) -> None:
        self.status.connected(True)
        while not self.stop.is_set():
            self.scan()
            self.status.flush()
            self.stop.wait(self.cfg.interval_s)
        self.status.connected(False)

    def scan(self) -> int:
        """One pass over the folder; returns the number of files imported."""
        folder = self.cfg.folder
        if not folder.is_dir():
            return 0
        files = sorted({p for pat in self.cfg.patterns for p in folder.glob(pat)})
        imported = 0
        now = time.time()
        for path in files:
            try:
                st = path.lstat()  # never follows a link
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                if path.name not in self._refused:
                    self._refuse(path, st)
                continue
            if now - st.st_mtime < self.cfg.settle_s:
                continue
            key = (path.name, st.st_size, st.st_mtime_ns)
            if key in self._seen:
                continue
            try:
                data = read_no_follow(path)
            except OSError as exc:
                log.warning("%s: cannot read %s: %s", self.code, path, exc)
                continue
            unit = sha256_hex(data)
            self._seen[key] = unit
            if self._known(unit):
                continue
            self._import(path, data, unit)
            imported += 1
        return imported

    def _known(self, unit: str) -> bool:
        with self.factory() as s:
            q = select(RawCapture.id).where(RawCapture.instrument_id == self.store.instrument_id,
                                            RawCapture.unit_sha256 == unit, RawCapture.profile == FILE_PROFILE)
            return s.execute(q.limit(1)).first() is not None

    def _import(self, path: Path, data: bytes, unit: str) -> None:
        cap_id = self.store.add_one(NewCapture(data, source=path.name, unit_sha256=unit))
        self.stats.captures += 1
        self.status.message()
        with session_scope(self.factory, actor=self.store.actor) as s:
            cap = s.get(RawCapture, cap_id)
            assert cap is not None
            outcome = ingest(s, cap, DIALECT, None)
            self.count(outcome)
        if outcome.status == "error":
            self._quarantine(path, outcome.error)

    def _quarantine(self, path: Path, reason: str) -> None:
        try:
            quarantine(self.cfg, path, reason)
        except OSError as exc:  # the capture keeps the error; the file stays, never imported twice
            log.error("%s: cannot quarantine %s (%s): %s", self.code, path.name, exc, reason)

    def _refuse(self, path: Path, st: os.stat_result) -> None:
        """A symbolic link (it may point anywhere, e.g. /etc/passwd) or a non-regular file (a FIFO would
        block the reader): never read; moved (the link itself) to quarantine with the reason, and an
        instrument event records it."""
        what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        reason = f"FileRefused: {path.name} is {what}; the watch folder imports regular files only"
        self.stats.errors += 1
        self.status.error()
        try:
            quarantine(self.cfg, path, reason)
        except OSError as exc:
            log.error("%s: cannot quarantine %s: %s", self.code, path, exc)
            self._refused.add(path.name)
        record_event(self.factory, self.store.instrument_id, EventKind.FILE_REFUSED, reason, actor=self.store.actor)


def read_no_follow(path: Path) -> bytes:
    """The bytes of a regular file, refusing a symbolic link swapped in after it was checked (O_NOFOLLOW)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        return f.read()


def quarantine(cfg: WatchConfig, path: Path, reason: str) -> Path:
    """Move a malformed export file into the watch's quarantine folder (never over another file) with a
    ``<name>.reason.txt`` beside it; returns where it went."""
    q = cfg.quarantine
    q.mkdir(parents=True, exist_ok=True)
    target = q / path.name
    n = 1
    while target.exists():
        target = q / f"{path.stem}.{n}{path.suffix}"
        n += 1
    shutil.move(str(path), target)
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    log.warning("%s: %s quarantined: %s", cfg.instrument, path.name, reason)
    return target


class ExportFiles(Dialect):
    """``export_file``: no device profile (the file name selects the reader); a unit is one file."""

    kind = FILE_PROFILE
    runner_class = WatchFolderRunner
    link = "folder"

    def parse(self, s: Session, cap: RawCapture, profile: Profile | None) -> list[Reading]:
        return parse_file_capture(s, cap)

    def settled(self, cap: RawCapture, outcome: Ingested, out: PendingOutcome) -> None:
        if outcome.status == "error":
            out.file_errors.append((cap.source, cap.sha256, cap.error))


DIALECT = register(ExportFiles())
