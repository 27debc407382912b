"""The quality registers as lists with what is due highlighted (ISO/IEC 17025:2017 6.2 personnel, 6.3
facilities and environmental conditions, 6.4 equipment, 6.5 metrological traceability; RB/T 214-2017 4.4):

- instruments: fitness and the next calibration/verification due date (overdue red, due within
  :data:`~api.ui.quality.DUE_SOON_DAYS` days orange), the last check's certificate to download (its SHA-256
  checked on every read), with a form to record a calibration, check or maintenance;
- reagents and reference materials: expiry and the date a lot is usable until once opened (expired red,
  expiring orange);
- staff: the authorisation matrix (may test / review / sign per method and instrument) with validity, and a
  form to grant a cell (``quality:manage``);
- environment: monitored locations with their limits and latest records (an alarm red), and a form for a
  manual record.

Reads through :mod:`lims.quality.instruments`, ``materials``, ``staff`` and ``environment`` (as
``/api/v1/quality`` does); viewing needs ``registers:read``, recording ``registers:write``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service
from api.security import Principal, require_ui
from api.ui.base import P, area_router, not_found, render
from api.ui.quality import DUE_SOON_DAYS, HUB, QualityManager, act, date_of, form_of
from lims.clock import utcnow
from lims.quality import environment as env
from lims.quality import instruments as ins
from lims.quality import materials as mat
from lims.quality import staff
from lims.quality.registers_vocab import CheckOutcome, InstrumentCheckKind
from lims.services import accounts
from lims.services.errors import InvalidInput

router = area_router()
RegistersPage = Annotated[Principal, require_ui(P.REGISTERS_READ)]
RegistersWriter = Annotated[Principal, require_ui(P.REGISTERS_WRITE)]
PAGE = "/quality/registers"
#: Latest environment records shown per location.
ENV_RECORDS = 5
DONE = {"check": ("已记录检定/校准、核查或维护", "check recorded"), "grant": ("已授权", "authorisation granted"),
        "env": ("已记录温湿度", "record stored")}


def due_class(day: dt.date | None, today: dt.date) -> str:
    """CSS class of a due date: ``over`` when past, ``soon`` within :data:`DUE_SOON_DAYS` days, else ''."""
    if day is None:
        return ""
    if day < today:
        return "over"
    return "soon" if day <= today + dt.timedelta(days=DUE_SOON_DAYS) else ""


def _instruments(s: Session, today: dt.date) -> list[dict[str, Any]]:
    out = []
    for f in ins.schedule(s, within_days=DUE_SOON_DAYS):
        checks = ins.checks_of(s, f.instrument)
        last = checks[-1] if checks else None
        cert = next((c for c in reversed(checks) if c.certificate_sha256), None)  # the newest certificate kept
        out.append({"code": f.instrument, "fitness": f.fitness, "may_feed": f.may_feed, "due": f.calibration_due,
                    "reason": f.reason, "exception_until": f.exception_until,
                    "css": "over" if not f.may_feed else due_class(f.calibration_due, today),
                    "last": {"kind": last.kind, "performed_on": last.performed_on, "outcome": last.outcome,
                             "provider": last.provider, "certificate_no": last.certificate_no} if last else None,
                    "certificate": {"url": f"/api/v1/quality/instruments/{quote(f.instrument, safe='')}/checks/"
                                           f"{cert.id}/certificate", "no": cert.certificate_no,
                                    "performed_on": cert.performed_on} if cert else None})
    return out


def _materials(s: Session, today: dt.date) -> list[dict[str, Any]]:
    out = []
    for lot in mat.list_lots(s):
        until = mat.usable_until(lot)
        out.append({"code": lot.code, "kind": lot.kind, "name": lot.name, "supplier": lot.supplier,
                    "lot_no": lot.lot_no, "certificate_no": lot.certificate_no, "concentration": lot.concentration,
                    "concentration_unit": lot.concentration_unit, "expires_on": lot.expires_on,
                    "opened_on": lot.opened_on, "usable_until": until, "storage": lot.storage,
                    "css": due_class(until, today)})
    return out


def _staff(s: Session, today: dt.date) -> list[dict[str, Any]]:
    names = {u.username: u.full_name for u in accounts.list_users(s)}
    rows = []
    for r in staff.matrix(s, on=today):
        until = r["valid_until"] if isinstance(r["valid_until"], dt.date) else None
        rows.append({**r, "full_name": names.get(str(r["username"]), r["username"]),
                     "css": "over" if not r["valid_today"] else due_class(until, today)})
    return rows


def _environment(s: Session) -> list[dict[str, Any]]:
    out = []
    for loc in env.list_locations(s):
        records = env.readings_of(s, loc.code, limit=ENV_RECORDS)
        out.append({"code": loc.code, "name": loc.name, "kind": loc.kind, "temp_min_c": loc.temp_min_c,
                    "temp_max_c": loc.temp_max_c, "rh_min_pct": loc.rh_min_pct, "rh_max_pct": loc.rh_max_pct,
                    "sensor": bool(loc.sensor_url), "records": records,
                    "css": "over" if records and records[0].alarm else ""})
    return out


def _registers(s: Session) -> dict[str, Any]:
    today = utcnow().date()
    return {"today": today, "instruments": _instruments(s, today), "materials": _materials(s, today),
            "staff": _staff(s, today), "environment": _environment(s)}


def _page(request: Request, me: Principal, factory: sessionmaker[Session], *, done: str = "",
          error: dict[str, Any] | None = None) -> HTMLResponse:
    return render(request, me, "ui_quality_registers.html", HUB, status=error["status"] if error else 200,
                  error=error, done=DONE.get(done), due_days=DUE_SOON_DAYS, check_kinds=list(InstrumentCheckKind),
                  outcomes=list(CheckOutcome), can_write=me.can(P.REGISTERS_WRITE),
                  can_grant=me.can(P.QUALITY_MANAGE), **read_service(factory, _registers))


@router.get(PAGE, response_class=HTMLResponse)
def registers_page(request: Request, me: RegistersPage, factory: FactoryDep, done: str = "") -> HTMLResponse:
    return _page(request, me, factory, done=done[:20])


def _float(form: dict[str, str], name: str) -> float | None:
    raw = form.get(name, "")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput(f"{name}: not a number: {raw[:40]!r}", field=name, code="quality.bad_value") from None


@router.post(f"{PAGE}/instruments/{{code}}/checks", response_class=HTMLResponse)
async def record_check(code: str, request: Request, me: RegistersWriter, factory: FactoryDep) -> Response:
    form = await form_of(request)

    def go(s: Session) -> None:
        performed = date_of(form, "performed_on")
        assert performed is not None
        ins.record_check(s, code, kind=form.get("kind", ""), performed_on=performed,
                         outcome=form.get("outcome", ""), recorded_by=me.username,
                         due_on=date_of(form, "due_on", required=False), provider=form.get("provider", ""),
                         certificate_no=form.get("certificate_no", ""), acceptance=form.get("acceptance", ""))
    error = act(factory, me, f"{code}: {form.get('kind', '')}", go)
    if error:
        return _page(request, me, factory, error=error)
    return RedirectResponse(f"{PAGE}?done=check#instruments", status_code=303)


@router.post(f"{PAGE}/staff", response_class=HTMLResponse)
async def grant(request: Request, me: QualityManager, factory: FactoryDep) -> Response:
    form = await form_of(request)

    def go(s: Session) -> None:
        start = date_of(form, "valid_from")
        assert start is not None
        staff.grant(s, staff.Grant(username=form.get("username", ""), method_code=form.get("method_code", ""),
                                   valid_from=start, granted_by=me.username, may_test="may_test" in form,
                                   may_review="may_review" in form, may_sign="may_sign" in form,
                                   instrument_code=form.get("instrument_code") or None,
                                   valid_until=date_of(form, "valid_until", required=False)))
    error = act(factory, me, f"authorise {form.get('username', '')} for {form.get('method_code', '')}", go)
    if error:
        return _page(request, me, factory, error=error)
    return RedirectResponse(f"{PAGE}?done=grant#staff", status_code=303)


@router.post(f"{PAGE}/environment/{{code}}", response_class=HTMLResponse)
async def env_record(code: str, request: Request, me: RegistersWriter, factory: FactoryDep) -> Response:
    form = await form_of(request)
    if len(code) > 60:
        return not_found(request, me, PAGE, code[:60])
    error = act(factory, me, f"{code}: record", lambda s: env.record(
        s, code, temperature_c=_float(form, "temperature_c"), humidity_pct=_float(form, "humidity_pct"),
        raised_by=me.username))
    if error:
        return _page(request, me, factory, error=error)
    return RedirectResponse(f"{PAGE}?done=env#environment", status_code=303)
