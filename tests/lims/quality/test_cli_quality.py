"""`lims quality …` on the database of LIMS_DATABASE_URL: nc raise/list/show/close, overdue, audit programme
and checklist; bad input is exit 2 with one line, a workflow refusal exit 1."""

from __future__ import annotations

import json

import pytest

from lims.cli import main
from lims.config import get_settings

pytestmark = pytest.mark.db


def _run(monkeypatch, capsys, db_url, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setenv("LIMS_DATABASE_URL", db_url)
    get_settings.cache_clear()
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_nc_from_the_command_line(db_url, db_engine, monkeypatch, capsys):
    code, out, err = _run(monkeypatch, capsys, db_url, "quality", "nc", "raise", "--description", "天平未按期校准",
                          "--raised-by", "zhaomin", "--risk", "high", "--link", "instrument:BAL-01", "--json")
    assert code == 0, err
    nc = json.loads(out)
    assert (nc["status"], nc["risk"], nc["links"][0]["ref"]) == ("open", "high", "BAL-01")
    code, out, _ = _run(monkeypatch, capsys, db_url, "quality", "nc", "list", "--json")
    assert [n["id"] for n in json.loads(out)["nonconformities"]] == [nc["id"]]
    code, out, _ = _run(monkeypatch, capsys, db_url, "quality", "nc", "show", str(nc["id"]))
    assert code == 0 and "天平未按期校准" in out
    code, out, err = _run(monkeypatch, capsys, db_url, "quality", "nc", "close", str(nc["id"]), "--by", "zhaomin")
    assert code == 1 and "cannot become closed" in err  # effectiveness not verified
    code, out, _ = _run(monkeypatch, capsys, db_url, "quality", "overdue", "--today", "2999-01-01", "--json")
    assert [o["nonconformity_id"] for o in json.loads(out)["overdue"]] == [nc["id"]]
    i, by = str(nc["id"]), ("--by", "zhaomin")
    steps = [("contain", i, "--containment", "stop_work", "--kind", "instrument", "--ref", "BAL-01", "--note", "停用"),
             ("root-cause", i, "--text", "校准计划漏列"),
             ("action", i, "--description", "补列校准", "--owner", "liqiang", "--due", "2999-01-01")]
    for step in steps:
        code, out, err = _run(monkeypatch, capsys, db_url, "quality", "nc", *step, *by, "--json")
        assert code == 0, (step, err)
    action_id = str(json.loads(out)["actions"][0]["id"])
    for step in (("done", action_id, "--note", "已校准"), ("implemented", i), ("verify", i, "--text", "复查有效")):
        code, out, err = _run(monkeypatch, capsys, db_url, "quality", "nc", *step, *by, "--json")
        assert code == 0, (step, err)
    code, out, err = _run(monkeypatch, capsys, db_url, "quality", "nc", "close", i, *by, "--json")
    assert code == 0 and json.loads(out)["status"] == "closed"


@pytest.mark.parametrize(("argv", "needle"), [
    (("quality", "nc", "raise", "--description", "x", "--raised-by", "a", "--risk", "huge"), "--risk"),
    (("quality", "nc", "raise", "--description", "x", "--raised-by", "a", "--due", "2000-01-01"), "--due"),
    (("quality", "nc", "raise", "--description", "x", "--raised-by", "a", "--due", "01/02/2026"), "--due"),
    (("quality", "nc", "raise", "--description", "x", "--raised-by", "a", "--link", "report"), "--link"),
    (("quality", "nc", "show", "999"), "not found"),
    (("quality", "audit", "checklist", "NOPE"), "not found"),
])
def test_bad_input_is_exit_2(db_url, db_engine, monkeypatch, capsys, argv, needle):
    code, out, err = _run(monkeypatch, capsys, db_url, *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and needle in err


def test_audit_programme_and_checklist(db_url, db_engine, monkeypatch, capsys):
    code, out, err = _run(monkeypatch, capsys, db_url, "quality", "audit", "programme", "2027", "--create",
                          "--audits", "3", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["audits"]) == 3 and doc["coverage"]["missing"] == []
    code, out, _ = _run(monkeypatch, capsys, db_url, "quality", "audit", "checklist", "IA-2027-02", "--json")
    assert code == 0 and json.loads(out)["items"]
