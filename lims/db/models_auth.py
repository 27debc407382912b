"""ORM models of the auth area (same metadata as lims.db.models)."""

from __future__ import annotations
