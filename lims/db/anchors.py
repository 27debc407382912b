"""Signed checkpoints of the audit chain: the anchor it is verified against.

A hash chain proves that nothing *inside* it changed; with the database triggers dropped, cutting off its
tail or rewriting and re-chaining it still gives a valid chain. A checkpoint is the chain head — ``seq``
and ``hash`` — signed with the lab's Ed25519 key (the upstream key, ``LIMS_UPSTREAM_KEY``) and

* appended as one JSON line to an append-only anchor log beside the database (SQLite: ``<db file>.anchors``;
  any database: the path of ``LIMS_ANCHOR_LOG``), written after the transaction commits, and
* queued upstream in the same transaction (outbox message kind ``checkpoint``), so the hub keeps a copy.

Checkpoints are taken after every sign-off and report (``request_checkpoint`` by the service, written when
its unit of work commits) and by ``lims audit anchor``. ``lims audit verify`` checks the chain against the
newest anchor it can read — a line of the log or a checkpoint in the outbox (signed alike): a trail that ends
before the anchored seq was truncated; a different hash at that seq means the trail was re-chained. Every
signature is checked, so a forged line is named.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from lims.clock import utcnow
from lims.config import get_settings
from lims.db.audit import GENESIS_HASH, ChainCheck, canonical_json
from lims.db.models import AuditEvent, Lab, OutboxMessage

if TYPE_CHECKING:  # cryptography (6 MB) loads with the lab key, not with every process that audits
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_log = logging.getLogger(__name__)
CHECKPOINT_KIND = "checkpoint"
SCHEMA = "lims-audit-checkpoint/1"
_REQUESTED = "lims_checkpoint_requested"
_LINES = "lims_anchor_lines"


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    lab: str
    line: str  # the signed JSON line as written to the log
    log: Path | None


@dataclass(frozen=True)
class AnchorCheck:
    ok: bool
    message: str


# ------------------------------------------------------------------------- where, and with which key

def log_path(session: Session) -> Path | None:
    """``LIMS_ANCHOR_LOG``, else ``<database file>.anchors`` for SQLite, else None (not configured)."""
    configured = get_settings().anchor_log
    if configured is not None:
        return Path(configured)
    url = make_url(str(session.get_bind().url))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".anchors")
    return None


def key_path(session: Session) -> Path | None:
    """``LIMS_UPSTREAM_KEY``, else (SQLite) ``keys/lab_ed25519.pem`` beside the database, if it exists."""
    configured = get_settings().upstream_key
    if configured is not None:
        return Path(configured)
    url = make_url(str(session.get_bind().url))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        candidate = Path(url.database).parent / "keys" / "lab_ed25519.pem"
        return candidate if candidate.is_file() else None
    return None


def _load_key(path: Path | None) -> Ed25519PrivateKey | None:
    if path is None or not path.is_file():
        return None
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def fingerprint(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


# ------------------------------------------------------------------------------------- writing

def head(session: Session) -> tuple[int, str]:
    session.flush()
    last = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    return (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)


def checkpoint(session: Session, *, lab_code: str | None = None, queue: bool = True) -> Checkpoint | None:
    """Sign the chain head, queue it upstream (this transaction; ``queue=False``: the log only, e.g. after the
    day's delivery) and have the line appended to the anchor log when the transaction commits. None when no
    key is configured (nothing can be signed)."""
    key = _load_key(key_path(session))
    if key is None:
        return None
    seq, chain_hash = head(session)
    lab = lab_code or session.execute(select(Lab.code).order_by(Lab.id).limit(1)).scalar() \
        or get_settings().lab_code
    body = {"schema": SCHEMA, "lab": lab, "seq": seq, "hash": chain_hash,
            "at": utcnow().isoformat(timespec="seconds"), "key": fingerprint(key)}
    signature = base64.b64encode(key.sign(canonical_json(body).encode())).decode()
    line = canonical_json({**body, "sig": signature})
    if queue:
        session.add(OutboxMessage(kind=CHECKPOINT_KIND, idempotency_key=f"{lab}:checkpoint:{seq}", payload=line))
        session.flush()
    path = log_path(session)
    session.info.setdefault(_LINES, []).append((path, line))
    return Checkpoint(seq, chain_hash, body["at"], lab, line, path)


def request_checkpoint(session: Session, *, lab_code: str | None = None) -> None:
    """Ask for a checkpoint when this unit of work commits (after a sign-off or a report)."""
    session.info[_REQUESTED] = lab_code or session.info.get(_REQUESTED) or True


def _before_commit(session: Session) -> None:
    lab = session.info.pop(_REQUESTED, None)
    if lab:
        checkpoint(session, lab_code=lab if isinstance(lab, str) else None)


def _after_commit(session: Session) -> None:
    """The unit of work has committed: a log that cannot be written is reported, never an error for the
    request (the checkpoint is also in the outbox; ``lims audit anchor`` writes a new one)."""
    for path, line in session.info.pop(_LINES, []):
        if path is None:
            continue
        try:
            append_line(path, line)
        except OSError as exc:
            _log.error("audit checkpoint not written to the anchor log %s: %s", path, exc)


def _after_rollback(session: Session) -> None:
    session.info.pop(_LINES, None)
    session.info.pop(_REQUESTED, None)


def append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()


def install(session_class: type[Session] = Session) -> None:
    if not event.contains(session_class, "before_commit", _before_commit):
        event.listen(session_class, "before_commit", _before_commit)
        event.listen(session_class, "after_commit", _after_commit)
        event.listen(session_class, "after_soft_rollback", lambda s, _t: _after_rollback(s))


# ------------------------------------------------------------------------------------- checking

def _parse(sources: list[tuple[str, str]], key: Ed25519PrivateKey | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Checkpoints from (where, text) pairs, each signature checked when the lab key is known."""
    from cryptography.exceptions import InvalidSignature

    anchors: list[dict[str, Any]] = []
    problems: list[str] = []
    public = key.public_key() if key is not None else None
    for where, text in sources:
        try:
            record = json.loads(text)
            sig = base64.b64decode(record.pop("sig"))
            int(record["seq"]), str(record["hash"])
        except (ValueError, KeyError, TypeError, AttributeError):
            problems.append(f"{where} is not a checkpoint")
            continue
        if public is not None:
            try:
                public.verify(sig, canonical_json(record).encode())
            except InvalidSignature:
                problems.append(f"{where} (seq {record['seq']}): signature does not verify with the lab key "
                                "(forged or edited)")
                continue
        record["where"] = where
        anchors.append(record)
    return anchors, problems


def _sources(session: Session, path: Path | None) -> tuple[list[tuple[str, str]], list[str]]:
    """The anchor log's lines and the checkpoints queued in the outbox (signed alike: both are anchors)."""
    queued = [(f"outbox message {i}", payload) for i, payload in session.execute(
        select(OutboxMessage.id, OutboxMessage.payload).where(OutboxMessage.kind == CHECKPOINT_KIND)
        .order_by(OutboxMessage.id))]
    if path is None:
        return queued, []
    if not path.is_file():
        return queued, ([f"anchor log {path} is missing, but {len(queued)} checkpoints were taken"] if queued else [])
    lines = [(f"anchor log {path} line {n}", text)
             for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if text.strip()]
    return lines + queued, []


def check_against_chain(session: Session, chain: ChainCheck) -> AnchorCheck:
    """The chain against the newest readable anchor of the log and the outbox (see the module docstring)."""
    sources, problems = _sources(session, log_path(session))
    key = _load_key(key_path(session))
    anchors, bad = _parse(sources, key)
    problems += bad
    if problems:
        return AnchorCheck(False, problems[0])
    if not anchors:
        return AnchorCheck(True, "no checkpoint taken yet")
    newest = max(anchors, key=lambda a: int(a["seq"]))
    seq, at = int(newest["seq"]), newest.get("at", "?")
    signed = "signed" if key is not None else "signature not checked: no lab key configured"
    if chain.head_seq < seq:
        return AnchorCheck(False, f"audit trail truncated: the checkpoint of {at} ({newest['where']}, {signed}) "
                                  f"names seq {seq}, the trail ends at seq {chain.head_seq}")
    stored = session.execute(select(AuditEvent.hash).where(AuditEvent.seq == seq)).scalar_one_or_none()
    if stored != newest["hash"]:
        return AnchorCheck(False, f"audit trail re-chained: event seq {seq} does not carry the hash of the "
                                  f"checkpoint of {at} ({newest['where']}, {signed})")
    return AnchorCheck(True, f"anchored at seq {seq} ({at}, {signed}, {len(anchors)} checkpoints)")
