"""`lims user create|disable|enable|reset-password|set-roles|passwd` (issue 11, account life cycle) on the
database of LIMS_DATABASE_URL: each change audited as cli:user-ACTION; bad input is exit 2 and one line."""

from __future__ import annotations

from sqlalchemy import select

from lims.cli import main
from lims.config import get_settings
from lims.db.models import AuditEvent, User
from lims.security import verify_password

LAB = ["lab", "init", "--code", "LAB-CLI", "--name", "某县检测站", "--address", "某县某路 1 号",
       "--region-code", "110101"]


def _run(monkeypatch, db_url, *argv: str) -> int:
    monkeypatch.setenv("LIMS_DATABASE_URL", db_url)
    get_settings.cache_clear()
    return main(list(argv))


def _user(factory, username: str) -> User:
    with factory() as s:
        return s.execute(select(User).where(User.username == username)).scalar_one()


def test_user_life_cycle_from_the_command_line(db_url, db_factory, monkeypatch, capsys):
    assert _run(monkeypatch, db_url, *LAB) == 0
    monkeypatch.setenv("PW1", "Correct-Horse-Battery-9")
    assert _run(monkeypatch, db_url, "user", "create", "zhaoliu", "--full-name", "赵六", "--role", "technician",
                "--password-env", "PW1") == 0
    # the contract's create is unchanged; the new policy applies (length ≥ 12, common list)
    monkeypatch.setenv("WEAK", "password1234")
    capsys.readouterr()
    assert _run(monkeypatch, db_url, "user", "create", "weak", "--full-name", "弱", "--role", "technician",
                "--password-env", "WEAK") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "password" in err[0] and "Traceback" not in err[0]

    assert _run(monkeypatch, db_url, "user", "disable", "zhaoliu", "--reason", "调岗") == 0
    assert _user(db_factory, "zhaoliu").active is False
    assert _run(monkeypatch, db_url, "user", "enable", "ZHAOLIU") == 0  # any case finds the account
    assert _user(db_factory, "zhaoliu").active is True
    assert _run(monkeypatch, db_url, "user", "set-roles", "zhaoliu", "--role", "technician", "--role", "reviewer") == 0
    assert _user(db_factory, "zhaoliu").role_names == {"technician", "reviewer"}
    monkeypatch.setenv("TEMP", "Temporary-Pass-42")
    assert _run(monkeypatch, db_url, "user", "reset-password", "zhaoliu", "--password-env", "TEMP") == 0
    user = _user(db_factory, "zhaoliu")
    assert user.must_change_password and verify_password(user.password_hash, "Temporary-Pass-42")
    # passwd: the old password is checked; a wrong one is exit 2, one line
    monkeypatch.setenv("NEW", "Qiu-Shui-Chang-Tian-8")
    monkeypatch.setenv("WRONG", "not-the-password")
    capsys.readouterr()
    assert _run(monkeypatch, db_url, "user", "passwd", "zhaoliu", "--old-password-env", "WRONG",
                "--password-env", "NEW") == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert _run(monkeypatch, db_url, "user", "passwd", "zhaoliu", "--old-password-env", "TEMP",
                "--password-env", "NEW") == 0
    user = _user(db_factory, "zhaoliu")
    assert not user.must_change_password and verify_password(user.password_hash, "Qiu-Shui-Chang-Tian-8")
    # unknown user: exit 2 naming the field
    capsys.readouterr()
    assert _run(monkeypatch, db_url, "user", "disable", "nobody") == 2
    assert "username" in capsys.readouterr().err
    with db_factory() as s:
        actors = {(e.action, e.actor) for e in s.execute(select(AuditEvent).where(AuditEvent.action.like("user.%")))
                  .scalars()}
    assert {("user.disable", "cli:user-disable"), ("user.enable", "cli:user-enable"),
            ("user.roles", "cli:user-set-roles"), ("user.password_reset", "cli:user-reset-password"),
            ("user.password_change", "cli:user-passwd")} <= actors
