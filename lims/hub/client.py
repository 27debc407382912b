"""Lab side of reconciliation (``lims upstream reconcile``): ask the hub which of this lab's delivered
messages it holds (``POST {hub}/hub/v1/reconcile``, signed like a message) and re-send the missing ones at
once (the hub is idempotent, so a message it already holds costs nothing). The outbox status stays
``delivered``; the new receipt id is recorded on the message.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lims.db.engine import session_scope
from lims.db.models import OutboxMessage
from lims.upstream.delivery import hub_reason, receipt_of
from lims.upstream.signing import sign_request
from lims.vocabulary import OutboxStatus

CHUNK = 1000


@dataclass
class ReconcileOutcome:
    asked: int = 0
    held: int = 0
    missing: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def ask(client: httpx.Client, key: Ed25519PrivateKey, *, hub_url: str, lab_code: str,
        ids: list[str]) -> dict[str, list[str]]:
    body = json.dumps({"lab": lab_code, "ids": ids}).encode()
    headers = sign_request(key, body, lab_code=lab_code, idempotency_key=f"reconcile:{uuid.uuid4().hex}")
    resp = client.post(f"{hub_url.rstrip('/')}/hub/v1/reconcile", content=body, headers=headers)
    if resp.status_code != 200:
        raise RuntimeError(f"hub answered HTTP {resp.status_code} to reconcile: {hub_reason(resp)}")
    doc = resp.json()
    return {"held": list(doc["held"]), "missing": list(doc["missing"])}


def reconcile(factory: sessionmaker[Session], client: httpx.Client, key: Ed25519PrivateKey, *, hub_url: str,
              lab_code: str) -> ReconcileOutcome:
    out = ReconcileOutcome()
    with factory() as s:
        delivered = list(s.execute(select(OutboxMessage.idempotency_key).where(
            OutboxMessage.status == OutboxStatus.DELIVERED).order_by(OutboxMessage.id)).scalars())
    for i in range(0, len(delivered), CHUNK):
        got = ask(client, key, hub_url=hub_url, lab_code=lab_code, ids=delivered[i:i + CHUNK])
        out.asked += len(delivered[i:i + CHUNK])
        out.held += len(got["held"])
        out.missing.extend(got["missing"])
    url = f"{hub_url.rstrip('/')}/hub/v1/messages"
    for idem in out.missing:
        with session_scope(factory, actor="worker:upstream-reconcile") as s:
            msg = s.execute(select(OutboxMessage).where(OutboxMessage.idempotency_key == idem)).scalar_one()
            body = msg.payload.encode()
            try:
                resp = client.post(url, content=body, headers=sign_request(key, body, lab_code=lab_code,
                                                                           idempotency_key=idem))
            except httpx.HTTPError as exc:
                out.failed[idem] = f"{type(exc).__name__}: {exc}"
                continue
            if resp.is_success:
                msg.receipt_id = receipt_of(resp)
                out.resent.append(idem)
            else:
                out.failed[idem] = f"HTTP {resp.status_code}: {hub_reason(resp)}"
    return out
