"""Homogeneity and stability of a PT round's test items, entered in the browser (ISO 13528:2022 Annex B).

- ``/pt/rounds/{code}/homogeneity?analyte=A``: per analyte, the stored studies with their Annex B
  statistics (mean, s_x, s_w, s_s, 0.3 σ_pt, the expanded criterion of B.2.3 with F1/F2, the F test) and
  verdicts in words, and the two entry forms.
- ``POST …/homogeneity``: g items × 2 replicates typed in the table, or a CSV uploaded with the columns of
  ``lims pt homogeneity`` (``item,replicate,result``, read by :mod:`lims.csvio` and
  :func:`lims.cli.pt.homogeneity_table`, the CLI's own reader); stored by
  :func:`lims.pt.provider.record_homogeneity`, the service behind ``POST /api/v1/pt/rounds/{code}/homogeneity``.
- ``POST …/stability``: results before and after (B.5.1, Formula B.17), the before results optionally the
  homogeneity study's (as in ISO 13528:2022 E.2); stored by :func:`lims.pt.provider.record_stability`.

Only ``pt:manage`` (the QA manager running the round) sees or posts these pages. A cell that is not a number
or a row with one replicate missing is refused before anything is stored, naming the row and the field in
Chinese. σ_pt left blank follows the analyte's σ_pt method at the study's mean; the checks are repeated with
the round's final σ_pt when it is scored (:mod:`lims.pt.scoring`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import UploadFile

from api.deps import FactoryDep, read_service
from api.schemas import MAX_HOMOGENEITY_ITEMS, MAX_STABILITY_VALUES
from api.security import Principal, require_ui
from api.ui.base import P, area_router, not_found, render, ui_error
from api.ui.quality import act
from lims import csvio
from lims.cli.common import BadInput, CsvRow
from lims.cli.pt import HOMOGENEITY_COLUMNS, homogeneity_table
from lims.config import get_settings
from lims.pt import provider, views
from lims.services.errors import NotFound
from lims.vocabulary import RoundStatus

router = area_router()
PtManager = Annotated[Principal, require_ui(P.PT_MANAGE)]
#: Rows of the entry tables when nothing is stored yet (ISO 13528:2022 B.2: g ≥ 10 items).
DEFAULT_ROWS = 10
REPLICATES = 2
EDITABLE = (RoundStatus.DRAFT, RoundStatus.OPEN, RoundStatus.CLOSED)
DONE = {"homogeneity": ("已保存均匀性检验数据并完成计算", "homogeneity study stored and checked"),
        "stability": ("已保存稳定性检验数据并完成计算", "stability study stored and checked")}
#: Table fields in the user's words (the refusal names them).
CELL_ZH = {"h": "重复 {j}", "before": "储存前结果", "after": "储存后结果"}


def _done(code: str, analyte: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/pt/rounds/{quote(code, safe='')}/homogeneity?analyte={quote(analyte, safe='')}"
                            f"&done={done}", status_code=303)


# ------------------------------------------------------------------------------------------ reading


def _flat(values: dict[str, list[float]]) -> list[float]:
    return [v for vs in values.values() for v in vs]


def _study(s: Session, code: str, analyte: str) -> dict[str, Any]:
    rnd = provider.get_round(s, code)
    if not rnd.analytes:
        raise NotFound(f"round {code} has no analytes", field="analyte")
    a = provider.round_analyte(rnd, analyte) if analyte else rnd.analytes[0]
    return {
        "round": {"code": rnd.code, "title": rnd.title, "status": rnd.status},
        "analytes": [{"code": x.code, "name_zh": x.name_zh} for x in rnd.analytes],
        "analyte": {"code": a.code, "name_zh": a.name_zh, "unit": a.unit, "sigma_text": views.sigma_method_text(a),
                    "needs_sigma": provider.method_sigma(a, 1.0) is None},
        "homogeneity": a.homogeneity, "stability": a.stability,
        "hom_rows": list(provider.measurements(s, a, "homogeneity").values()),
        "before": _flat(provider.measurements(s, a, "stability_before")),
        "after": _flat(provider.measurements(s, a, "stability_after")),
        "editable": rnd.status in EDITABLE,
    }


def read_or_not_found(request: Request, me: Principal, factory: sessionmaker[Session],
                      read: Callable[[Session], dict[str, Any]], what: str) -> dict[str, Any] | HTMLResponse:
    """A PT page's data, or the 404 page naming ``what`` when the round (or analyte) does not exist."""
    try:
        return read_service(factory, read)
    except HTTPException as e:
        if e.status_code == 404:
            return not_found(request, me, "/pt", what)
        raise


