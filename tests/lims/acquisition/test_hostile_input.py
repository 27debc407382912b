"""Hostile and careless input at the acquisition edge (issue 11): one export file never stops every watch-folder
import (a CSV field over the csv module's 131,072-character limit raised an untyped ``_csv.Error`` and
crash-looped the runner; ``lims acquire`` could not start again); the watch folder never follows a symbolic
link (a link to /etc/passwd was stored and served); a serial reopen error (``termios.error``, not an
``OSError``) is a typed transport error; a reader that gives up on a record leaves a visible event."""

from __future__ import annotations

import os
import termios
import threading
from pathlib import Path
from typing import Any

import pytest
import serial
from hardware_sim.binary_tester import build_frame
from sqlalchemy import select

from drivers.errors import TransportError
from drivers.profiles import load_profile
from drivers.transports import serial as serial_transport
from drivers.transports.tcp import ConnectionLost
from lims.acquisition import AcquisitionService, parse_config
from lims.acquisition.dialects.files import FILE_PROFILE, WatchFolderRunner
from lims.acquisition.events import list_events
from lims.acquisition.links import SerialLink
from lims.acquisition.service import ensure_instruments
from lims.acquisition.store import CaptureStore, NewCapture, StatusTracker
from lims.cli import main
from lims.db.models import RawCapture, Reading

GOOD = "time,signal\n" + "\n".join(f"{i * 0.01:.2f},{1.0 if 100 <= i <= 110 else 0.0}" for i in range(300)) + "\n"
HUGE_FIELD = "time,signal\n0.00,\"" + "9" * 140_000 + "\"\n0.01,1.0\n"


def _watch(db_factory: Any, folder: Path) -> WatchFolderRunner:
    cfg = parse_config(f'[[watch]]\ninstrument = "GC-W"\nfolder = "{folder}"\ninterval_s = 0.1\nsettle_s = 0\n')
    inst_id, _ = ensure_instruments(db_factory, cfg)["GC-W"]
    return WatchFolderRunner(cfg.watches[0], CaptureStore(db_factory, inst_id, "GC-W", FILE_PROFILE),
                             StatusTracker(db_factory, inst_id), threading.Event())


