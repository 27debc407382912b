"""Database-level immutability: certified results, issued reports and the audit trail cannot be
changed by plain SQL either (PostgreSQL and SQLite triggers). Only the reporting life cycle
(certified → reported → superseded) may move a frozen row's status. On PostgreSQL ``TRUNCATE`` (which fires
no row trigger) of results, signatures or the audit trail is refused by statement triggers (0016)."""

from __future__ import annotations

_FROZEN = "('certified','reported','superseded')"
_ALLOWED = ("(OLD.status = 'certified' AND NEW.status IN ('reported','superseded')) "
            "OR (OLD.status = 'reported' AND NEW.status = 'superseded')")

RESULT_COLUMNS = (
    "id", "analysis_id", "version", "supersedes_id", "value", "value_text", "unit", "qualitative",
    "inhibition_percent", "lod", "loq", "expanded_uncertainty", "coverage_factor", "limit_id",
    "decision_rule", "verdict", "source", "reading_id", "curve_id", "manual_reason", "analyst_id",
    "reviewer_id", "approver_id", "created_at", "details",
)
REPORT_COLUMNS = (
    "id", "report_no", "version", "supersedes_id", "sample_id", "lang", "path", "file_sha256",
    "content_hash", "amendment_reason", "issued_at", "conclusion",
)


def _changed(columns: tuple[str, ...], dialect: str) -> str:
    if dialect == "postgresql":  # compared as text: json has no equality operator
        return " OR ".join(f"OLD.{c}::text IS DISTINCT FROM NEW.{c}::text" for c in columns)
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


def create_statements(dialect: str, result_columns: tuple[str, ...] = RESULT_COLUMNS,
                      report_columns: tuple[str, ...] = REPORT_COLUMNS) -> list[str]:
    """DDL of the triggers; migrations pass the column lists as they were at their revision."""
    if dialect == "postgresql":
        return [
            """CREATE OR REPLACE FUNCTION lims_forbid() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'lims: % on % is not allowed (%)', TG_OP, TG_TABLE_NAME, TG_ARGV[0]; END;
            $$ LANGUAGE plpgsql""",
            """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
            FOR EACH ROW EXECUTE FUNCTION lims_forbid('audit trail is append-only')""",
            f"""CREATE TRIGGER result_frozen_update BEFORE UPDATE ON result FOR EACH ROW
            WHEN (OLD.status IN {_FROZEN} AND (OLD.status IS DISTINCT FROM NEW.status AND NOT ({_ALLOWED})
                  OR {_changed(result_columns, dialect)}))
            EXECUTE FUNCTION lims_forbid('certified result is immutable')""",
            f"""CREATE TRIGGER result_frozen_delete BEFORE DELETE ON result FOR EACH ROW
            WHEN (OLD.status IN {_FROZEN}) EXECUTE FUNCTION lims_forbid('certified result is immutable')""",
            f"""CREATE TRIGGER report_issued_update BEFORE UPDATE ON report FOR EACH ROW
            WHEN (NEW.status <> 'superseded' OR {_changed(report_columns, dialect)})
            EXECUTE FUNCTION lims_forbid('issued report is immutable')""",
            """CREATE TRIGGER report_issued_delete BEFORE DELETE ON report FOR EACH ROW
            EXECUTE FUNCTION lims_forbid('issued report is immutable')""",
            *truncate_statements(dialect),
        ]
    return [
        """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
        BEGIN SELECT RAISE(ABORT, 'lims: audit trail is append-only'); END""",
        """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
        BEGIN SELECT RAISE(ABORT, 'lims: audit trail is append-only'); END""",
        f"""CREATE TRIGGER result_frozen_update BEFORE UPDATE ON result
        WHEN OLD.status IN {_FROZEN} AND ((OLD.status IS NOT NEW.status AND NOT ({_ALLOWED}))
             OR {_changed(result_columns, dialect)})
        BEGIN SELECT RAISE(ABORT, 'lims: certified result is immutable'); END""",
        f"""CREATE TRIGGER result_frozen_delete BEFORE DELETE ON result WHEN OLD.status IN {_FROZEN}
        BEGIN SELECT RAISE(ABORT, 'lims: certified result is immutable'); END""",
        f"""CREATE TRIGGER report_issued_update BEFORE UPDATE ON report
        WHEN NEW.status <> 'superseded' OR {_changed(report_columns, dialect)}
        BEGIN SELECT RAISE(ABORT, 'lims: issued report is immutable'); END""",
        """CREATE TRIGGER report_issued_delete BEFORE DELETE ON report
        BEGIN SELECT RAISE(ABORT, 'lims: issued report is immutable'); END""",
    ]


#: Tables whose rows a certificate rests on and that TRUNCATE must not empty (PostgreSQL).
NO_TRUNCATE = ("audit_event", "result", "signature", "report")


def truncate_statements(dialect: str) -> list[str]:
    """PostgreSQL: statement triggers refusing TRUNCATE (needs ``lims_forbid()``); SQLite has no TRUNCATE."""
    if dialect != "postgresql":
        return []
    return [f"""CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} FOR EACH STATEMENT
            EXECUTE FUNCTION lims_forbid('truncating {t} is not allowed')""" for t in NO_TRUNCATE]


def drop_truncate_statements(dialect: str) -> list[str]:
    if dialect != "postgresql":
        return []
    return [f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}" for t in NO_TRUNCATE]


def audit_update_statements(dialect: str, *, allow: bool) -> list[str]:
    """Drop (``allow``) or re-create the audit trail's no-UPDATE trigger (a documented redaction, 0016)."""
    if dialect == "postgresql":
        if allow:
            return ["DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event"]
        return ["""CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
            FOR EACH ROW EXECUTE FUNCTION lims_forbid('audit trail is append-only')"""]
    if allow:
        return ["DROP TRIGGER IF EXISTS audit_event_no_update"]
    return ["""CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
        BEGIN SELECT RAISE(ABORT, 'lims: audit trail is append-only'); END"""]


def drop_statements(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            *drop_truncate_statements(dialect),
            "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
            "DROP TRIGGER IF EXISTS result_frozen_update ON result",
            "DROP TRIGGER IF EXISTS result_frozen_delete ON result",
            "DROP TRIGGER IF EXISTS report_issued_update ON report",
            "DROP TRIGGER IF EXISTS report_issued_delete ON report",
            "DROP FUNCTION IF EXISTS lims_forbid()",
        ]
    return [f"DROP TRIGGER IF EXISTS {n}" for n in (
        "audit_event_no_update", "audit_event_no_delete", "result_frozen_update", "result_frozen_delete",
        "report_issued_update", "report_issued_delete")]
