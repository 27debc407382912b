"""`lims acquire` as a process and as a service: kill -9 mid-stream loses no ACKed frame, the watch folder
imports each export once and quarantines a malformed one, configuration errors name the key, re-parse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from hardware_sim.astm import AstmMessage, AstmResult, AstmSenderSim
from hardware_sim.enzyme import EnzymeTesterSim, SimSample
from hardware_sim.faults import Faults
from sqlalchemy import select

from lims.acquisition import AcquisitionService, ConfigError, load_config, parse_config
from lims.cli import main
from lims.db.models import RawCapture, Reading

ROOT = Path(__file__).resolve().parents[2]




def test_kill_9_mid_stream_every_acked_frame_is_in_the_database(db_url, db_factory, tmp_path, wait_until):
    msgs = [AstmMessage(f"K{i:04d}", (AstmResult("CHLORPYRIFOS", f"{i / 1000:.3f}"),)) for i in range(400)]
    sim = AstmSenderSim(msgs, reply_timeout_s=0.5, busy_retry_s=0.2)
    path = sim.start_pty()
    cfg = tmp_path / "acquire.toml"
    cfg.write_text(f'[[instrument]]\ncode = "GC-K9"\nprofile = "astm_gc_datasystem"\ntransport = "{path}"\n',
                   encoding="utf-8")
    env = {**os.environ, "LIMS_DATABASE_URL": db_url}
    proc = subprocess.Popen([sys.executable, "-m", "lims.cli", "acquire", "--config", str(cfg)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: len(sim.acked_frames) >= 60, 20), proc.stderr.read1() if proc.poll() else "no ACKs"
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        acked = Counter(sim.acked_frames)  # read after the kill: nothing more can be ACKed
    finally:
        if proc.poll() is None:
            proc.kill()
        sim.stop()
    assert proc.returncode == -signal.SIGKILL
    assert len(sim.completed) < len(msgs)  # killed mid-stream
    with db_factory() as s:
        stored = Counter(s.execute(select(RawCapture.data)).scalars().all())
    missing = acked - stored
    assert sum(acked.values()) >= 60 and not missing

    # the next start settles what the killed process stored but did not parse yet: every message whose
    # frames were all ACKed (the sender sent EOT and will not send it again) gives its readings, once
    config = load_config(cfg)
    AcquisitionService(config, db_factory).settle_pending()
    again = AcquisitionService(config, db_factory).settle_pending()  # a second start finds nothing
    assert all(o.captures == 0 for o in again.values())
    with db_factory() as s:
        statuses = Counter(s.execute(select(RawCapture.parse_status)).scalars())
        samples = Counter(s.execute(select(Reading.sample_code)).scalars())
    assert statuses["pending"] == 0
    assert {msgs[i].sample_id for i in sim.completed} <= set(samples) and set(samples.values()) == {1}


def _count(factory) -> int:
    with factory() as s:
        return len(s.execute(select(RawCapture.id)).all())


CSV_TRACE = "time,signal\n" + "\n".join(f"{i * 0.01:.2f},{1.0 if 100 <= i <= 110 else 0.0}" for i in range(300)) + "\n"


def test_watch_folder_imports_once_by_content_and_quarantines_malformed(db_factory, tmp_path, wait_until):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "run1.csv").write_text(CSV_TRACE, encoding="utf-8")
    (folder / "copy_of_run1.csv").write_text(CSV_TRACE, encoding="utf-8")  # same content: imported once
    (folder / "bad.csv").write_text("time,signal\n0.0,abc\n", encoding="utf-8")
    cfg = parse_config(f'[acquire]\nstatus_interval_s = 0.1\n[[watch]]\ninstrument = "GC-FILES"\n'
                       f'folder = "{folder}"\ninterval_s = 0.1\nsettle_s = 0\n')
    service = AcquisitionService(cfg, db_factory)
    service.start()
    try:
        assert wait_until(lambda: (folder / "quarantine" / "bad.csv.reason.txt").exists(), 5)
        time.sleep(0.3)  # further scans must not import again
    finally:
        service.stop()
    reason = (folder / "quarantine" / "bad.csv.reason.txt").read_text(encoding="utf-8")
    assert "bad.csv" in reason and "line 2" in reason
    assert not (folder / "bad.csv").exists() and (folder / "run1.csv").exists()
    with db_factory() as s:
        caps = s.execute(select(RawCapture).order_by(RawCapture.id)).scalars().all()
        readings = s.execute(select(Reading)).scalars().all()
    assert sorted((c.source, c.parse_status) for c in caps) == [("bad.csv", "error"), ("copy_of_run1.csv", "parsed")]
    assert [(r.record_type, r.fields["points"]) for r in readings] == [("trace", 300)]


@pytest.mark.parametrize(("text", "key"), [
    ('[[instrument]]\ncode = "A"\nprofile = "enzyme_ascii_16ch"\n', "instrument[0].transport"),
    ('[[instrument]]\ncode = "A"\nprofile = "nope"\ntransport = "/dev/ttyS0"\n', "instrument[0].profile"),
    ('[[instrument]]\ncode = "A"\nprofile = "modbus_photometric"\ntransport = "/dev/ttyS0"\n',
     "instrument[0].transport"),
    ('[[instrument]]\ncode = "A"\nprofile = "enzyme_ascii_16ch"\ntransport = "socket://h:99999"\n',
     "instrument[0].transport"),
    ('[[instrument]]\ncode = "A"\nprofile = "enzyme_ascii_16ch"\ntransport = "/dev/x"\npoll_interval_s = 0\n',
     "instrument[0].poll_interval_s"),
    ('[[instrument]]\ncode = "A"\nprofile = "enzyme_ascii_16ch"\ntransport = "/dev/x"\nbaud = 9600\n',
     "instrument[0].baud"),
])
def test_config_errors_name_the_key(text, key):
    with pytest.raises(ConfigError) as err:
        parse_config(text, file="site.toml")
    assert err.value.key == key and str(err.value).startswith(f"site.toml: key '{key}'")


def test_cli_bad_config_exits_2_naming_the_key(tmp_path, capsys):
    cfg = tmp_path / "a.toml"
    cfg.write_text('[[instrument]]\ncode = "A"\nprofile = "enzyme_ascii_16ch"\ntransport = "ftp://x"\n')
    assert main(["acquire", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "instrument[0].transport" in err and "Traceback" not in err


def test_cli_reparse_keeps_errors_and_reports(db_url, db_factory, monkeypatch, capsys, wait_until):
    sim = EnzymeTesterSim([SimSample(1, "S-1", 20.0)], seed=3, faults=Faults(malformed_lines=(1,)))
    cfg = parse_config(f'[[instrument]]\ncode = "EI-R"\nprofile = "enzyme_ascii_16ch"\n'
                       f'transport = "{sim.start_pty()}"\n')
    service = AcquisitionService(cfg, db_factory)
    service.start()
    try:
        assert sim.wait(5)
        assert wait_until(lambda: _count(db_factory) == len(sim.lines), 5)
    finally:
        service.stop()
        sim.stop()
    monkeypatch.setenv("LIMS_DATABASE_URL", db_url)
    from lims.config import get_settings

    get_settings.cache_clear()
    try:
        assert main(["acquire", "--reparse", "EI-R", "--json"]) == 0
        out = capsys.readouterr().out
        assert '"errors": 1' in out and '"readings": 0' in out  # same profile: still in error, still kept
        assert main(["acquire", "--reparse", "NOPE"]) == 2
    finally:
        get_settings.cache_clear()
