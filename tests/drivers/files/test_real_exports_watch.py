"""Real exports dropped into a watch folder (issue 13): a CR-only Empower .arw crash-looped the runner
before; now it imports, and so does a LabSolutions multi-detector export, each reading carrying the
file's sample ID, injection time and method; a cut export is quarantined with its reason while the
others import."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lims.acquisition import parse_config
from lims.acquisition.dialects.files import FILE_PROFILE, WatchFolderRunner
from lims.acquisition.service import ensure_instruments
from lims.acquisition.store import CaptureStore, StatusTracker
from lims.db.models import RawCapture, Reading

REAL = Path(__file__).resolve().parents[2] / "data" / "real"


@pytest.mark.db
def test_real_exports_in_a_watch_folder(db_factory: Any, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(REAL / "empower" / "results1844.arw", folder / "a_results1844.arw")
    shutil.copy(REAL / "labsolutions_multichannel" / "STD_100.txt", folder / "b_std_100.txt")
    raw = (REAL / "chromeleon7" / "IgG Vtag 1_ACQUITY FLR ChA.txt").read_bytes()
    (folder / "c_cut.txt").write_bytes(raw[:len(raw) // 2])
    cfg = parse_config(f'[[watch]]\ninstrument = "LC-W"\nfolder = "{folder}"\ninterval_s = 0.1\nsettle_s = 0\n')
    inst_id, _ = ensure_instruments(db_factory, cfg)["LC-W"]
    runner = WatchFolderRunner(cfg.watches[0], CaptureStore(db_factory, inst_id, "LC-W", FILE_PROFILE),
                               StatusTracker(db_factory, inst_id), threading.Event())
    assert runner.scan() == 3
    reason = (folder / "quarantine" / "c_cut.txt.reason.txt").read_text(encoding="utf-8")
    assert "Data Points" in reason and "Traceback" not in reason
    with db_factory() as s:
        caps = {c.source: c.parse_status for c in s.execute(select(RawCapture)).scalars()}
        assert caps == {"a_results1844.arw": "parsed", "b_std_100.txt": "parsed", "c_cut.txt": "error"}
        readings = s.execute(select(Reading)).scalars().all()
    arw = [r for r in readings if r.fields["file"] == "a_results1844.arw"]
    assert [r.record_type for r in arw] == ["trace"] and arw[0].fields["points"] == 6601
    assert arw[0].fields["method"] == "Sup6Inc_10_300_TrpGFP_LineA"
    ls = [r for r in readings if r.fields["file"] == "b_std_100.txt"]
    assert {r.sample_code for r in ls} == {"STD 1 100"}
    assert sum(r.record_type == "peak" for r in ls) == 2 + 7 + 7 and sum(r.record_type == "trace" for r in ls) == 3
    assert {r.fields["injected_at"] for r in ls} == {"02/08/2023 17:08:21"}
    assert all(r.fields["method"].endswith("fermentation_nobutanol-96.lcm") for r in ls)
