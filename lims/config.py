"""One settings class for the whole product (environment variables prefixed ``LIMS_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/lims.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIMS_", extra="ignore")

    #: The database: embedded SQLite (WAL) by default; production ``postgresql+psycopg://user@host/db``.
    database_url: str = DEFAULT_DATABASE_URL
    #: Database of the hub mode (`lims hub serve`); the main database when unset.
    hub_database_url: str | None = None
    #: Path of a CJK TrueType font (.ttf/.ttc) for reports; found automatically when unset.
    cjk_font: Path | None = None
    #: Hub mode (lims/hub): seconds a request signature's ``created`` may lie from the hub's clock; seconds an
    #: in-flight claim of an Idempotency-Key holds before another hub process may take it over.
    hub_signature_window_s: int = 300
    hub_claim_stale_s: float = 60.0
    #: Hub mode, relay upward: this hub's code at the next level, its Ed25519 key (PEM) and the next hub's URL
    #: (unset: no relay). A hub can be both receiver and sender (county → city/province → ministry).
    hub_code: str = "HUB"
    hub_key: Path | None = None
    hub_relay_url: str | None = None
    #: Hub mode, alerts: webhook of the responsible level (POSTed JSON), the non-compliant rate that raises an
    #: alert per region × commodity × month once at least ``hub_alert_min_tested`` were tested, and the number
    #: of non-compliant results of one producer that raise one.
    hub_alert_webhook: str | None = None
    hub_alert_rate: float = 0.05
    hub_alert_min_tested: int = 20
    hub_alert_repeat: int = 2
    #: This lab's code as registered upstream (GB/T 2260 region + lab number).
    lab_code: str = "LAB-DEMO"
    #: Folder for generated reports.
    report_dir: Path = Path("var/reports")
    #: Folder for controlled documents' files (one file per version, named by its SHA-256; ``lims backup``).
    documents_dir: Path = Path("var/documents")
    #: Folder for quality evidence files and instruments' calibration certificates (one file each, named by its
    #: SHA-256; ``lims backup``). Unset: ``quality-evidence`` in the folder that holds ``LIMS_REPORT_DIR``
    #: (default ``var/quality-evidence``), where earlier versions kept evidence: an existing install keeps it.
    evidence_dir: Path | None = None
    #: The lab's public base URL (e.g. ``https://jc.example.gov.cn``): reports print ``{public_url}/verify/
    #: {report_no}`` and carry it in their QR code, so anyone can check a report outside the lab PC. Unset:
    #: the QR code carries the report number and hash only, and no address is printed.
    public_url: str | None = None
    #: Objection period printed on reports (复检): working days for laboratory results, hours for rapid
    #: tests (《农产品质量安全法》 2022; citation and status in lims/reports/statements.py).
    objection_working_days: int = 5
    objection_rapid_hours: int = 4
    #: Seconds an API worker keeps a token it verified (0: look it up on every request). Every request still
    #: reads the revocation counter (lims.services.revocation), so a revocation, disabled account or role
    #: change made in any worker applies at the next request everywhere.
    auth_cache_seconds: float = 5.0
    #: Threads per API worker process running requests (database work). Few threads queue requests in
    #: arrival order; many threads contend for the GIL and stretch the slowest requests.
    api_threads: int = 4
    #: Minutes a UI session stays valid.
    session_minutes: int = 480
    #: argon2id cost (defaults: argon2-cffi's, RFC 9106 second recommended option).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    #: Failed logins allowed per account and client address before the backoff waits start
    #: (lims.services.throttle: the address alone gets twice as many, the account from anywhere four times).
    login_max_failures: int = 5
    #: The lab's Ed25519 private key (PEM) that signs upstream messages and audit checkpoints.
    upstream_key: Path | None = None
    #: The hub's base URL (``lims upstream run``; ``lims serve`` runs the delivery worker when it is set).
    upstream_url: str | None = None
    #: Seconds a request to the hub may take. A worker leases each message it holds for this + 5 s, renewed
    #: before each request (lims/upstream/delivery.py), so after a worker is killed its messages are due again
    #: at most that much later.
    upstream_timeout_s: float = 30.0
    #: Append-only log of signed audit checkpoints; unset: ``<database file>.anchors`` for SQLite, none
    #: otherwise (lims/db/anchors.py).
    anchor_log: Path | None = None
    #: Largest request body (bytes) of a JSON or form request; larger ones get 413 (api/input_guard.py).
    max_body_bytes: int = 1_048_576
    #: Largest request body (bytes) of a CSV/file upload route (PT results CSV, limits import, hub messages).
    max_upload_bytes: int = 16_777_216
    #: Problems listed at most in a validation error answer (the total is given beside them).
    max_problems: int = 20
    #: Log lines: ``json`` (one JSON object a line, with the request ID) or ``text`` (lims/ops/logs.py).
    log_format: Literal["json", "text"] = "json"
    #: Lowest level logged (DEBUG, INFO, WARNING, ERROR).
    log_level: str = "INFO"
    #: Bearer token that opens ``/metrics``; unset: ``/metrics`` answers loopback clients only (api/ops.py).
    metrics_token: str | None = None
    #: ``/ready`` fails when the oldest pending upstream message is older than this (seconds; 0: not checked).
    ready_outbox_max_age_s: float = 3600.0
    #: Where ``lims audit verify`` records its last outcome (read by ``/metrics``); unset: ``var/audit-verify.json``.
    audit_status_file: Path = Path("var/audit-verify.json")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
