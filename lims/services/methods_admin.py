"""Setting up a lab's analysis methods (a fresh install has none: only the demo created them): a method's
metadata, its scope (检测能力范围: the analytes it determines) and its signatories (授权签字人: who may approve
its results, ISO/IEC 17025:2017 6.2.6 / RB/T 214-2017 4.2.4; lims.services.signoff.approve_results checks them).

Every change goes through the caller's ``session_scope(factory, actor=…, reason=…)``, so the audit trail
records who changed what and why. Refusals are typed errors naming the field."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.db.models import Analyte, Method, MethodScope, MethodSignatory, Role, User
from lims.limits.decision import DecisionRule
from lims.services.accounts import is_service_user
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.units import UnitError, canonical_unit
from lims.vocabulary import AnalysisKind

#: The unit of an enzyme-inhibition screening method (GB/T 5009.199-2003 reports the inhibition rate, %).
PERCENT = "%"
#: Column lengths of lims.db.models.Method.
_LENGTHS = {"code": 60, "name": 200, "standard": 100}


@dataclass(frozen=True)
class MethodSpec:
    """A method as the lab states it; ``analytes`` (analyte codes) is its scope, None: scope unchanged."""

    code: str
    name: str
    standard: str
    kind: str
    unit: str = "mg/kg"
    lod_mg_kg: float | None = None
    loq_mg_kg: float | None = None
    decision_rule: str = DecisionRule.SIMPLE_ACCEPTANCE.value
    report_figures: int | None = None
    report_decimals: int | None = None
    analytes: tuple[str, ...] | None = field(default=None)


@dataclass(frozen=True)
class MethodRow:
    """A method with its scope and signatories (lists and the admin page)."""

    code: str
    name: str
    standard: str
    kind: str
    unit: str
    lod_mg_kg: float | None
    loq_mg_kg: float | None
    decision_rule: str
    report_figures: int | None
    report_decimals: int | None
    analytes: list[str]
    signatories: list[str]


def _bad(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field_name}: {message}", field=field_name, code="method.invalid")


def _text(spec: MethodSpec, name: str) -> str:
    value = str(getattr(spec, name) or "").strip()
    if not value:
        raise _bad(name, "required")
    if len(value) > _LENGTHS[name]:
        raise _bad(name, f"at most {_LENGTHS[name]} characters")
    return value


def _limit(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise _bad(name, f"must be a positive number in mg/kg (given {value!r})")
    return float(value)


def _unit(unit: str, kind: str) -> str:
    if kind == AnalysisKind.SCREENING and unit.strip() == PERCENT:
        return PERCENT
    try:
        return canonical_unit(unit)
    except UnitError as e:
        allowed = "mg/kg, µg/kg" + (", % (inhibition rate)" if kind == AnalysisKind.SCREENING else "")
        raise _bad("unit", f"{e.unit!r} is not a unit of this method kind; allowed: {allowed}") from None


def _figures(value: int | None, name: str, low: int, high: int) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
        raise _bad(name, f"a whole number {low}–{high}")
    return value


def validate(spec: MethodSpec) -> MethodSpec:
    """``spec`` normalised (blanks stripped, canonical unit); InvalidInput (``method.invalid``) naming the
    first field that is wrong."""
    code, name, standard = _text(spec, "code"), _text(spec, "name"), _text(spec, "standard")
    kind = spec.kind.strip()
    if kind not in {k.value for k in AnalysisKind}:
        raise _bad("kind", f"{spec.kind!r}; allowed: {', '.join(k.value for k in AnalysisKind)}")
    unit = _unit(spec.unit, kind)
    lod, loq = _limit(spec.lod_mg_kg, "lod_mg_kg"), _limit(spec.loq_mg_kg, "loq_mg_kg")
    if lod is not None and loq is not None and loq < lod:
        raise _bad("loq_mg_kg", f"the LOQ ({loq:g}) is below the LOD ({lod:g})")
    rule = spec.decision_rule.strip() or DecisionRule.SIMPLE_ACCEPTANCE.value
    if rule not in {r.value for r in DecisionRule}:
        raise _bad("decision_rule", f"{spec.decision_rule!r}; allowed: {', '.join(r.value for r in DecisionRule)}")
    analytes = None if spec.analytes is None else tuple(dict.fromkeys(a.strip() for a in spec.analytes if a.strip()))
    return replace(spec, code=code, name=name, standard=standard, kind=kind, unit=unit, lod_mg_kg=lod,
                   loq_mg_kg=loq, decision_rule=rule, analytes=analytes,
                   report_figures=_figures(spec.report_figures, "report_figures", 1, 6),
                   report_decimals=_figures(spec.report_decimals, "report_decimals", 0, 6))


def unknown_analytes(s: Session, codes: Iterable[str]) -> list[str]:
    """The codes among ``codes`` no analyte has, in the order given."""
    wanted = list(dict.fromkeys(codes))
    known = set(s.execute(select(Analyte.code).where(Analyte.code.in_(wanted))).scalars()) if wanted else set()
    return [c for c in wanted if c not in known]


def check_scope(s: Session, codes: Iterable[str]) -> None:
    """InvalidInput (``method.unknown_analyte``, field ``analytes``) naming every analyte code not known."""
    missing = unknown_analytes(s, codes)
    if missing:
        raise InvalidInput(f"analytes: no analyte with code {', '.join(missing)} (add it first: `lims analyte "
                           "import`, /api/v1/analytes, or the limits table; or check the code)", field="analytes",
                           code="method.unknown_analyte")


def _method(s: Session, code: str) -> Method:
    found = s.execute(select(Method).where(Method.code == code.strip())).scalar_one_or_none()
    if found is None:
        raise NotFound(f"method: no method with code {code!r}", field="method")
    return found


def save_method(s: Session, spec: MethodSpec, *, create: bool | None = None) -> Method:
    """Create or update the method ``spec.code`` and, when ``spec.analytes`` is given, set its scope to
    exactly those analytes. ``create`` True: refuse an existing code (``method.exists``); False: refuse a
    missing one (not_found); None: either."""
    spec = validate(spec)
    if spec.analytes is not None:
        check_scope(s, spec.analytes)
    method = s.execute(select(Method).where(Method.code == spec.code)).scalar_one_or_none()
    if method is not None and create is True:
        raise Conflict(f"code: method {spec.code} already exists", field="code", code="method.exists")
    if method is None and create is False:
        raise NotFound(f"method: no method with code {spec.code!r}", field="method")
    if method is None:
        method = Method(code=spec.code)
        s.add(method)
    for name in ("name", "standard", "kind", "unit", "lod_mg_kg", "loq_mg_kg", "decision_rule", "report_figures",
                 "report_decimals"):
        if getattr(method, name) != getattr(spec, name):
            setattr(method, name, getattr(spec, name))
    s.flush()
    if spec.analytes is not None:
        _set_scope(s, method, spec.analytes)
    return method


def _set_scope(s: Session, method: Method, codes: Sequence[str]) -> None:
    ids = {code: analyte_id for code, analyte_id in
           s.execute(select(Analyte.code, Analyte.id).where(Analyte.code.in_(codes)))} if codes else {}
    wanted = {ids[c] for c in codes}
    held = set(s.execute(select(MethodScope.analyte_id).where(MethodScope.method_id == method.id)).scalars())
    for row in s.execute(select(MethodScope).where(MethodScope.method_id == method.id,
                                                   MethodScope.analyte_id.in_(held - wanted))).scalars().all():
        s.delete(row)  # through the ORM: the audit trail records the row taken out of the scope
    for analyte_id in sorted(wanted - held):
        s.add(MethodScope(method_id=method.id, analyte_id=analyte_id))
    s.flush()


def save_methods(s: Session, specs: Sequence[MethodSpec]) -> list[Method]:
    """Several methods in one unit of work (the caller's session: one refusal writes none)."""
    return [save_method(s, spec) for spec in specs]


def _signatory_user(s: Session, username: str) -> User:
    user = s.execute(select(User).where(User.username == username.strip())).scalar_one_or_none()
    if user is None:
        raise NotFound(f"username: no user {username!r}", field="username")
    return user


def _reason(reason: str) -> None:
    if len(reason.strip()) < 5:
        raise InvalidInput("reason: required (at least 5 characters), it goes into the audit trail",
                           field="reason", code="method.reason_required")


def grant_signatory(s: Session, username: str, method_code: str, *, reason: str) -> bool:
    """Make ``username`` a signatory of the method (True; False: already one). The user must be an active
    person holding the approver role (``method.not_approver``)."""
    _reason(reason)
    user, method = _signatory_user(s, username), _method(s, method_code)
    if Role.APPROVER not in user.role_names or not user.active or is_service_user(user):
        raise Conflict(f"username: {user.username} is not an active approver; give the approver role first",
                       field="username", code="method.not_approver")
    held = s.execute(select(MethodSignatory).where(MethodSignatory.method_id == method.id,
                                                   MethodSignatory.user_id == user.id)).first()
    if held is not None:
        return False
    s.add(MethodSignatory(method_id=method.id, user_id=user.id))
    s.flush()
    return True


def revoke_signatory(s: Session, username: str, method_code: str, *, reason: str) -> None:
    """Withdraw ``username``'s signatory authority for the method (``method.not_signatory`` if not held)."""
    _reason(reason)
    user, method = _signatory_user(s, username), _method(s, method_code)
    rows = s.execute(select(MethodSignatory).where(MethodSignatory.method_id == method.id,
                                                   MethodSignatory.user_id == user.id)).scalars().all()
    if not rows:
        raise Conflict(f"username: {user.username} is not a signatory of {method.code}", field="username",
                       code="method.not_signatory")
    for row in rows:
        s.delete(row)
    s.flush()


def list_methods(s: Session) -> list[MethodRow]:
    """Every method, by code, with its scope's analyte codes and its signatories' usernames."""
    scope: dict[int, list[str]] = {}
    for method_id, code in s.execute(select(MethodScope.method_id, Analyte.code)
                                     .join(Analyte, Analyte.id == MethodScope.analyte_id).order_by(Analyte.code)):
        scope.setdefault(method_id, []).append(code)
    signers: dict[int, list[str]] = {}
    for method_id, username in s.execute(select(MethodSignatory.method_id, User.username)
                                         .join(User, User.id == MethodSignatory.user_id).order_by(User.username)):
        signers.setdefault(method_id, []).append(username)
    return [MethodRow(code=m.code, name=m.name, standard=m.standard, kind=m.kind, unit=m.unit, lod_mg_kg=m.lod_mg_kg,
                      loq_mg_kg=m.loq_mg_kg, decision_rule=m.decision_rule, report_figures=m.report_figures,
                      report_decimals=m.report_decimals, analytes=scope.get(m.id, []),
                      signatories=signers.get(m.id, []))
            for m in s.execute(select(Method).order_by(Method.code)).scalars()]


def method_row(s: Session, code: str) -> MethodRow:
    """One method as :func:`list_methods` gives it (not_found otherwise)."""
    method = _method(s, code)
    return next(r for r in list_methods(s) if r.code == method.code)
