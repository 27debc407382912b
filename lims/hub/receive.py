"""The receiver: ``POST /hub/v1/messages``.

Order of checks (each refusal an RFC 9457 problem naming its ``rule``, never a 500):

1. headers ``X-Lab-Code`` and ``Idempotency-Key`` (400 ``headers``);
2. the signing lab is registered and holds a key that is not retired (401 ``signature.unknown_lab``), the
   signature's ``created`` lies within ±``LIMS_HUB_SIGNATURE_WINDOW_S`` of the hub's clock (401
   ``signature.stale``) and one of its keys verifies the exact body bytes (401 ``signature.invalid``);
3. a stored message with the same (signing lab, Idempotency-Key): same digest → the stored receipt (200), other
   digest → 422 ``idempotency.key_reused``;
4. JSON (NaN/Infinity refused), schema (lims.upstream.schema), the body's lab is the signing lab (403
   ``lab.mismatch``; a registered hub of kind ``hub`` relays for the labs of its region), the allowed region
   (403 ``lab.region``), business rules (422, lims.hub.rules);
5. the claim: an insert-first row in ``hub_receipt`` under the unique (lab, key) committed as ``in_flight``,
   so two hub processes racing on one PostgreSQL store once (the loser sees the claim: 409
   ``idempotency.in_flight`` with Retry-After, or the stored receipt once it is stored); a claim older than
   ``LIMS_HUB_CLAIM_STALE_S`` (its hub died) is taken over;
6. the store (lims.hub.store) in a second unit of work; if it fails the claim is released (503).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lims.clock import as_utc, utcnow
from lims.config import Settings
from lims.db.models import HubReceipt
from lims.hub import registry, rules, store
from lims.hub.rules import Problem, Refused
from lims.upstream.schema import CheckpointMessage, ResultBatch, TaskProgress, Wire
from lims.upstream.signing import SignatureInvalid, verify_request

log = logging.getLogger(__name__)
_CREATED = re.compile(r";created=(\d+)")


@dataclass(frozen=True)
class HubAnswer:
    status_code: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def media_type(self) -> str:
        return "application/problem+json" if self.status_code >= 400 else "application/json"


def refusal(problem: Problem, headers: dict[str, str] | None = None) -> HubAnswer:
    return HubAnswer(problem.status, problem.body(), headers or {})


@dataclass(frozen=True)
class Signed:
    """A request whose signature verified."""

    signer: str
    kind: str
    allowed_region: str
    key: str
    digest: str


def _authenticate(s: Session, body: bytes, h: dict[str, str], window_s: int, now: dt.datetime) -> Signed:
    signer, key = h.get("x-lab-code", ""), h.get("idempotency-key", "")
    if not signer or not key or len(key) > 80:
        raise Refused(Problem(400, "headers", "缺少请求头 / required headers missing",
                              "X-Lab-Code and Idempotency-Key (at most 80 characters) are required"))
    lab, pems = registry.lab_and_keys(s, signer)
    if not pems:
        raise Refused(Problem(401, "signature.unknown_lab", "未登记的机构 / lab not registered",
                              f"lab {signer} has no registered key that is not retired"))
    created = _CREATED.search(h.get("signature-input", ""))
    if created is None:
        raise Refused(Problem(401, "signature.invalid", "签名无效 / signature invalid",
                              "signature-input carries no created parameter"))
    skew = now.timestamp() - int(created.group(1))
    if abs(skew) > window_s:
        raise Refused(Problem(401, "signature.stale", "签名已过期 / signature outside its time window",
                              f"signature created {int(skew)} s from the hub's clock; allowed ±{window_s} s"))
    last = ""
    for pem in pems:
        try:
            verify_request(pem, body, h)
            break
        except SignatureInvalid as exc:
            last = str(exc)
    else:
        raise Refused(Problem(401, "signature.invalid", "签名无效 / signature invalid",
                              f"no registered key of {signer} verifies: {last}"))
    return Signed(signer, lab.kind if lab else "lab", lab.region_code if lab else "", key,
                  hashlib.sha256(body).hexdigest())


def authenticate(s: Session, body: bytes, headers: dict[str, str], settings: Settings) -> Signed:
    """A signed request other than a message (reconcile): Refused when it does not verify."""
    return _authenticate(s, body, {k.lower(): v for k, v in headers.items()}, settings.hub_signature_window_s,
                         utcnow())


def message_lab(msg: Wire) -> str:
    if isinstance(msg, ResultBatch):
        return msg.lab.code
    if isinstance(msg, (CheckpointMessage, TaskProgress)):
        return msg.lab
    return ""


def _check_lab(signed: Signed, msg: Wire) -> None:
    lab = message_lab(msg)
    if lab != signed.signer and signed.kind != "hub":
        raise Refused(Problem(403, "lab.mismatch", "报文机构与签名机构不一致 / body names another lab",
                              f"the body's lab {lab!r} is not the signing lab {signed.signer!r}", "/lab"))
    if isinstance(msg, ResultBatch):
        for where, region in (("/lab/regionCode", msg.lab.region_code),
                              ("/samplingEvent/regionCode", msg.sampling_event.region_code)):
            if not registry.region_allowed(signed.allowed_region, region):
                raise Refused(Problem(403, "lab.region", "超出登记的行政区域 / region not allowed",
                                      f"region {region} is outside {signed.allowed_region}, the region "
                                      f"{signed.signer} is registered for", where))


def _receipt_body(row: Any, duplicate: bool) -> dict[str, Any]:
    return {"receipt": row.id, "duplicate": duplicate, "receivedAt": as_utc(row.received_at).isoformat(),
            "digest": f"sha-256:{row.payload_sha256}", "lab": row.message_lab or row.lab_code}


def _existing(s: Session, signed: Signed, now: dt.datetime, stale_s: float) -> HubAnswer | None:
    row = s.execute(select(HubReceipt.__table__).where(HubReceipt.lab_code == signed.signer,
                                                       HubReceipt.idempotency_key == signed.key)).first()
    if row is None:
        return None
    if row.payload_sha256 != signed.digest:
        return refusal(Problem(422, "idempotency.key_reused", "幂等键已用于其他报文 / Idempotency-Key reused",
                               f"Idempotency-Key {signed.key} was used with another payload "
                               f"(receipt {row.id}); a corrected message needs a new key"))
    if row.state == "stored":
        return HubAnswer(200, _receipt_body(row, True))
    if row.claimed_at is not None and (now - as_utc(row.claimed_at)).total_seconds() > stale_s:
        return None  # its hub died: the claim is taken over
    return refusal(Problem(409, "idempotency.in_flight", "报文正在处理 / message in flight",
                           f"a request with Idempotency-Key {signed.key} is being stored; retry"),
                   {"Retry-After": "1"})


def _claim(s: Session, signed: Signed, lab: str, schema: str, now: dt.datetime, stale_s: float) -> int | None:
    """Insert-first claim; the receipt id, or None when another request holds or stored the key."""
    t = HubReceipt.__table__
    ins = (pg_insert(t) if s.get_bind().dialect.name == "postgresql" else sqlite_insert(t)).values(
        lab_code=signed.signer, idempotency_key=signed.key, payload_sha256=signed.digest, received_at=now,
        state="in_flight", claimed_at=now, message_lab=lab, schema=schema, results=0)
    got = s.execute(ins.on_conflict_do_nothing(index_elements=["lab_code", "idempotency_key"])
                    .returning(t.c.id)).scalar()
    if got is not None:
        return int(got)
    takeover = (update(t).where(t.c.lab_code == signed.signer, t.c.idempotency_key == signed.key,
                                t.c.state == "in_flight", t.c.payload_sha256 == signed.digest,
                                t.c.claimed_at < now - dt.timedelta(seconds=stale_s))
                .values(claimed_at=now, received_at=now).returning(t.c.id))
    got = s.execute(takeover).scalar()
    return None if got is None else int(got)


def _validate(reader: sessionmaker[Session], body: bytes, signed: Signed) -> Wire:
    msg = rules.validate_schema(rules.parse_json(body))
    _check_lab(signed, msg)
    if isinstance(msg, ResultBatch):
        rules.check_business(msg)
    if isinstance(msg, CheckpointMessage):
        with reader() as s:
            pem = registry.key_by_fingerprint(s, msg.lab, msg.key)
        if pem is not None and not rules.checkpoint_signature_ok(pem, msg):
            raise Refused(Problem(422, "checkpoint.signature", "审计链检查点签名无效 / checkpoint signature invalid",
                                  f"the checkpoint of seq {msg.seq} is not signed by key {msg.key} of {msg.lab}",
                                  "/sig"))
    return msg


def receive(factory: sessionmaker[Session], body: bytes, headers: dict[str, str],
            settings: Settings | None = None) -> HubAnswer:
    """Verify, validate, claim and store one message; the answer (receipt or problem)."""
    settings = settings or Settings()
    h = {k.lower(): v for k, v in headers.items()}
    now = utcnow()
    reader = getattr(factory, "read", factory)  # read-only, autocommit on PostgreSQL: no BEGIN/ROLLBACK
    try:
        with reader() as s:
            signed = _authenticate(s, body, h, settings.hub_signature_window_s, now)
            known = _existing(s, signed, now, settings.hub_claim_stale_s)
        if known is not None:
            return known
        msg = _validate(reader, body, signed)
    except Refused as exc:
        return refusal(exc.problem)
    lab = message_lab(msg) or signed.signer
    with factory() as s:  # the claim is its own unit of work: visible to every other hub process at once
        receipt_id = _claim(s, signed, lab, str(getattr(msg, "schema_", "")), now, settings.hub_claim_stale_s)
        s.commit()
    if receipt_id is None:
        with reader() as s:
            return _existing(s, signed, now, settings.hub_claim_stale_s) or refusal(Problem(
                409, "idempotency.in_flight", "报文正在处理 / message in flight", "retry", ""), {"Retry-After": "1"})
    return _store(factory, receipt_id, now, signed, lab, body, msg, settings)


def _store(factory: sessionmaker[Session], receipt_id: int, now: dt.datetime, signed: Signed, lab: str,
           body: bytes, msg: Wire, settings: Settings) -> HubAnswer:
    try:
        with factory() as s:
            new_alerts = store.store_message(s, receipt_id=receipt_id, received_at=now, lab=lab, signer=signed.signer,
                                             idempotency_key=signed.key, body=body, msg=msg, settings=settings)
            s.commit()
    except SQLAlchemyError as exc:
        log.exception("hub store failed; claim %s released", receipt_id)
        with factory() as s:
            s.execute(delete(HubReceipt.__table__).where(HubReceipt.id == receipt_id,
                                                         HubReceipt.state == "in_flight"))
            s.commit()
        return refusal(Problem(503, "hub.store_failed", "暂时无法保存 / could not store, retry",
                               f"{type(exc).__name__}"), {"Retry-After": "5"})
    if new_alerts:
        store.notify_async(factory, settings)
    return HubAnswer(201, {"receipt": receipt_id, "duplicate": False, "receivedAt": now.isoformat(),
                           "digest": f"sha-256:{signed.digest}", "lab": lab})
