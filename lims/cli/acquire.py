"""`lims acquire` (CONTRACTS.md)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Not yet wired: the module owning this command adds its parser here."""
