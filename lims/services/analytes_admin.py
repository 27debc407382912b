"""Setting up a lab's analytes (检测项目): a fresh install has only those the limits import creates, so an
analyte group screened by a rapid method (OP-CARB, 有机磷和氨基甲酸酯类农药, of the enzyme-inhibition method
GB/T 5009.199-2003) or a pesticide outside the starter MRL table is added here, before a method's scope can
name it (lims.services.methods_admin.check_scope).

An analyte is its code (a letter or digit, then letters, digits, ``.``, ``_``, ``-``: the codes a route can
reach, api.schemas.CODE_PATTERN, at most the column's 60), its Chinese and English names (printed on
reports: lims.text.printable_problem), its CAS Registry Number (empty for a group; otherwise format and check
digit, lims.limits.csv_import.cas_is_valid) and its kind (:data:`KINDS`, the four of lims.db.models.Analyte).

Every change is audited with the reason given: :func:`save_analyte` refuses a reason under 5 characters
and puts it on the session, so the audit event of the row carries it. Refusals are typed errors naming the
field."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.db.models import Analyte
from lims.limits.csv_import import cas_is_valid
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.text import printable_problem

#: The kinds of analyte (lims.db.models.Analyte.kind): value → (zh-CN, English).
KINDS = {"pesticide": ("农药", "pesticide"), "vet_drug": ("兽药", "veterinary drug"),
         "banned": ("禁用物质", "banned substance"), "group": ("类别（快速检测项目）", "group (screened as a class)")}
#: Column lengths of lims.db.models.Analyte.
_LENGTHS = {"code": 60, "name_zh": 120, "name_en": 120}
#: api.schemas.CODE_PATTERN within the column's length.
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}")


@dataclass(frozen=True)
class AnalyteSpec:
    """An analyte as the lab states it. ``name_en`` empty: the Chinese name (as the limits import does);
    ``cas`` empty: none (a group has none)."""

    code: str
    name_zh: str
    name_en: str = ""
    cas: str = ""
    kind: str = "pesticide"


@dataclass(frozen=True)
class AnalyteRow:
    """An analyte as listed (CLI, REST, the admin page)."""

    code: str
    name_zh: str
    name_en: str
    cas: str
    kind: str


def _bad(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field_name}: {message}", field=field_name, code="analyte.invalid")


def _name(value: str, name: str, *, required: bool = True) -> str:
    value = value.strip()
    if not value and required:
        raise _bad(name, "required")
    if len(value) > _LENGTHS[name]:
        raise _bad(name, f"at most {_LENGTHS[name]} characters")
    if problem := printable_problem(value):  # printed on every report that names the analyte
        raise _bad(name, problem)
    return value


def validate(spec: AnalyteSpec) -> AnalyteSpec:
    """``spec`` normalised (blanks stripped, ``name_en`` defaulted); InvalidInput (``analyte.invalid``)
    naming the first field that is wrong."""
    code = spec.code.strip()
    if not CODE.fullmatch(code):
        raise _bad("code", f"{code!r}: a letter or digit, then letters, digits, '.', '_' or '-' (at most 60)")
    name_zh = _name(spec.name_zh, "name_zh")
    name_en = _name(spec.name_en, "name_en", required=False) or name_zh
    cas = spec.cas.strip()
    if cas and not cas_is_valid(cas):
        raise _bad("cas", f"{cas!r} is not a CAS Registry Number (NNNNNNN-NN-N with its check digit: the sum "
                          "of the other digits, each times its position from the right, modulo 10)")
    kind = spec.kind.strip()
    if kind not in KINDS:
        raise _bad("kind", f"{spec.kind!r}; allowed: {', '.join(KINDS)}")
    if kind == "group" and cas:
        raise _bad("cas", "a group of analytes has no CAS number of its own; leave it empty")
    return replace(spec, code=code, name_zh=name_zh, name_en=name_en, cas=cas, kind=kind)


def check_reason(reason: str) -> str:
    """The reason stripped; InvalidInput (``analyte.reason_required``) under 5 characters."""
    if len(reason.strip()) < 5:
        raise InvalidInput("reason: required (at least 5 characters), it goes into the audit trail",
                           field="reason", code="analyte.reason_required")
    return reason.strip()


def _named(s: Session, code: str) -> Analyte | None:
    return s.execute(select(Analyte).where(Analyte.code == code.strip())).scalar_one_or_none()


def save_analyte(s: Session, spec: AnalyteSpec, *, reason: str, create: bool | None = None) -> Analyte:
    """Create or update the analyte ``spec.code``, audited with ``reason``. ``create`` True: refuse an
    existing code (``analyte.exists``); False: refuse a missing one (not_found); None: either. Another
    analyte with the same Chinese name is refused (``analyte.name_exists``): the limits import finds an
    analyte by that name, so two would make a limit row land on either."""
    s.info["reason"] = check_reason(reason)
    spec = validate(spec)
    analyte = _named(s, spec.code)
    if analyte is not None and create is True:
        raise Conflict(f"code: analyte {spec.code} already exists", field="code", code="analyte.exists")
    if analyte is None and create is False:
        raise NotFound(f"analyte: no analyte with code {spec.code!r}", field="analyte")
    twin = s.execute(select(Analyte.code).where(Analyte.name_zh == spec.name_zh,
                                                Analyte.code != spec.code)).scalars().first()
    if twin is not None:
        raise Conflict(f"name_zh: analyte {twin} is already named {spec.name_zh}", field="name_zh",
                       code="analyte.name_exists")
    if analyte is None:
        analyte = Analyte(code=spec.code)
        s.add(analyte)
    for name in ("name_zh", "name_en", "cas", "kind"):
        if getattr(analyte, name) != getattr(spec, name):
            setattr(analyte, name, getattr(spec, name))
    s.flush()
    return analyte


def save_analytes(s: Session, specs: Sequence[AnalyteSpec], *, reason: str) -> list[Analyte]:
    """Several analytes in one unit of work (the caller's session: one refusal writes none)."""
    return [save_analyte(s, spec, reason=reason) for spec in specs]


def _row(a: Analyte) -> AnalyteRow:
    return AnalyteRow(code=a.code, name_zh=a.name_zh, name_en=a.name_en, cas=a.cas or "", kind=a.kind)


def list_analytes(s: Session) -> list[AnalyteRow]:
    """Every analyte, by code."""
    return [_row(a) for a in s.execute(select(Analyte).order_by(Analyte.code)).scalars()]


def analyte_row(s: Session, code: str) -> AnalyteRow:
    """One analyte (not_found otherwise)."""
    analyte = _named(s, code)
    if analyte is None:
        raise NotFound(f"analyte: no analyte with code {code!r}", field="analyte")
    return _row(analyte)
