"""Multi-lab (issue 11): records carry lab_id but no query is scoped by it, so after `lims lab init` of a
second lab a user of lab B read lab A's samples, results and report and posted custody on A's sample, and
`lims user create` failed. The model chosen (README, "One laboratory per database"): one laboratory per
database; a second `lims lab init` is refused with exit 2 and one line, and nothing is written."""

from __future__ import annotations

from sqlalchemy import func, select

from lims.cli import main
from lims.config import get_settings
from lims.db.models import Lab, User

ARGS = ["--name", "某县农产品质量安全检测站", "--address", "某县某路 1 号", "--region-code", "110101"]


def _run(monkeypatch, db_url, *argv: str) -> int:
    monkeypatch.setenv("LIMS_DATABASE_URL", db_url)
    get_settings.cache_clear()
    return main(list(argv))


def test_a_second_lab_init_is_refused_and_user_create_still_works(db_url, db_factory, monkeypatch, capsys):
    assert _run(monkeypatch, db_url, "lab", "init", "--code", "LAB-A", *ARGS) == 0
    capsys.readouterr()
    assert _run(monkeypatch, db_url, "lab", "init", "--code", "LAB-B", *ARGS) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "one laboratory per database" in err[0] and "LAB-A" in err[0]
    with db_factory() as s:
        assert list(s.execute(select(Lab.code)).scalars()) == ["LAB-A"]
    monkeypatch.setenv("H11_PW", "Correct-Horse-Battery-9")
    assert _run(monkeypatch, db_url, "user", "create", "wangwu", "--full-name", "王五", "--role", "technician",
                "--password-env", "H11_PW") == 0
    with db_factory() as s:
        user = s.execute(select(User).where(User.username == "wangwu")).scalar_one()
        assert s.get(Lab, user.lab_id).code == "LAB-A"
        assert s.execute(select(func.count()).select_from(Lab)).scalar_one() == 1
    get_settings.cache_clear()


def test_init_again_with_the_databases_own_code_updates_its_details(db_url, db_factory, monkeypatch, capsys):
    """CONTRACTS.md: `lims lab init` works on the database `lims demo` leaves behind — with that database's
    own laboratory code it sets the details again (audited); another code is a second laboratory (refused)."""
    assert _run(monkeypatch, db_url, "lab", "init", "--code", "LAB-A", *ARGS) == 0
    assert _run(monkeypatch, db_url, "lab", "init", "--code", "LAB-A", "--name", "某县检测中心",
                *ARGS[2:], "--cma-number", "221234567890") == 0
    assert "updated" in capsys.readouterr().out
    with db_factory() as s:
        lab = s.execute(select(Lab)).scalar_one()
        assert (lab.name, lab.cma_number) == ("某县检测中心", "221234567890")
    get_settings.cache_clear()
