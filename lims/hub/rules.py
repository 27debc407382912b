"""The receiver's validation: the message's JSON (NaN and Infinity refused at parse time), its schema (the
canonical models of lims.upstream.schema — one definition for both ends) and the business rules below.
Each refusal is an RFC 9457 problem naming the ``rule`` and, as a JSON Pointer (RFC 6901), the field.

Business rules (per result of a ``cn-agri-residue/2`` message; EFSA SSD2 semantics, GB 2763 limits):

* ``lod_le_loq``: LOD ≤ LOQ.
* ``quantified_has_value``: a quantified (``VAL``) result carries a value, and ``value_ge_lod``: it is ≥ LOD.
* ``unquantified_has_no_value``: a result below LOD/LOQ (``LOD``/``LOQ``) carries no value.
* ``one_result_per_analyte``: one current result per analyte per analysed sample in a message.
* ``non_compliant_needs_confirmation``: a non-compliant (or banned-substance) verdict comes from a
  confirmatory method (SANTE/11312/2021: screening positives are confirmed before a non-compliance).
* ``unit_consistent``: the limit's unit and the result's unit are the same quantity (mass fraction).
* ``limit_consistent``: an MRL evaluation carries the limit value; a non-compliant quantified result exceeds
  it; a compliant one does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from lims.units import UnitError, convert
from lims.upstream.schema import MESSAGE_MODELS, CheckpointMessage, ResultBatch, ResultItem, Wire

PROBLEM_BASE = "urn:lims:hub:problem:"


@dataclass(frozen=True)
class Problem:
    status: int
    rule: str
    title: str
    detail: str
    pointer: str = ""
    errors: list[dict[str, str]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": PROBLEM_BASE + self.rule, "title": self.title, "status": self.status,
                               "detail": self.detail, "rule": self.rule, "pointer": self.pointer}
        if self.errors:
            doc["errors"] = self.errors
        return doc


class Refused(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows (RFC 8259 §6)")


def parse_json(body: bytes) -> Any:
    """The body's JSON document; Refused (400 ``json.syntax`` / 422 ``json.not_finite``) otherwise."""
    try:
        return json.loads(body, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise Refused(Problem(400, "json.syntax", "报文不是 UTF-8 JSON / body is not UTF-8 JSON",
                              f"byte {exc.start}: {exc.reason}")) from None
    except json.JSONDecodeError as exc:
        raise Refused(Problem(400, "json.syntax", "报文不是合法 JSON / body is not valid JSON",
                              f"line {exc.lineno} column {exc.colno} (offset {exc.pos}): {exc.msg}")) from None
    except ValueError as exc:
        raise Refused(Problem(422, "json.not_finite", "数值不得为 NaN 或无穷 / NaN and Infinity are refused",
                              str(exc))) from None


def pointer(loc: tuple[int | str, ...] | list[int | str]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in loc)


def validate_schema(doc: Any) -> Wire:
    """The message model (dispatch on ``schema``); Refused 422 ``schema`` naming every wrong field."""
    if not isinstance(doc, dict):
        raise Refused(Problem(422, "schema", "报文须为 JSON 对象 / a JSON object is required",
                              "the body is not a JSON object", ""))
    model = MESSAGE_MODELS.get(str(doc.get("schema")))
    if model is None:
        raise Refused(Problem(422, "schema", "未知报文格式 / unknown message schema",
                              f"schema: {doc.get('schema')!r} is none of {', '.join(MESSAGE_MODELS)}", "/schema"))
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        errors = [{"pointer": pointer(tuple(e["loc"])), "detail": e["msg"]} for e in exc.errors()]
        first = errors[0]
        raise Refused(Problem(422, "schema", "报文不符合格式定义 / message does not match its schema",
                              f"{first['pointer'] or '(body)'}: {first['detail']}"
                              + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
                              first["pointer"], errors)) from None


_NON_COMPLIANT = ("non_compliant", "banned_substance_detected")


def _item_rules(item: ResultItem) -> list[tuple[str, str, str]]:
    """(rule, pointer below the item, detail) of each broken rule."""
    out: list[tuple[str, str, str]] = []
    r, ev = item.result, item.evaluation
    if r.lod is not None and r.loq is not None and r.lod > r.loq:
        out.append(("lod_le_loq", "/result/lod", f"LOD must not exceed LOQ (LOD {r.lod} > LOQ {r.loq})"))
    if r.res_type == "VAL" and r.value is None:
        out.append(("quantified_has_value", "/result/value", "a quantified (VAL) result carries a value"))
    if r.res_type == "VAL" and r.value is not None and r.lod is not None and r.value < r.lod:
        out.append(("value_ge_lod", "/result/value", f"value {r.value} is below the LOD {r.lod}"))
    if r.res_type in ("LOD", "LOQ") and r.value is not None:
        out.append(("unquantified_has_no_value", "/result/value",
                    f"a result below {r.res_type} carries no value (got {r.value})"))
    if ev.code in _NON_COMPLIANT and item.analysis.kind != "confirmatory":
        out.append(("non_compliant_needs_confirmation", "/analysis/kind",
                    f"verdict {ev.code} from a {item.analysis.kind} method; a confirmatory method is required"))
    out.extend(_limit_rules(item))
    return out


def _limit_rules(item: ResultItem) -> list[tuple[str, str, str]]:
    r, limit, code = item.result, item.evaluation.limit, item.evaluation.code
    if limit is None:
        return []
    if limit.unit and limit.unit != r.unit:
        try:
            convert(1.0, limit.unit, r.unit)
        except (UnitError, ValueError):
            return [("unit_consistent", "/evaluation/limit/unit",
                     f"limit unit {limit.unit!r} and result unit {r.unit!r} are not the same quantity")]
    if limit.limit_type != "MRL":
        return []
    if limit.value is None:
        return [("limit_consistent", "/evaluation/limit/value", "an MRL evaluation carries the limit value")]
    if r.res_type != "VAL" or r.value is None:
        return []
    limit_in_unit = convert(limit.value, limit.unit, r.unit) if limit.unit and limit.unit != r.unit else limit.value
    if code == "non_compliant" and r.value <= limit_in_unit:
        return [("limit_consistent", "/evaluation/code",
                 f"non-compliant, but value {r.value} {r.unit} does not exceed the limit {limit_in_unit}")]
    if code == "compliant" and r.value > limit_in_unit:
        return [("limit_consistent", "/evaluation/code",
                 f"compliant, but value {r.value} {r.unit} exceeds the limit {limit_in_unit}")]
    return []


def business_problems(batch: ResultBatch) -> list[dict[str, str]]:
    """Every broken business rule of a result batch: [{rule, pointer, detail}]."""
    problems: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(batch.results):
        base = f"/results/{i}"
        problems.extend({"rule": rule, "pointer": base + p, "detail": d} for rule, p, d in _item_rules(item))
        if item.change == "retraction":
            continue
        if item.analysis.analyte in seen:
            problems.append({"rule": "one_result_per_analyte", "pointer": base + "/analysis/analyte",
                             "detail": f"analyte {item.analysis.analyte} already reported in "
                                       f"/results/{seen[item.analysis.analyte]} for sample {batch.sample.code}"})
        seen.setdefault(item.analysis.analyte, i)
    return problems


def checkpoint_signature_ok(public_pem: str, msg: CheckpointMessage) -> bool:
    """A checkpoint's ``sig``: Ed25519 over the canonical JSON of its other fields (lims/db/anchors.py)."""
    import base64

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from lims.db.audit import canonical_json

    body = {k: v for k, v in msg.model_dump(mode="json", by_alias=True).items() if k != "sig"}
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
        if not isinstance(key, Ed25519PublicKey):
            return False
        key.verify(base64.b64decode(msg.sig, validate=True), canonical_json(body).encode())
    except (ValueError, InvalidSignature):
        return False
    return True


def check_business(batch: ResultBatch) -> None:
    problems = business_problems(batch)
    if problems:
        first = problems[0]
        detail = "; ".join(f"{p['pointer']}: {p['detail']} [{p['rule']}]" for p in problems[:20])
        raise Refused(Problem(422, first["rule"], "违反业务规则 / business rule broken", detail, first["pointer"],
                              problems))
