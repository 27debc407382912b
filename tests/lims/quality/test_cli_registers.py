"""`lims quality instrument|material|staff|env|stats …` on LIMS_DATABASE_URL (issue 15): a calibration with its
certificate file, the overdue NC, a lot, the authorisation matrix, an environment record out of range, the
survey written as CSV and PDF; bad input is exit 2 with one line naming the option."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy.orm import sessionmaker

from lims.cli import main
from lims.config import get_settings
from lims.demo import seed_reference
from lims.quality.common import MAX_FILE_BYTES

pytestmark = pytest.mark.db
TODAY = dt.datetime.now(dt.UTC).date()


def _run(monkeypatch, capsys, db_url, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setenv("LIMS_DATABASE_URL", db_url)
    get_settings.cache_clear()
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_registers_from_the_command_line(db_url, db_engine, monkeypatch, capsys, tmp_path):
    seed_reference(sessionmaker(db_engine, expire_on_commit=False))
    cert = tmp_path / "cert.pdf"
    cert.write_bytes(b"%PDF-1.4 certificate")
    code, out, err = _run(monkeypatch, capsys, db_url, "quality", "instrument", "check", "EI-01", "--kind", "calibration",
                          "--performed", str(TODAY - dt.timedelta(days=400)), "--due", str(TODAY - dt.timedelta(days=1)),
                          "--outcome", "pass", "--certificate-no", "JZ-9", "--certificate", str(cert), "--by", "zhaomin")
    assert code == 0, err
    code, out, err = _run(monkeypatch, capsys, db_url, "quality", "instrument", "overdue-ncs", "--by", "zhaomin", "--json")
    assert code == 0 and len(json.loads(out)["nonconformity_ids"]) == 1, err
    code, out, _ = _run(monkeypatch, capsys, db_url, "quality", "instrument", "list", "--json")
    assert [(i["instrument"], i["fitness"]) for i in json.loads(out)["instruments"]] == [("EI-01", "overdue")]
    code, out, err = _run(monkeypatch, capsys, db_url, "quality", "material", "add", "RM-9", "--kind", "reference_material",
                          "--name", "克伦特罗标准物质", "--expires", str(TODAY + dt.timedelta(days=10)), "--by", "zhaomin")
    assert code == 0, err
    code, out, _ = _run(monkeypatch, capsys, db_url, "quality", "material", "list", "--expiring-within", "30", "--json")
    assert [x["code"] for x in json.loads(out)["lots"]] == ["RM-9"]
    code, out, err = _run(monkeypatch, capsys, db_url, "quality", "staff", "grant", "wangfang", "GC-OP", "--sign",
                          "--from", str(TODAY), "--by", "zhaomin")
    assert code == 0, err
    code, out, _ = _run(monkeypatch, capsys, db_url, "quality", "staff", "matrix", "--json")
    assert [(r["username"], r["may_sign"]) for r in json.loads(out)["authorisations"]] == [("wangfang", True)]
    code, out, err = _run(monkeypatch, capsys, db_url, "quality", "stats", "survey", str(TODAY.year),
                          "--csv", str(tmp_path / "s.csv"), "--pdf", str(tmp_path / "s.pdf"))
    assert code == 0, err
    assert (tmp_path / "s.csv").read_text(encoding="utf-8").startswith("\ufeffsection,item,value")
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(("argv", "needle"), [
    (("quality", "instrument", "check", "EI-01", "--kind", "calibrate", "--performed", "2026-01-01", "--outcome", "pass",
      "--by", "z"), "--kind"),
    (("quality", "instrument", "check", "EI-01", "--kind", "calibration", "--performed", "2026-01-05", "--due",
      "2026-01-01", "--outcome", "pass", "--certificate-no", "C", "--by", "z"), "--due"),
    (("quality", "instrument", "check", "EI-01", "--kind", "calibration", "--performed", "01/02/2026", "--outcome",
      "pass", "--by", "z"), "--performed"),
    (("quality", "material", "add", "RM-X", "--kind", "standard", "--name", "x", "--expires", "2026-01-01",
      "--manufactured", "2026-02-01", "--by", "z"), "--expires"),
    (("quality", "staff", "grant", "wangfang", "GC-OP", "--sign", "--from", "2026-02-01", "--until", "2026-01-01",
      "--by", "z"), "--until"),
    (("quality", "stats", "survey", "1990"), "--year"),
])
def test_bad_input_is_exit_2(db_url, db_engine, monkeypatch, capsys, argv, needle):
    seed_reference(sessionmaker(db_engine, expire_on_commit=False))
    code, out, err = _run(monkeypatch, capsys, db_url, *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and needle in err, (code, out, err)


def test_certificate_over_the_size_limit_is_exit_2(db_url, db_engine, monkeypatch, capsys, tmp_path):
    seed_reference(sessionmaker(db_engine, expire_on_commit=False))
    big = tmp_path / "big.pdf"
    big.write_bytes(b"\0" * (MAX_FILE_BYTES + 1))
    code, out, err = _run(monkeypatch, capsys, db_url, "quality", "instrument", "check", "EI-01", "--kind", "calibration",
                          "--performed", str(TODAY), "--outcome", "pass", "--certificate-no", "C",
                          "--certificate", str(big), "--by", "z")
    assert code == 2 and "--certificate" in err and "over the limit" in err


def test_env_watch_records_every_sensor_over_modbus(db_url, db_engine, monkeypatch, capsys):
    from hardware_sim.env_sensor import EnvSensorSim

    from lims.db.engine import session_scope
    from lims.quality import environment as env

    factory = sessionmaker(db_engine, expire_on_commit=False)
    seed_reference(factory)
    with EnvSensorSim(temperature_c=21.5, humidity_pct=48.0) as room, EnvSensorSim(temperature_c=9.0) as fridge:
        with session_scope(factory, actor="zhaomin") as s:
            env.add_location(s, code="ROOM-1", name="前处理室", kind="room", limits=env.Limits(18, 26, 30, 70),
                             sensor_url=f"modbus-tcp://127.0.0.1:{room.start_tcp()}")
            env.add_location(s, code="FR-2", name="样品冰箱", kind="refrigerator", limits=env.Limits(0, 4),
                             sensor_url=f"modbus-tcp://127.0.0.1:{fridge.start_tcp()}")
            env.add_location(s, code="DEAD", name="断线", kind="room", limits=env.Limits(),
                             sensor_url="modbus-tcp://127.0.0.1:1")
        code, out, err = _run(monkeypatch, capsys, db_url, "quality", "env", "watch", "--once", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["failed"] == 1 and "modbus-tcp://127.0.0.1:1" in err
    by_temp = sorted((r["temperature_c"], r["alarm"] != "", r["nonconformity_id"] is not None) for r in doc["records"])
    assert by_temp == [(9.0, True, True), (21.5, False, False)]
