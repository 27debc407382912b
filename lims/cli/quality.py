"""`lims quality …`: nonconformities and CAPA, audits (lims/quality/)."""

from __future__ import annotations

import argparse

from lims.cli.common import command_group


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command_group(sub, "quality", "质量体系 / quality system")
