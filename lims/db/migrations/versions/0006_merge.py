"""Merge the PT, acquisition and lifecycle branches into one head.

Revision ID: 0006_merge
Revises: 0002_pt, 0004_acq, 0005_lifecycle
"""

from __future__ import annotations

revision = "0006_merge"
down_revision = ("0002_pt", "0004_acq", "0005_lifecycle")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
