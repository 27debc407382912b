"""Hub side of upstream delivery (province / ministry receiver).

Verifies the Ed25519 signature against the lab's registered key, validates the message against the
business rules (SSD2-style), de-duplicates by Idempotency-Key (same key + same payload → the stored
answer; same key + different payload → 422) and stores it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lims.db.models import HubLabKey, HubReceipt
from lims.upstream.schema import PROGRESS_SCHEMA, RESULTS_SCHEMA, MessageInvalid, validate_message
from lims.upstream.signing import SignatureInvalid, verify_request


@dataclass(frozen=True)
class HubAnswer:
    status_code: int
    body: dict[str, object]


def validate_payload(doc: dict) -> list[str]:  # type: ignore[type-arg]
    """SSD2-style business rules; returns the list of violations (empty when valid)."""
    problems: list[str] = []
    if isinstance(doc, dict) and doc.get("schema") == "lims-audit-checkpoint/1":  # signed audit checkpoint
        ok = isinstance(doc.get("seq"), int) and isinstance(doc.get("hash"), str) and bool(doc.get("sig"))
        return [] if ok else ["checkpoint: seq, hash and sig are required"]
    if isinstance(doc, dict) and doc.get("schema") in (RESULTS_SCHEMA, PROGRESS_SCHEMA):  # issue 14 schema
        try:
            validate_message(doc)
        except MessageInvalid as exc:
            return exc.problems
        return [f"results[{i}].{p}" for i, item in enumerate(doc.get("results", [])) for p in validate_payload(
            {"sample": doc["sample"], "analysis": item["analysis"], "result": item["result"],
             "evaluation": {"verdict": item["evaluation"]["code"]}})]
    try:
        res = doc["result"]
        ev = doc["evaluation"]
        ana = doc["analysis"]
        doc["sample"]["code"]
    except (KeyError, TypeError) as exc:
        return [f"missing section or field: {exc}"]
    lod, loq, value = res.get("lod"), res.get("loq"), res.get("value")
    if lod is not None and loq is not None and lod > loq:
        problems.append("result.lod: LOD must not exceed LOQ")
    rtype = res.get("resType")
    if rtype not in ("VAL", "LOQ", "LOD", "BIN"):
        problems.append(f"result.resType: unknown {rtype!r}")
    if rtype == "VAL":
        if value is None:
            problems.append("result.value: a VAL result carries a value")
        elif lod is not None and value < lod:
            problems.append("result.value: a VAL result must be ≥ LOD")
    if rtype in ("LOD", "LOQ") and value is not None:
        problems.append("result.value: an LOD/LOQ result carries no value")
    if ev.get("verdict") == "non_compliant" and ana.get("kind") != "confirmatory":
        problems.append("evaluation.verdict: non-compliant requires a confirmatory method")
    return problems


def accept_message(s: Session, body: bytes, headers: dict[str, str]) -> HubAnswer:
    h = {k.lower(): v for k, v in headers.items()}
    lab_code = h.get("x-lab-code", "")
    key_id = h.get("idempotency-key", "")
    if not lab_code or not key_id:
        return HubAnswer(400, {"detail": "X-Lab-Code and Idempotency-Key headers are required"})
    lab_key = s.execute(select(HubLabKey).where(HubLabKey.lab_code == lab_code)).scalar_one_or_none()
    if lab_key is None:
        return HubAnswer(401, {"detail": f"lab {lab_code} has no registered key"})
    try:
        verify_request(lab_key.public_key_pem, body, h)
    except SignatureInvalid as exc:
        return HubAnswer(401, {"detail": f"signature: {exc}"})
    digest = hashlib.sha256(body).hexdigest()
    existing = s.execute(select(HubReceipt).where(HubReceipt.lab_code == lab_code,
                                                  HubReceipt.idempotency_key == key_id)).scalar_one_or_none()
    if existing is not None:
        if existing.payload_sha256 == digest:
            return HubAnswer(200, {"receipt": existing.id, "duplicate": True})
        return HubAnswer(422, {"detail": "Idempotency-Key reused with a different payload"})
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return HubAnswer(400, {"detail": f"body is not JSON: {exc}"})
    problems = validate_payload(doc)
    if problems:
        return HubAnswer(422, {"detail": "; ".join(problems)})
    receipt = HubReceipt(lab_code=lab_code, idempotency_key=key_id, payload_sha256=digest,
                         payload=body.decode())
    s.add(receipt)
    try:
        s.flush()
    except IntegrityError:
        s.rollback()
        return HubAnswer(409, {"detail": "a request with this Idempotency-Key is in flight"})
    return HubAnswer(201, {"receipt": receipt.id, "duplicate": False})


def register_lab_key(s: Session, lab_code: str, public_key_pem: str) -> None:
    row = s.execute(select(HubLabKey).where(HubLabKey.lab_code == lab_code)).scalar_one_or_none()
    if row is None:
        s.add(HubLabKey(lab_code=lab_code, public_key_pem=public_key_pem))
    else:
        row.public_key_pem = public_key_pem
