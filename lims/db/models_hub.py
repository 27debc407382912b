"""ORM models of the hub (province / ministry receiver; same metadata as lims.db.models).

* ``hub_lab`` / ``hub_lab_key``: the lab registry (a lab may hold several keys: a rotation overlaps until the
  old key is retired).
* ``hub_receipt``: one row per accepted message, unpartitioned: it carries the global uniqueness of
  (signing lab, Idempotency-Key) that a partitioned table cannot (a PostgreSQL unique index on a partitioned
  table must contain the partition key).
* ``hub_message`` / ``hub_result``: the messages and their results, partitioned by month of ``received_at`` on
  PostgreSQL (migration 0019_hub); their primary keys carry ``received_at`` for that reason.
* ``hub_alert``: alerts raised by the rules of lims.hub.alerts.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lims.clock import utcnow
from lims.db.models import Base


class HubLab(Base):
    """A lab (or a lower hub that relays) registered on this hub, with the region it may report for."""

    __tablename__ = "hub_lab"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    #: GB/T 2260 code of the region the lab reports for ('' = any); trailing zero pairs widen it (330100: 3301*).
    region_code: Mapped[str] = mapped_column(String(6), default="")
    #: 'lab' (reports its own results) or 'hub' (relays the messages of labs of its region).
    kind: Mapped[str] = mapped_column(String(10), default="lab")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HubLabKey(Base):
    """A reporting lab's registered Ed25519 public key; several per lab during a rotation."""

    __tablename__ = "hub_lab_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    lab_code: Mapped[str] = mapped_column(String(40), index=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64), default="", server_default="")
    created_at: Mapped[dt.datetime | None] = mapped_column()
    retired_at: Mapped[dt.datetime | None] = mapped_column()
    __table_args__ = (UniqueConstraint("lab_code", "fingerprint", name="uq_hub_lab_key_fingerprint"),)


class HubReceipt(Base):
    """Hub side: one accepted upstream message, de-duplicated by (signing lab, Idempotency-Key).

    ``state`` is ``in_flight`` while the hub that claimed the key stores the message, then ``stored``."""

    __tablename__ = "hub_receipt"
    id: Mapped[int] = mapped_column(primary_key=True)
    lab_code: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(80))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    #: Kept for messages stored before 0019_hub; the payload now lives in hub_message.
    payload: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(12), default="stored", server_default="stored")
    claimed_at: Mapped[dt.datetime | None] = mapped_column()
    #: The lab the message is about (its body's lab; the signer when it relays for another lab).
    message_lab: Mapped[str] = mapped_column(String(40), default="", server_default="")
    schema: Mapped[str] = mapped_column(String(40), default="", server_default="")
    results: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    __table_args__ = (UniqueConstraint("lab_code", "idempotency_key"),
                      Index("ix_hub_receipt_message_lab", "message_lab", "received_at"))


class HubMessage(Base):
    """The stored message bytes (partitioned by month on PostgreSQL)."""

    __tablename__ = "hub_message"
    receipt_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    received_at: Mapped[dt.datetime] = mapped_column(primary_key=True)
    lab_code: Mapped[str] = mapped_column(String(40))
    schema: Mapped[str] = mapped_column(String(40))
    sample_code: Mapped[str | None] = mapped_column(String(60))
    payload: Mapped[str] = mapped_column(Text)


class HubResult(Base):
    """One result of a stored message, flattened for analytics (partitioned by month on PostgreSQL)."""

    __tablename__ = "hub_result"
    receipt_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    received_at: Mapped[dt.datetime] = mapped_column(primary_key=True)
    lab_code: Mapped[str] = mapped_column(String(40))
    result_id: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(12))
    supersedes: Mapped[int | None] = mapped_column(Integer)
    #: False once an amendment or retraction replaced it (only current results are counted).
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    sample_code: Mapped[str] = mapped_column(String(60))
    region_code: Mapped[str] = mapped_column(String(6))
    commodity: Mapped[str] = mapped_column(String(60))
    commodity_name: Mapped[str] = mapped_column(String(300), default="")
    analyte: Mapped[str] = mapped_column(String(60))
    analyte_name: Mapped[str] = mapped_column(String(300), default="")
    verdict: Mapped[str] = mapped_column(String(40))
    res_type: Mapped[str] = mapped_column(String(4))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    limit_value: Mapped[float | None] = mapped_column(Float)
    limit_type: Mapped[str] = mapped_column(String(20), default="")
    producer_code: Mapped[str] = mapped_column(String(80), default="")
    producer_name: Mapped[str] = mapped_column(String(300), default="")
    #: YYYY-MM of sampling (of receipt when the message gives no sampling time).
    month: Mapped[str] = mapped_column(String(7))
    __table_args__ = (Index("ix_hub_result_lab_result", "lab_code", "result_id"),
                      Index("ix_hub_result_month", "month", "region_code"))


class HubAlert(Base):
    """An alert raised by a rule (lims.hub.alerts), and whether its webhook was notified."""

    __tablename__ = "hub_alert"
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    rule: Mapped[str] = mapped_column(String(40))
    region_code: Mapped[str] = mapped_column(String(6), default="")
    lab_code: Mapped[str] = mapped_column(String(40), default="")
    subject: Mapped[str] = mapped_column(String(200))  # dedup key within a rule
    detail: Mapped[str] = mapped_column(Text, default="")
    notified_at: Mapped[dt.datetime | None] = mapped_column()
    notify_error: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (UniqueConstraint("rule", "subject", name="uq_hub_alert_subject"),)


class HubTask(Base):
    """A monitoring task (例行监测 plan etc.) this hub publishes to the labs below it (``GET /hub/v1/tasks``);
    ``notice`` is the canonical TaskNotice JSON (lims.upstream.schema)."""

    __tablename__ = "hub_task"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    notice: Mapped[str] = mapped_column(Text)
    published_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HubToken(Base):
    """A hub operator's bearer token for the read and registry API (``lims hub token create``); only its
    SHA-256 is stored; ``revoked_at`` set: it no longer authenticates."""

    __tablename__ = "hub_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