def test_a_csv_field_over_the_limit_is_quarantined_and_other_files_import(db_factory, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a_huge.csv").write_text(HUGE_FIELD, encoding="utf-8")
    (folder / "b_good.csv").write_text(GOOD, encoding="utf-8")
    runner = _watch(db_factory, folder)
    assert runner.scan() == 2  # raised _csv.Error before (runner crash-looped)
    reason = (folder / "quarantine" / "a_huge.csv.reason.txt").read_text(encoding="utf-8")
    assert "field larger than field limit" in reason and reason.startswith("ChromatogramFileError")
    with db_factory() as s:
        caps = {c.source: c.parse_status for c in s.execute(select(RawCapture)).scalars()}
        assert caps == {"a_huge.csv": "error", "b_good.csv": "parsed"}
        assert s.execute(select(Reading.record_type)).scalars().all() == ["trace"]


def test_a_pending_unreadable_file_never_stops_the_start_of_the_service(db_factory, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    cfg = parse_config(f'[[watch]]\ninstrument = "GC-S"\nfolder = "{folder}"\n')
    inst_id, _ = ensure_instruments(db_factory, cfg)["GC-S"]
    store = CaptureStore(db_factory, inst_id, "GC-S", FILE_PROFILE)
    store.add([NewCapture(HUGE_FIELD.encode(), source="huge.csv"), NewCapture(GOOD.encode(), source="good.csv")])
    out = AcquisitionService(cfg, db_factory).settle_pending()["GC-S"]
    assert (out.parsed, out.errors) == (1, 1)


def test_the_watch_folder_refuses_symlinks(db_factory, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    secret = tmp_path / "secret.csv"
    secret.write_text(GOOD, encoding="utf-8")
    (folder / "passwd.csv").symlink_to("/etc/passwd")
    (folder / "secret.csv").symlink_to(secret)  # a link to a readable, valid export: still refused
    os.mkfifo(folder / "pipe.csv")  # would block a reader forever
    runner = _watch(db_factory, folder)
    assert runner.scan() == 0
    runner.scan()  # refused once, not again
    with db_factory() as s:
        assert s.execute(select(RawCapture.id)).first() is None
        listed = list_events(s, "GC-W")
    assert listed is not None and listed["total"] == 3
    assert {e["kind"] for e in listed["events"]} == {"file_refused"}
    assert any("passwd.csv is a symbolic link" in e["detail"] for e in listed["events"])
    q = folder / "quarantine"
    assert (q / "passwd.csv").is_symlink() and not (folder / "passwd.csv").exists()
    assert "symbolic link" in (q / "secret.csv.reason.txt").read_text(encoding="utf-8")
    assert secret.read_text(encoding="utf-8") == GOOD  # the link's target is never touched


def test_cli_unreadable_export_exit_2_and_one_line(tmp_path, capsys):
    path = tmp_path / "huge.csv"
    path.write_text(HUGE_FIELD, encoding="utf-8")
    assert main(["chrom", "integrate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "huge.csv" in err and "field larger than field limit" in err


def test_termios_error_on_reopen_is_a_typed_transport_error(monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise termios.error(5, "Input/output error")  # what tcsetattr raises on a port that went away

    monkeypatch.setattr(serial, "serial_for_url", broken)
    with pytest.raises(TransportError, match="error: .*Input/output error"):
        serial_transport.open_serial("/dev/ttyUSB9")
    link = SerialLink("/dev/ttyUSB9", load_profile("enzyme_ascii_16ch"), {})
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    assert link.connect(stop) is False  # retried with backoff until stopped, never raised

    class Port:
        def read(self, n: int) -> bytes:
            raise termios.error(5, "Input/output error")

        def close(self) -> None:
            raise termios.error(5, "Input/output error")

    link.port = Port()  # type: ignore[assignment]
    with pytest.raises(ConnectionLost):
        link.read(0.01)
    assert link.port is None


def test_a_reader_that_gives_up_on_a_result_leaves_an_event(db_factory, make_runner):
    status_ready = build_frame(1, 0x81, bytes([2, 0, 7]))  # state 2 (result ready), run 7

    class Link:
        address = "test://silent-result"

        def __init__(self) -> None:
            self.out = b""

        def write(self, data: bytes) -> None:
            if data[2] == 0x01:  # GET_STATUS answered; GET_RESULT never
                self.out += status_ready

        def read(self, timeout_s: float) -> bytes:
            out, self.out = self.out, b""
            return out

        def connect(self, stop: threading.Event | None = None) -> bool:
            return True

        def close(self) -> None: ...

    runner = make_runner("RT-G", "rapid_binary_16ch", Link(), timeout_s=0.01)
    runner.MAX_ATTEMPTS = 3
    runner.on_bytes(b"", 1e9)
    assert runner.stats.failed_polls == 1
    with db_factory() as s:
        listed = list_events(s, "RT-G")
    assert listed is not None and listed["total"] == 1
    assert listed["events"][0]["kind"] == "gave_up" and "3 attempts" in listed["events"][0]["detail"]


def test_a_file_that_cannot_be_quarantined_never_crashes_the_runner(db_factory, tmp_path, monkeypatch):
    from lims.acquisition.dialects import files as files_dialect

    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "bad.csv").write_text("time,signal\n0.0,abc\n", encoding="utf-8")

    def no_space(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_dialect, "quarantine", no_space)
    runner = _watch(db_factory, folder)
    assert runner.scan() == 1 and runner.scan() == 0  # kept in error once; the next scan goes on
    assert (folder / "bad.csv").exists()
