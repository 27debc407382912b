"""ORM models of the system around the lab's records (same metadata as lims.db.models): the hash-chained
audit trail, the upstream outbox, the hub's registered keys and receipts, API tokens and failed logins."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lims.clock import utcnow
from lims.db.models import Base
from lims.vocabulary import OutboxStatus


class AuditEvent(Base):
    """Append-only, hash-chained audit trail (21 CFR 11.10(e); ISO/IEC 17025 7.5)."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[str] = mapped_column(String(40))  # ISO-8601 with offset, hashed as written
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(20))  # AuditAction
    table_name: Mapped[str] = mapped_column(String(60))
    record_id: Mapped[str] = mapped_column(String(60))
    old: Mapped[str] = mapped_column(Text, default="")  # canonical JSON
    new: Mapped[str] = mapped_column(Text, default="")  # canonical JSON
    reason: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class OutboxMessage(Base):
    """Transactional outbox: queued in the same transaction that certified the result."""

    __tablename__ = "outbox_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, signed as bytes
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.PENDING)  # OutboxStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column()
    #: The sample whose results the message carries (per-sample ordering); None for checkpoints (0017_upstream).
    sample_code: Mapped[str | None] = mapped_column(String(60))
    #: The hub's receipt id once delivered (0017_upstream).
    receipt_id: Mapped[str] = mapped_column(String(80), default="", server_default="")
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      Index("ix_outbox_sample", "sample_code", "id"))


class OutboxItem(Base):
    """Which results an outbox message carries (a message batches one sample's results), so each result's
    delivery state can be read (0017_upstream)."""

    __tablename__ = "outbox_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id"))
    result_id: Mapped[int] = mapped_column(ForeignKey("result.id"), index=True)
    __table_args__ = (UniqueConstraint("message_id", "result_id"),)


class ApiToken(Base):
    """UI session, API bearer token or instrument/hub API key; only the SHA-256 is stored."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(20))  # session | bearer | api_key
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120), default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LoginFailure(Base):
    """Failed password checks (logins and e-signatures), written in batches off the request path
    (lims.services.throttle); the throttle itself runs in memory."""

    __tablename__ = "login_failure"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    remote: Mapped[str] = mapped_column(String(60), default="")
    #: ``login`` or ``signature`` (an e-signature's re-entered password; 0014_account_lifecycle).
    purpose: Mapped[str] = mapped_column(String(20), default="login", server_default="login")


class AuthGeneration(Base):
    """One row: a counter raised by every revocation, disabled account, role or password change, so each
    API worker drops the principals it cached as soon as it sees the counter move (0014_account_lifecycle)."""

    __tablename__ = "auth_generation"
    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)


class AuditVerifyRun(Base):
    """One run of the audit-trail verification, started in the background (api/audit_jobs.py); the newest
    finished run is what ``GET /api/v1/audit/verify`` answers, with its time (0015_pt_accounts_verify_runs)."""

    __tablename__ = "audit_verify_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(60))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), index=True)  # running | done | failed
    ok: Mapped[bool | None] = mapped_column(Boolean)
    audit_events: Mapped[int | None] = mapped_column(Integer)
    certified_records: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text, default="")