def _page(request: Request, me: Principal, factory: sessionmaker[Session], code: str, analyte: str, *,
          rows: int = 0, done: str = "", error: dict[str, Any] | None = None,
          form: dict[str, str] | None = None) -> HTMLResponse:
    data = read_or_not_found(request, me, factory, lambda s: _study(s, code, analyte),
                             f"能力验证轮次 {code} {analyte} / PT round {code} {analyte}")
    if isinstance(data, HTMLResponse):
        return data
    shown = max(DEFAULT_ROWS, len(data["hom_rows"]), len(data["before"]), len(data["after"]), rows)
    return render(request, me, "ui_pt_homogeneity.html", "/pt", status=error["status"] if error else 200,
                  error=error, form=form or {}, done=DONE.get(done), rows=min(shown, MAX_HOMOGENEITY_ITEMS),
                  replicates=REPLICATES, **data)


@router.get("/pt/rounds/{code}/homogeneity", response_class=HTMLResponse)
def homogeneity_page(code: str, request: Request, me: PtManager, factory: FactoryDep,
                     analyte: Annotated[str, Query(max_length=60)] = "",
                     rows: Annotated[int, Query(ge=0, le=MAX_HOMOGENEITY_ITEMS)] = 0,
                     done: Annotated[str, Query(max_length=20)] = "") -> HTMLResponse:
    return _page(request, me, factory, code, analyte, rows=rows, done=done)


# ------------------------------------------------------------------------------------------ refusals


class CellError(Exception):
    """A bad cell of an entry table or CSV, as the page shows it: the zh-CN and English words, the field."""

    def __init__(self, zh: str, bad: BadInput, field: str) -> None:
        super().__init__(bad.detail)
        self.zh, self.bad, self.field = zh, bad, field

    def shown(self) -> dict[str, Any]:
        detail = self.bad.detail
        missing, number = detail.startswith("value is missing"), detail.startswith("not a")
        error = ui_error(422, {"message": str(self.bad), "field": self.field,
                               "code": "ui.field_required" if missing else
                               ("ui.number_invalid" if number else "quality.bad_value")})
        what = "未填写" if missing else ("不是有效数字" if number else "数据不符合要求")
        error["zh"] = f"{self.zh}：{what}"
        return error


def _number(raw: str, field: str, where: str) -> float:
    """One typed cell read by the CLI's rule for a CSV number (finite float), else :class:`CellError`."""
    try:
        value = CsvRow(1, {field: raw}).number(field, file=where)
    except BadInput as bad:
        raise CellError(where, bad, field) from None
    assert value is not None
    return value


def _sigma(form: dict[str, str]) -> float | None:
    raw = form.get("sigma_pt", "")
    return _number(raw, "sigma_pt", "σ_pt") if raw else None


# ------------------------------------------------------------------------------------------ homogeneity


def typed_items(form: dict[str, str]) -> list[list[float]]:
    """The g × 2 table typed on the page (fields ``h{row}_{replicate}``), read as CSV rows by the CLI's
    reader; blank rows are skipped, a row with one replicate blank is refused naming the row and replicate."""
    rows: list[CsvRow] = []
    cells: dict[int, tuple[int, int]] = {}
    for i in range(1, MAX_HOMOGENEITY_ITEMS + 1):
        raw = [form.get(f"h{i}_{j}", "") for j in range(1, REPLICATES + 1)]
        if not any(raw):
            continue
        for j, value in enumerate(raw, start=1):
            cells[len(cells) + 1] = (i, j)
            rows.append(CsvRow(len(cells), {"item": f"H{i:02d}", "replicate": str(j), "result": value}))
    try:
        return homogeneity_table(rows, "均匀性检验表 / homogeneity table")
    except BadInput as bad:
        if bad.line is None or bad.line not in cells:
            raise CellError("均匀性检验表（至少 2 个样品，每个样品 2 个重复）", bad, "items") from None
        i, j = cells[bad.line]
        named = BadInput(bad.detail, file="homogeneity table", line=i, field=f"replicate {j}")
        raise CellError(f"均匀性检验表第 {i} 行（样品 H{i:02d}）{CELL_ZH['h'].format(j=j)}", named,
                        f"h{i}_{j}") from None


