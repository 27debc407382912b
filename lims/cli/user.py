"""`lims lab init` and `lims user create`: set up a real lab's first accounts (no default passwords).

The password is read from the terminal (twice), or from the environment variable named by
``--password-env`` for unattended installs; it is never taken as a command-line argument."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from lims.cli import user_admin
from lims.cli.common import BadInput, command_group
from lims.vocabulary import Role

# SQLAlchemy, lims.db and the services load inside the handlers when a command runs, not for `--help` (issue 17)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    init = command_group(sub, "lab", "实验室信息 / laboratory").add_parser("init", help="create this laboratory's record")
    init.add_argument("--code", required=True)
    init.add_argument("--name", required=True)
    init.add_argument("--address", required=True)
    init.add_argument("--region-code", required=True, help="GB/T 2260 code, six digits")
    init.add_argument("--cma-number", default="")
    init.set_defaults(handler=_lab_init)

    users = command_group(sub, "user", "用户管理 / user accounts")
    create = users.add_parser("create", help="create a user account")
    create.add_argument("username")
    create.add_argument("--full-name", required=True, help="printed in e-signatures")
    create.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    create.add_argument("--password-env", help="read the password from this environment variable")
    create.set_defaults(handler=_user_create)
    user_admin.register(users)  # disable | enable | reset-password | set-roles | passwd


def _factory():  # type: ignore[no-untyped-def]
    from lims.db import audit
    from lims.db.engine import make_engine, make_session_factory

    audit.install()
    return make_session_factory(make_engine())


def _lab_init(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from lims.db.engine import session_scope
    from lims.db.models import Lab
    from lims.services.lookup import find_by_code
    from lims.services.sampling import region_code_valid

    if not region_code_valid(args.region_code):
        raise BadInput(f"{args.region_code!r} is not a GB/T 2260 region code", field="--region-code")
    factory = _factory()
    with session_scope(factory, actor="cli:lab-init", reason="laboratory set-up") as s:
        lab = find_by_code(s, Lab, args.code)
        if lab is not None:  # the database's own laboratory: its details are set again (audited)
            lab.name, lab.address, lab.region_code = args.name, args.address, args.region_code
            if args.cma_number is not None:
                lab.cma_number = args.cma_number
            print(f"laboratory {args.code} updated")
            return 0
        existing = s.execute(select(Lab.code).order_by(Lab.id).limit(1)).scalar()
        if existing is not None:  # one laboratory per database (README "One laboratory per database")
            raise BadInput(f"this database already holds laboratory {existing}: one laboratory per database "
                           f"(records are not scoped by laboratory); give {args.code} its own database "
                           "(LIMS_DATABASE_URL)", field="--code")
        s.add(Lab(code=args.code, name=args.name, address=args.address, region_code=args.region_code,
                  cma_number=args.cma_number))
        from lims.services.limits import ensure_classification  # the commodity classification limits use

        ensure_classification(s)
    print(f"laboratory {args.code} created")
    return 0


def _user_create(args: argparse.Namespace) -> int:
    from lims.db.engine import session_scope
    from lims.services.auth import create_user
    from lims.services.errors import ServiceError

    if args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            raise BadInput(f"environment variable {args.password_env} is empty or unset", field="--password-env")
    else:
        if not sys.stdin.isatty():
            raise BadInput("no terminal to ask for the password; use --password-env", field="--password-env")
        password = getpass.getpass("密码 / password: ")
        if password != getpass.getpass("再次输入 / again: "):
            raise BadInput("the two passwords differ", field="password")
    factory = _factory()
    try:
        with session_scope(factory, actor="cli:user-create", reason="account set-up") as s:
            user = create_user(s, args.username, args.full_name, password, args.role)
            print(f"user {user.username} created with roles {', '.join(sorted(args.role))}")
    except ServiceError as e:
        raise BadInput(str(e), field=e.field) from None
    return 0
