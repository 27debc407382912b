"""Upstream delivery to the provincial/national hub through a transactional outbox.

The message is modelled on EFSA SSD2 semantics (sampling event, sample, analysis, result, evaluation)
with the Chinese identifiers (GB/T 2260 region, unified social credit code, 合格证/追溯码, task code).
Delivery signs the exact body bytes with Ed25519 in the manner of HTTP Message Signatures (RFC 9421:
``Content-Digest`` (RFC 9530), ``Signature-Input``, ``Signature``), sends an ``Idempotency-Key``,
retries with full-jitter exponential backoff (honouring 429/``Retry-After``) and parks messages that
cannot be delivered (non-retryable 4xx, or too many attempts) as ``dead`` for a person to re-queue.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import random
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session, sessionmaker

from calibration.quantify import round_gb8170
from drivers.transports.backoff import Backoff
from lims.clock import utcnow
from lims.db.audit import canonical_json
from lims.db.engine import session_scope
from lims.db.models import OutboxMessage, Result
from lims.services import reported
from lims.vocabulary import OutboxStatus
from lims.workflow import transition

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 300.0
MAX_ATTEMPTS = 12
SIGNED_COMPONENTS = ("content-digest", "idempotency-key", "x-lab-code")


# ---------------------------------------------------------------- message -----------------------

def _reported(r: Result) -> tuple[float | None, str | None, float | None]:
    """The value as reported (the method's precision, GB/T 8170), its text, and U to 2 significant figures
    (JCGM 100:2008 7.2.6); the database keeps full precision."""
    s = object_session(r)
    if s is None:
        return r.value, None, r.expanded_uncertainty
    text = reported.value_text(s, r) if reported.is_reported_number(r) else None
    u = r.expanded_uncertainty
    return reported.value_number(s, r), text, float(round_gb8170(u, figures=2)) if u else u


def result_payload(r: Result, *, lab_code: str) -> dict[str, object]:
    a = r.analysis
    value, value_text, u = _reported(r)
    sample = a.sample
    producer = sample.producer
    res_type = "VAL" if r.value is not None and r.unit != "%" else ("BIN" if r.qualitative else "LOD")
    return {
        "schema": "cn-agri-residue/1",
        "lab": {"code": lab_code},
        "samplingEvent": {"taskCode": sample.task_code, "samplingLink": sample.sampling_link,
                          "regionCode": sample.region_code, "place": sample.sampling_place,
                          "sampledAt": sample.sampled_at.isoformat() if sample.sampled_at else None},
        "sample": {"code": sample.code, "commodity": sample.commodity.code,
                   "certificateNo": sample.certificate_no or None, "traceCode": sample.trace_code or None,
                   "producer": ({"name": producer.name, "creditCode": producer.credit_code or None}
                                if producer else None)},
        "analysis": {"method": a.method.code, "standard": a.method.standard, "kind": a.kind},
        "result": {"id": r.id, "version": r.version, "supersedes": r.supersedes_id, "analyte": a.analyte.code,
                   "resType": res_type, "value": value, "valueText": value_text, "unit": r.unit,
                   "qualitative": r.qualitative or None, "lod": r.lod, "loq": r.loq, "expandedUncertainty": u},
        "evaluation": {"verdict": r.verdict, "decisionRule": r.decision_rule},
    }


def queue_result_message(s: Session, r: Result, *, lab_code: str) -> OutboxMessage:
    """Add the result's upstream message to the outbox (caller's transaction)."""
    payload = canonical_json(result_payload(r, lab_code=lab_code))
    msg = OutboxMessage(kind="result", idempotency_key=f"{lab_code}:result:{r.id}", payload=payload)
    s.add(msg)
    return msg


# ---------------------------------------------------------------- signing -----------------------

def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path}: not an Ed25519 private key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return key


def public_key_pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def signature_base(headers: dict[str, str], params: str) -> bytes:
    """RFC 9421 §2.5 signature base over the covered header fields."""
    lines = [f'"{name}": {headers[name]}' for name in SIGNED_COMPONENTS]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode()


def sign_request(key: Ed25519PrivateKey, body: bytes, *, lab_code: str, idempotency_key: str,
                 created: int | None = None) -> dict[str, str]:
    headers = {"content-digest": content_digest(body), "idempotency-key": idempotency_key,
               "x-lab-code": lab_code}
    covered = " ".join(f'"{c}"' for c in SIGNED_COMPONENTS)
    params = f'({covered});created={created or int(time.time())};keyid="{lab_code}";alg="ed25519"'
    sig = key.sign(signature_base(headers, params))
    headers["signature-input"] = f"sig1={params}"
    headers["signature"] = "sig1=:" + base64.b64encode(sig).decode() + ":"
    headers["content-type"] = "application/json"
    return headers


class SignatureInvalid(ValueError):
    pass


def verify_request(public_pem: str, body: bytes, headers: dict[str, str]) -> None:
    """Hub side: check digest and Ed25519 signature; raise SignatureInvalid naming what failed."""
    h = {k.lower(): v for k, v in headers.items()}
    for name in (*SIGNED_COMPONENTS, "signature-input", "signature"):
        if name not in h:
            raise SignatureInvalid(f"missing header {name}")
    if h["content-digest"] != content_digest(body):
        raise SignatureInvalid("content-digest does not match the body")
    sig_input = h["signature-input"]
    if not sig_input.startswith("sig1="):
        raise SignatureInvalid("signature-input: expected label sig1")
    params = sig_input[len("sig1="):]
    sig_field = h["signature"]
    if not (sig_field.startswith("sig1=:") and sig_field.endswith(":")):
        raise SignatureInvalid("signature: malformed")
    try:
        sig = base64.b64decode(sig_field[len("sig1=:"):-1], validate=True)
        key = serialization.load_pem_public_key(public_pem.encode())
    except ValueError as exc:
        raise SignatureInvalid(f"signature or key malformed: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureInvalid("registered key is not Ed25519")
    try:
        key.verify(sig, signature_base(h, params))
    except Exception:  # noqa: BLE001 - cryptography raises InvalidSignature
        raise SignatureInvalid("Ed25519 signature does not verify") from None


# ---------------------------------------------------------------- delivery ----------------------

def full_jitter_delay(attempt: int, *, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S,
                      rng: random.Random | None = None) -> float:
    """sleep = random(0, min(cap, base · 2^attempt)) (AWS "full jitter"; the drivers' reconnect policy)."""
    return Backoff(base_s=base, cap_s=cap, factor=2.0).delay(attempt, rng)


@dataclass
class DeliveryStats:
    delivered: int = 0
    retried: int = 0
    dead: int = 0


def deliver_due(factory: sessionmaker[Session], client: httpx.Client, key: Ed25519PrivateKey, *,
                hub_url: str, lab_code: str, limit: int = 100) -> DeliveryStats:
    """One pass of the delivery worker over due pending messages."""
    stats = DeliveryStats()
    now = utcnow()
    with factory() as s:
        due = s.execute(select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.PENDING,
                                                       OutboxMessage.next_attempt_at <= now)
                        .order_by(OutboxMessage.id).limit(limit)).scalars().all()
    for msg_id in due:
        with session_scope(factory, actor="worker:upstream") as s:
            msg = s.get(OutboxMessage, msg_id)
            if msg is None or msg.status != OutboxStatus.PENDING:
                continue
            body = msg.payload.encode()
            headers = sign_request(key, body, lab_code=lab_code, idempotency_key=msg.idempotency_key)
            msg.attempts += 1
            retry_after: float | None = None
            try:
                resp = client.post(f"{hub_url.rstrip('/')}/hub/v1/messages", content=body, headers=headers)
                code = resp.status_code
                detail = resp.text[:500]
                if code == 429 and resp.headers.get("retry-after", "").isdigit():
                    retry_after = float(resp.headers["retry-after"])
            except httpx.HTTPError as exc:
                code, detail = 0, f"{type(exc).__name__}: {exc}"
            if 200 <= code < 300:
                transition(msg, OutboxStatus.DELIVERED)
                msg.delivered_at = utcnow()
                msg.last_error = ""
                stats.delivered += 1
            elif code in (0, 408, 409, 425, 429) or code >= 500:
                if msg.attempts >= MAX_ATTEMPTS:
                    transition(msg, OutboxStatus.DEAD)
                    stats.dead += 1
                else:
                    delay = retry_after if retry_after is not None else full_jitter_delay(msg.attempts)
                    msg.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
                    stats.retried += 1
                msg.last_error = f"HTTP {code}: {detail}" if code else detail
            else:
                transition(msg, OutboxStatus.DEAD)
                msg.last_error = f"HTTP {code}: {detail}"
                stats.dead += 1
    return stats


def requeue(factory: sessionmaker[Session], message_id: int, *, actor: str, reason: str) -> None:
    """A person re-queues a dead-lettered message."""
    with session_scope(factory, actor=actor, reason=reason) as s:
        msg = s.get(OutboxMessage, message_id)
        if msg is None or msg.status != OutboxStatus.DEAD:
            raise ValueError(f"outbox message {message_id} is not dead-lettered")
        transition(msg, OutboxStatus.PENDING)
        msg.next_attempt_at = utcnow()
