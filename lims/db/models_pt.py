"""ORM models of the pt area (same metadata as lims.db.models)."""

from __future__ import annotations
