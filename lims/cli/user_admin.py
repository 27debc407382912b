"""`lims user disable|enable|reset-password|set-roles|passwd`: the account life cycle at the server's
console (lims.services.accounts; every change audited as ``cli:user-ACTION``, the administrator being
whoever holds the database).

Passwords are read from the terminal (twice for a new one) or from the environment variables named by
``--password-env`` / ``--old-password-env``; never from the command line. Exit 0 on success, 2 with one
line naming the field for input the user can fix (unknown user, weak password, unknown role)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from lims.cli.common import BadInput
from lims.vocabulary import Role

if TYPE_CHECKING:  # SQLAlchemy and the services load when the command runs, not for `--help` (issue 17)
    from sqlalchemy.orm import Session

    from lims.db.models import User


def register(users: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = users.add_parser("disable", help="停用账户 / disable an account (its tokens end at once)")
    p.add_argument("username")
    p.add_argument("--reason", default="", help="kept in the audit trail")
    p.set_defaults(handler=_disable)
    p = users.add_parser("enable", help="启用账户 / enable an account")
    p.add_argument("username")
    p.set_defaults(handler=_enable)
    p = users.add_parser("reset-password", help="重置密码 / set a temporary password, changed at the next login")
    p.add_argument("username")
    p.add_argument("--password-env", help="read the temporary password from this environment variable")
    p.set_defaults(handler=_reset)
    p = users.add_parser("set-roles", help="设置角色 / replace an account's roles")
    p.add_argument("username")
    p.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    p.set_defaults(handler=_set_roles)
    p = users.add_parser("passwd", help="修改本人密码 / change your password (the old one is asked)")
    p.add_argument("username")
    p.add_argument("--old-password-env", help="read the current password from this environment variable")
    p.add_argument("--password-env", help="read the new password from this environment variable")
    p.set_defaults(handler=_passwd)


def _password(env: str | None, prompt: str, *, twice: bool, option: str = "--password-env") -> str:
    if env:
        value = os.environ.get(env)
        if not value:
            raise BadInput(f"environment variable {env} is empty or unset", field=option)
        return value
    if not sys.stdin.isatty():
        raise BadInput(f"no terminal to ask for the password; use {option}", field=option)
    value = getpass.getpass(prompt)
    if twice and value != getpass.getpass("再次输入 / again: "):
        raise BadInput("the two passwords differ", field="password")
    return value


def _run(action: str, username: str, change: Callable[[Session, User], str]) -> int:
    from lims.db import audit
    from lims.db.engine import make_engine, make_session_factory, session_scope
    from lims.security import AuthenticationError
    from lims.services import accounts
    from lims.services.errors import ServiceError

    audit.install()
    factory = make_session_factory(make_engine())
    try:
        with session_scope(factory, actor=f"cli:user-{action}", reason=f"{action} {username} (console)") as s:
            print(change(s, accounts.get_user(s, username)))
    except ServiceError as e:
        raise BadInput(str(e), field=e.field) from None
    except AuthenticationError as e:
        raise BadInput(str(e), field="password") from None
    return 0


def _disable(args: argparse.Namespace) -> int:
    from lims.services import accounts

    def go(s: Session, user: User) -> str:
        accounts.set_active(s, None, user, False, reason=args.reason)
        return f"user {user.username} disabled; every session and token of it revoked"
    return _run("disable", args.username, go)


def _enable(args: argparse.Namespace) -> int:
    from lims.services import accounts

    def go(s: Session, user: User) -> str:
        accounts.set_active(s, None, user, True)
        return f"user {user.username} enabled"
    return _run("enable", args.username, go)


def _reset(args: argparse.Namespace) -> int:
    from lims.services import accounts

    password = _password(args.password_env, "临时密码 / temporary password: ", twice=True)

    def go(s: Session, user: User) -> str:
        accounts.reset_password(s, None, user, password)
        return f"password of {user.username} reset; it must be changed at the next login"
    return _run("reset-password", args.username, go)


def _set_roles(args: argparse.Namespace) -> int:
    from lims.services import accounts

    def go(s: Session, user: User) -> str:
        roles = accounts.set_roles(s, None, user, args.role)
        return f"user {user.username} now holds: {', '.join(roles)}"
    return _run("set-roles", args.username, go)


def _passwd(args: argparse.Namespace) -> int:
    from lims.services import auth

    old = _password(args.old_password_env, "当前密码 / current password: ", twice=False,
                    option="--old-password-env")
    new = _password(args.password_env, "新密码 / new password: ", twice=True)

    def go(s: Session, user: User) -> str:
        auth.change_own_password(s, user, old, new, remote="console")
        return f"password of {user.username} changed; its other sessions and tokens revoked"
    return _run("passwd", args.username, go)
