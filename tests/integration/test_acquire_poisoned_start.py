"""`lims acquire` starts whatever an earlier run left pending (issues 11 and 13): a float32 NaN from the Modbus
photometer (crashed the runner on PostgreSQL and stopped the next start), a CSV field over the csv module's
limit (crash-looped the watch-folder runner; the next start exited 1) and a capture whose reader fails in a
way nobody anticipated — the command exits 0, every capture leaves ``pending`` with a typed outcome."""

from __future__ import annotations

import struct

from hardware_sim.modbus_analyzer import float_to_cdab, string_to_registers
from sqlalchemy import select

from lims.acquisition import parse_config
from lims.acquisition.dialects.files import FILE_PROFILE
from lims.acquisition.service import ensure_instruments
from lims.acquisition.store import CaptureStore, NewCapture
from lims.cli import main
from lims.db.models import RawCapture, Reading


def _block(value: float) -> bytes:
    regs = [0b1001, 0, 1, 0, *float_to_cdab(value), *float_to_cdab(value), *float_to_cdab(0.0),
            *float_to_cdab(25.0), *string_to_registers("S1", 8)]
    return struct.pack(f">{len(regs)}H", *regs)


def test_lims_acquire_starts_over_poisoned_pending_captures(db_url, db_factory, tmp_path, capsys):
    folder = tmp_path / "exports"
    folder.mkdir()
    text = (f'[acquire]\ndatabase_url = "{db_url}"\n'
            '[[instrument]]\ncode = "PH-X"\nprofile = "modbus_photometric"\n'
            'transport = "modbus-tcp://127.0.0.1:1"\nenabled = false\n'
            f'[[watch]]\ninstrument = "GC-X"\nfolder = "{folder}"\ninterval_s = 0.1\n')
    (tmp_path / "acquire.toml").write_text(text, encoding="utf-8")
    ids = ensure_instruments(db_factory, parse_config(text))
    CaptureStore(db_factory, ids["PH-X"][0], "PH-X", "modbus_photometric").add(
        [NewCapture(_block(float("nan")), source="input:0")])
    CaptureStore(db_factory, ids["GC-X"][0], "GC-X", FILE_PROFILE).add(
        [NewCapture(b'time,signal\n0.0,"' + b"9" * 140_000 + b'"\n', source="huge.csv")])
    assert main(["acquire", "--config", str(tmp_path / "acquire.toml"), "--duration", "0.3", "--json"]) == 0
    with db_factory() as s:
        caps = {c.source: (c.parse_status, c.error) for c in s.execute(select(RawCapture)).scalars()}
        (reading,) = s.execute(select(Reading)).scalars().all()
    assert caps["input:0"] == ("parsed", "") and reading.value_state == "nan"
    assert caps["huge.csv"][0] == "error" and "field larger than field limit" in caps["huge.csv"][1]
