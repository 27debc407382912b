"""`lims sim`: chrom writes files and reports the truth; bad fault options exit 2."""

from __future__ import annotations

import json

from lims.cli import main


def test_chrom_writes_three_files(tmp_path, capsys):
    assert main(["sim", "chrom", "--out", str(tmp_path), "--stem", "c1", "--seed", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {p.rsplit("/", 1)[1] for p in doc["files"].values()} == {"c1.cdf", "c1.txt", "c1.csv"}
    assert [p["area"] for p in doc["peaks"]] == [120.0, 300.0, 80.0]
    assert all((tmp_path / n).exists() for n in ("c1.cdf", "c1.txt", "c1.csv"))


def test_bad_fault_rate_is_bad_input(capsys):
    assert main(["sim", "enzyme", "--bit-error-rate", "2"]) == 2
    assert "bit_error_rate" in capsys.readouterr().err


def test_bad_malformed_list_is_bad_input(capsys):
    assert main(["sim", "gold", "--malformed", "1,x"]) == 2
    assert "--malformed" in capsys.readouterr().err


def test_named_testers_are_served(monkeypatch):
    from hardware_sim.rapid_downloads import TL310Sim, TY16Sim

    import lims.cli.sim as sim_cli

    served = []
    monkeypatch.setattr(sim_cli, "_serial_sim", lambda sim, args: served.append(sim) or 0)
    assert main(["sim", "tl310", "--count", "5"]) == 0 and main(["sim", "ty16", "--count", "3"]) == 0
    tl310, ty16 = served
    assert isinstance(tl310, TL310Sim) and len(tl310.records) == 5 and tl310.records[3].inhibition_percent is None
    assert isinstance(ty16, TY16Sim) and [len(g.values) for g in ty16.groups] == [3, 3]
