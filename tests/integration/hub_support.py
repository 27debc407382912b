"""Helpers of the hub tests: messages built from the canonical schema models (lims.upstream.schema) and
signed POSTs over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lims.upstream import schema as w
from lims.upstream.signing import sign_request


def item(result_id: int, analyte: str = "CHLORPYRIFOS", *, res_type: str = "VAL", value: float | None = 0.05,
         lod: float | None = 0.01, loq: float | None = 0.02, code: str = "compliant", kind: str = "confirmatory",
         limit: float | None = 0.1, limit_unit: str = "mg/kg", unit: str = "mg/kg", limit_type: str = "MRL",
         change: str = "original", supersedes: int | None = None) -> dict[str, Any]:
    ev: dict[str, Any] = {"code": code}
    if limit_type:
        ev["limit"] = {"value": limit, "unit": limit_unit, "limitType": limit_type}
    return {"resultId": result_id, "version": 2 if supersedes else 1, "change": change, "supersedes": supersedes,
            "analysis": {"analyte": analyte, "analyteName": analyte.lower(), "method": "GB 23200.113", "kind": kind},
            "result": {"resType": res_type, "value": value, "unit": unit, "lod": lod, "loq": loq},
            "evaluation": ev}


def batch(items: list[dict[str, Any]], *, lab: str = "LAB1", sample: str = "S1", region: str = "330102",
          product: str = "QINCAI", producer: str | None = "91330102MA2XXXXX1A",
          sampled_at: str = "2026-11-20T08:00:00+00:00") -> dict[str, Any]:
    doc = {"schema": "cn-agri-residue/2", "lab": {"code": lab, "regionCode": region},
           "samplingEvent": {"regionCode": region, "sampledAt": sampled_at, "programmeType": "routine"},
           "sample": {"code": sample, "productCode": product, "productName": "芹菜"}, "results": items}
    if producer:
        doc["sample"]["producer"] = {"name": "某某蔬菜合作社", "creditCode": producer}
    w.ResultBatch.model_validate(doc)  # the helper builds valid schema documents only
    return doc


def encode(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()


def post(client: httpx.Client, url: str, key: Ed25519PrivateKey, body: bytes | dict[str, Any], *,
         lab: str = "LAB1", idem: str = "LAB1:result:1", created: int | None = None) -> httpx.Response:
    raw = body if isinstance(body, bytes) else encode(body)
    return client.post(f"{url}/hub/v1/messages", content=raw,
                       headers=sign_request(key, raw, lab_code=lab, idempotency_key=idem, created=created))
