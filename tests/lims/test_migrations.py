"""Migrations build exactly the ORM schema, on SQLite and PostgreSQL, and install the triggers."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from lims.db.migrate import current_revisions, head_revisions
from lims.db.models import Base, Report, Result
from lims.db.triggers import REPORT_COLUMNS, RESULT_COLUMNS
from lims.hub.partitions import is_partition_child


def test_upgrade_reaches_head_and_matches_models(db_engine):
    assert current_revisions(db_engine) == head_revisions()
    with db_engine.connect() as conn:
        # the hub's monthly partitions (PostgreSQL) are children of tables the models declare
        opts = {"include_name": lambda name, kind, _p: kind != "table" or not is_partition_child(name)}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    assert diff == []
    assert set(inspect(db_engine).get_table_names()) >= set(Base.metadata.tables)


def test_trigger_column_lists_cover_every_frozen_column():
    # A new column on result/report must be added to the immutability triggers (in a new migration).
    assert set(RESULT_COLUMNS) | {"status"} == {c.name for c in Result.__table__.columns}
    assert set(REPORT_COLUMNS) | {"status"} == {c.name for c in Report.__table__.columns}
