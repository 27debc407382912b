"""A result's chromatogram as the reviewer sees it: the stored export file (its raw capture) read again,
integrated as at import (:func:`calibration.chromatogram.integrate_chromatogram`, deterministic), the
baseline drawn, every integrated peak shaded with its retention time, and any manual re-integration of the
result's peak (a ``PEAK_MANUAL`` reading naming the automatic one, :func:`lims.services.chromatography.
reintegrate`) drawn with its straight baseline beside the automatic one, which is kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from calibration.errors import CalibrationError
from lims.db.models import RawCapture, Reading
from lims.plots import PeakMark, chromatogram_svg
from lims.plots.svg import Frame

if TYPE_CHECKING:  # numpy, the readers and the integration load with the first chromatogram shown
    import numpy as np

PEAK, PEAK_MANUAL = "PEAK", "PEAK_MANUAL"
REPLACES = "replaces:"


def automatic_reading(s: Session, reading_id: int) -> Reading | None:
    """The automatic peak reading behind ``reading_id`` (itself, or the one a manual re-integration replaces)."""
    rd = s.get(Reading, reading_id)
    if rd is not None and rd.record_type == PEAK_MANUAL and str(rd.run_no).startswith(REPLACES):
        rd = s.get(Reading, int(str(rd.run_no).removeprefix(REPLACES)))
    return rd if rd is not None and rd.record_type == PEAK else None


def _manual(s: Session, auto: Reading) -> list[Reading]:
    return list(s.execute(select(Reading).where(Reading.record_type == PEAK_MANUAL,
                                                Reading.run_no == f"{REPLACES}{auto.id}")
                          .order_by(Reading.id)).scalars())


def _peak(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: fields.get(k) for k in ("analyte", "retention_time_min", "area", "height", "start_min", "end_min",
                                       "baseline_code", "integration", "reason", "automatic_area")}


def _t(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def _zoom(t: np.ndarray, y: np.ndarray, baseline: np.ndarray, marks: list[PeakMark], lang: str, analyte: str) -> str:
    """The analyte's peak enlarged: its integration bounds (automatic and manual) with half a peak width
    either side, so the shaded area and the baseline under it can be judged."""
    if not marks:
        return ""
    lo, hi = min(m.start_min for m in marks), max(m.end_min for m in marks)
    pad = max(hi - lo, 0.05) * 0.5
    sel = (t >= lo - pad) & (t <= hi + pad)
    return chromatogram_svg(t[sel].tolist(), y[sel].tolist(), baseline=baseline[sel].tolist(), peaks=marks,
                            title=_t(lang, f"峰放大：{analyte}", f"Peak enlarged: {analyte}"),
                            x_label=_t(lang, "保留时间 min", "retention time min"), y_label=_t(lang, "信号", "signal"),
                            frame=Frame(width=420, height=320))


def chromatogram_plot(s: Session, reading_id: int, lang: str = "zh-CN", *, title_of: str = "") -> dict[str, Any] | None:
    """The chromatogram of a peak reading: SVG, the automatic peak, its manual re-integrations; None when the
    reading is no chromatographic peak. An export that cannot be read again is reported, not raised."""
    auto = automatic_reading(s, reading_id)
    if auto is None:
        return None
    manual = _manual(s, auto)
    out: dict[str, Any] = {"reading_id": auto.id, "file": auto.run_no, "peak": _peak(auto.fields or {}),
                           "manual": [{"reading_id": m.id, **_peak(m.fields or {})} for m in manual],
                           "svg": "", "zoom_svg": "", "error": None, "peaks": []}
    import numpy as np

    from calibration.chromatogram import integrate_chromatogram
    from drivers.files import ChromatogramFileError, read_chromatogram_bytes

    cap = s.get(RawCapture, auto.raw_capture_id)
    try:
        assert cap is not None
        trace = read_chromatogram_bytes(cap.data, auto.run_no).traces[0]
        t, y = np.asarray(trace.times_min, dtype=float), np.asarray(trace.signal, dtype=float)
        integ = integrate_chromatogram(t, y)
    except (AssertionError, ChromatogramFileError, CalibrationError, IndexError, ValueError) as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    analyte = str((auto.fields or {}).get("analyte") or "")
    rt = (auto.fields or {}).get("retention_time_min")
    marks = [PeakMark(analyte if isinstance(rt, float) and abs(p.retention_time_min - rt) < 1e-6 else "",
                      p.retention_time_min, p.start_min, p.end_min, p.area) for p in integ.peaks]
    marks += [PeakMark(_t(lang, f"{analyte}（手动）", f"{analyte} (manual)"), float(m.fields["retention_time_min"]),
                       float(m.fields["start_min"]), float(m.fields["end_min"]), float(m.fields["area"]), manual=True)
              for m in manual]
    out["peaks"] = [vars(m) for m in marks]
    out["zoom_svg"] = _zoom(t, y, integ.baseline, [m for m in marks if m.label], lang, analyte)
    out["svg"] = chromatogram_svg(
        t.tolist(), y.tolist(), baseline=integ.baseline.tolist(), peaks=marks,
        title=_t(lang, f"色谱图 {title_of}（{auto.run_no}）", f"Chromatogram {title_of} ({auto.run_no})"),
        x_label=_t(lang, "保留时间 min", "retention time min"), y_label=_t(lang, "信号", "signal"))
    return out