def csv_items(text: str, source: str) -> list[list[float]]:
    """The g × m table of an uploaded CSV with the columns of ``lims pt homogeneity``."""
    try:
        table = csvio.CsvTable(text, source=source)
        table.require(HOMOGENEITY_COLUMNS)
        rows = [CsvRow(line=r.line, values=r.values) for r in table.rows(HOMOGENEITY_COLUMNS)]
        return homogeneity_table(rows, source)
    except csvio.CsvError as exc:
        bad = BadInput(exc.detail, file=exc.source, line=exc.line, field=exc.field)
    except BadInput as exc:
        bad = exc
    where = f"CSV 文件 {source}" + (f" 第 {bad.line} 行" if bad.line else "") + \
        (f"“{bad.field}”列" if bad.field else "")
    raise CellError(where, bad, bad.field or "file")


async def _posted(request: Request) -> tuple[dict[str, str], tuple[str, str] | None]:
    """The form's text fields, and the uploaded CSV (text, file name) when a file was chosen."""
    form = await request.form()
    fields = {k: v.strip() for k, v in form.items() if isinstance(v, str)}
    upload = form.get("file")
    if not (isinstance(upload, UploadFile) and upload.filename):
        return fields, None
    data = await upload.read(get_settings().max_upload_bytes + 1)
    try:
        text = csvio.decode(data, source=upload.filename[:200])
    except csvio.CsvError:
        text = "\ufffd"  # refused by the reader: not item,replicate,result
    return fields, (text, upload.filename[:200])


@router.post("/pt/rounds/{code}/homogeneity", response_class=HTMLResponse)
async def post_homogeneity(code: str, request: Request, me: PtManager, factory: FactoryDep) -> Response:
    form, upload = await _posted(request)
    analyte = form.get("analyte", "")[:60]
    try:
        items = csv_items(*upload) if upload else typed_items(form)
        sig = _sigma(form)
    except CellError as bad:
        return _page(request, me, factory, code, analyte, error=bad.shown(), form=form)
    error = act(factory, me, f"homogeneity {code}/{analyte}",
                lambda s: provider.record_homogeneity(s, code, analyte, items, sigma_pt=sig))
    if error:
        return _page(request, me, factory, code, analyte, error=error, form=form)
    return _done(code, analyte, "homogeneity")


# ------------------------------------------------------------------------------------------ stability


def stability_values(form: dict[str, str], column: str) -> list[float]:
    """One column of the stability table (``before{row}`` or ``after{row}``); blank cells are skipped."""
    out = []
    for i in range(1, MAX_STABILITY_VALUES + 1):
        raw = form.get(f"{column}{i}", "")
        if raw:
            out.append(_number(raw, f"{column}{i}", f"稳定性检验表第 {i} 行{CELL_ZH[column]}"))
    return out


def _required(values: list[float], column: str) -> list[float]:
    if not values:
        raise CellError(f"稳定性检验表{CELL_ZH[column]}（至少 1 个）", BadInput("value is missing", field=f"{column}1"),
                        f"{column}1")
    return values


@router.post("/pt/rounds/{code}/stability", response_class=HTMLResponse)
async def post_stability(code: str, request: Request, me: PtManager, factory: FactoryDep) -> Response:
    form, _ = await _posted(request)
    analyte = form.get("analyte", "")[:60]
    from_homogeneity = bool(form.get("before_from_homogeneity"))
    try:
        typed = stability_values(form, "before")
        before = typed if from_homogeneity else _required(typed, "before")
        after = _required(stability_values(form, "after"), "after")
        sig = _sigma(form)
    except CellError as bad:
        return _page(request, me, factory, code, analyte, error=bad.shown(), form=form)

    def go(s: Session) -> None:
        y1 = before
        if from_homogeneity:  # ISO 13528:2022 E.2: the homogeneity study's results are the "before" ones
            y1 = _flat(provider.measurements(s, provider.round_analyte(provider.get_round(s, code), analyte),
                                             "homogeneity"))
        provider.record_stability(s, code, analyte, y1, after, sigma_pt=sig)
    error = act(factory, me, f"stability {code}/{analyte}", go)
    if error:
        return _page(request, me, factory, code, analyte, error=error, form=form)
    return _done(code, analyte, "stability")
