"""`lims demo` end to end as a user runs it: exit 0, summary.json, PDFs with embedded CJK fonts,
and `lims audit verify` on the day's database."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

LIMS = [sys.executable, "-m", "lims.cli"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "day"
    proc = subprocess.run([*LIMS, "demo", "--out", str(out)], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _db(path: Path):
    def scalar(sql: str) -> int:
        with sqlite3.connect(path) as con:
            return int(con.execute(sql).fetchone()[0])
    return scalar


def test_summary_has_the_contract_keys(demo_dir: Path):
    summary = json.loads((demo_dir / "summary.json").read_text(encoding="utf-8"))
    for key in ("samples", "results", "results_from_instruments", "certified", "non_compliant", "reports",
                "upstream_delivered", "upstream_pending", "pt_round", "qc_failures", "elapsed_s"):
        assert key in summary
    assert set(summary["pt_round"]) >= {"participants", "analytes", "scores"}
    assert summary["results_from_instruments"] >= 1
    # upstream counts are messages of every kind (results batched per sample, amendments, audit checkpoints),
    # as `lims upstream run` counts them: read the expectation from the two databases, not a constant
    lab, hub = _db(demo_dir / "lims.db"), _db(demo_dir / "hub.db")
    assert summary["upstream_pending"] == 0 == lab("SELECT count(*) FROM outbox_message WHERE status != 'delivered'")
    assert summary["upstream_delivered"] == lab("SELECT count(*) FROM outbox_message") == hub(
        "SELECT count(*) FROM hub_receipt")
    assert lab("SELECT count(*) FROM outbox_message WHERE kind = 'checkpoint'") >= 1
    # every certified version went upstream exactly once, the superseded one of the amendment included
    carried = lab("SELECT count(*) FROM outbox_item i JOIN outbox_message m ON m.id = i.message_id "
                  "WHERE m.kind = 'result'")
    assert carried == lab("SELECT count(DISTINCT result_id) FROM outbox_item")
    assert carried == summary["certified"] + len(summary["amended_reports"])
    assert summary["raw_capture_errors"] == 1  # the injected malformed line, kept
    assert summary["non_compliant"] == 1 and summary["qc_failures"] == 1
    assert summary["pt_round"]["scores"] > 0 and len(summary["amended_reports"]) == 1
    assert summary["elapsed_s"] < 60


def test_reports_are_chinese_with_embedded_fonts(demo_dir: Path):
    summary = json.loads((demo_dir / "summary.json").read_text(encoding="utf-8"))
    pdf = Path(summary["reports"][0])
    assert pdf.is_file()
    if shutil.which("pdftotext") is None or shutil.which("pdffonts") is None:
        pytest.skip("poppler-utils not installed (.ci/run installs it)")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "检验检测报告" in text and "本报告结果仅对所检样品负责" in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = [ln.split() for ln in fonts.splitlines()[2:] if ln.strip()]
    assert rows and all("yes" == r[-5] for r in rows), fonts


def test_audit_verify_on_the_demo_database(demo_dir: Path):
    env = {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{demo_dir / 'lims.db'}"}
    proc = subprocess.run([*LIMS, "audit", "verify"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "intact" in proc.stdout


def test_every_outgoing_payload_of_the_day_matches_its_schema(demo_dir: Path):
    """What the demo day queued upstream — result batches, the amendment, audit checkpoints — read back from
    lims.db and validated against the canonical record (lims.upstream.schema, served at /api/v1/schemas/)."""
    from lims.upstream import schema as w

    with sqlite3.connect(demo_dir / "lims.db") as con:
        rows = con.execute("SELECT kind, sample_code, payload FROM outbox_message ORDER BY id").fetchall()
    kinds = {"result": w.ResultBatch, "checkpoint": w.CheckpointMessage}
    changes = []
    for kind, sample_code, payload in rows:
        doc = w.validate_message(json.loads(payload))
        assert isinstance(doc, kinds[kind])
        if isinstance(doc, w.ResultBatch):
            assert doc.sample.code == sample_code and 1 <= len(doc.results) <= w.MAX_RESULTS_PER_MESSAGE
            assert [r.result_id for r in doc.results] == sorted(r.result_id for r in doc.results)
            changes += [r.change for r in doc.results]
    assert changes.count("amendment") == 1 and "original" in changes


def test_demo_with_an_unreachable_external_hub_leaves_messages_pending(tmp_path: Path):
    """CONTRACTS.md: `lims demo` with LIMS_UPSTREAM_URL delivers there with the key at LIMS_UPSTREAM_KEY; a hub
    that is down leaves the messages pending (upstream_pending) and is no failure of the demo."""
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out, key = tmp_path / "day", tmp_path / "keys" / "lab.pem"
    env = {**os.environ, "LIMS_UPSTREAM_URL": f"http://127.0.0.1:{port}", "LIMS_UPSTREAM_KEY": str(key)}
    proc = subprocess.run([*LIMS, "demo", "--out", str(out)], capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    lab = _db(out / "lims.db")
    assert summary["upstream_external_hub"] is True and summary["upstream_delivered"] == 0
    assert summary["upstream_pending"] == lab("SELECT count(*) FROM outbox_message") > 0
    assert lab("SELECT count(*) FROM outbox_message WHERE last_error LIKE '%ConnectError%'") > 0
    assert key.is_file() and not (out / "hub.db").exists()  # no loopback hub was started


def test_lab_init_and_user_create_work_on_the_demo_database(demo_dir: Path, tmp_path: Path):
    """CONTRACTS.md (Lab set-up): both commands work on the database `lims demo` leaves behind; the database
    holds one laboratory (issue 11), so `lab init` with its code sets the details again, another is refused."""
    db = tmp_path / "lims.db"
    shutil.copyfile(demo_dir / "lims.db", db)
    env = {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{db}", "DEMO_NEW_PW": "Correct-Horse-Battery-9"}
    lab = ["lab", "init", "--name", "某县农产品质量安全检测站", "--address", "某县某路 1 号", "--region-code", "110101"]
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM lab").fetchone()[0] == 1  # acquisition adds none
        demo_code = con.execute("SELECT code FROM lab").fetchone()[0]
    same = subprocess.run([*LIMS, *lab, "--code", demo_code], capture_output=True, text=True, env=env, timeout=60)
    assert same.returncode == 0, same.stderr
    other = subprocess.run([*LIMS, *lab, "--code", "LAB-OTHER"], capture_output=True, text=True, env=env, timeout=60)
    assert other.returncode == 2 and len(other.stderr.strip().splitlines()) == 1
    user = subprocess.run([*LIMS, "user", "create", "zhaoliu", "--full-name", "赵六", "--role", "technician",
                           "--password-env", "DEMO_NEW_PW"], capture_output=True, text=True, env=env, timeout=60)
    assert user.returncode == 0, user.stderr
