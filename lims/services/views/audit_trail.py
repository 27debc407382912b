"""The audit trail as people read it (the web UI's /audit): filtered by who (a person), when (local dates,
Beijing time), which kind of record (in words, not table names) and what action; people shown by name and
records by what identifies them (sample code, batch code, report number…), not by row ids. Sign-ins and
sign-outs (the ``login``/``logout`` events and the session tokens they write) are left out unless asked for:
they are most of the rows and rarely what an auditor looks for (ISO/IEC 17025:2017 7.5, 8.4; 21 CFR 11.10(e))."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import not_, or_, select
from sqlalchemy.orm import Session

from lims.db.models import Analysis, AuditEvent, Batch, Instrument, Report, Result, Sample, User
from lims.services import queries
from lims.services.signoff import TZ_CHINA
from lims.services.views.audit import audit_changes

#: Record types in words: table → (Chinese, English).
TABLE_WORDS: dict[str, tuple[str, str]] = {
    "sample": ("样品", "sample"), "analysis": ("检测项目", "analysis"), "result": ("检测结果", "result"),
    "signature": ("电子签名", "e-signature"), "batch": ("批次", "batch"), "qc_sample": ("质控样", "QC sample"),
    "report": ("检验报告", "report"), "custody_event": ("样品流转记录", "custody event"),
    "calibration_curve": ("标准曲线", "calibration curve"), "instrument": ("仪器", "instrument"),
    "user_account": ("用户账户", "user account"), "user_role": ("用户角色", "user role"),
    "api_token": ("登录会话与接口密钥", "session or API key"), "lab": ("实验室", "laboratory"),
    "method": ("检测方法", "method"), "method_scope": ("方法适用范围", "method scope"),
    "method_signatory": ("授权签字人", "authorised signatory"), "method_qc": ("方法质控要求", "method QC"),
    "method_validation": ("方法验证", "method validation"), "analyte": ("检测项目（参数）", "analyte"),
    "commodity": ("产品", "commodity"), "limit_entry": ("限量标准", "limit (MRL)"), "producer": ("受检单位", "producer"),
    "inspector": ("抽样人员", "inspector"), "monitoring_task": ("监测任务", "monitoring task"),
    "sampling_assignment": ("抽样安排", "sampling assignment"), "outbox_message": ("上报消息", "upstream message"),
    "outbox_item": ("上报条目", "upstream item"), "reading": ("仪器读数", "instrument reading"),
    "reading_disposition": ("读数指派/忽略", "reading assigned or dismissed"),
    "raw_capture": ("仪器原始数据", "raw capture"), "qc_run": ("质控运行（Westgard）", "QC run (Westgard)"),
    "qc_run_value": ("质控运行数值", "QC run value"), "qc_target": ("质控靶值", "QC target"),
    "nonconformity": ("不符合工作", "nonconformity"), "nc_link": ("不符合关联记录", "nonconformity link"),
    "capa_action": ("纠正措施", "corrective action"), "quality_audit": ("内部审核", "internal audit"),
    "audit_finding": ("审核发现", "audit finding"), "audit_programme": ("审核方案", "audit programme"),
    "complaint": ("投诉", "complaint"), "instrument_check": ("仪器检定/校准/核查", "instrument check"),
    "instrument_register": ("仪器设备档案", "instrument register"), "material_lot": ("试剂/标准物质批次", "material lot"),
    "pt_scheme": ("能力验证计划", "PT scheme"), "pt_round": ("能力验证轮次", "PT round"),
    "pt_round_analyte": ("能力验证项目", "PT analyte"), "pt_test_item": ("能力验证样品", "PT test item"),
    "pt_participant": ("能力验证参加者", "PT participant"), "pt_submission": ("能力验证结果提交", "PT submission"),
    "pt_score": ("能力验证评价", "PT score"), "pt_item_measurement": ("均匀性/稳定性测量", "PT item measurement"),
}
#: Events of signing in and out: these actions, and every row written under these reasons (the session token).
LOGIN_ACTIONS = ("login", "logout")
LOGIN_REASONS = ("login", "logout")
#: Records shown by their code (the column named) and linked to a page (path template).
CODED = {"sample": (Sample, "code", "/samples/{}"), "batch": (Batch, "code", "/batches/{}"),
         "instrument": (Instrument, "code", "/instruments/{}"), "report": (Report, "report_no", None),
         "user_account": (User, "full_name", None)}
LINKED = {"result": "/results/{}", "nonconformity": "/quality/ncs/{}"}


def table_words(table: str) -> tuple[str, str]:
    return TABLE_WORDS.get(table, (f"其他记录（{table}）", f"other record ({table})"))


def _utc_bound(day: dt.date | None) -> str | None:
    """The UTC instant (as stored: ISO-8601) at which the local (Beijing) ``day`` begins."""
    if day is None:
        return None
    start = dt.datetime.combine(day, dt.time(0), tzinfo=TZ_CHINA).astimezone(dt.UTC)
    return start.isoformat(timespec="microseconds")


def _filtered(*, actor: str, table: str, action: str, since: dt.date | None, until: dt.date | None,
              logins: bool) -> Any:
    q = select(AuditEvent)
    if actor:
        q = q.where(AuditEvent.actor == actor)
    if table:
        q = q.where(AuditEvent.table_name == table)
    if action:
        q = q.where(AuditEvent.action == action)
    if since is not None:
        q = q.where(AuditEvent.at >= _utc_bound(since))
    if until is not None:
        q = q.where(AuditEvent.at < _utc_bound(until + dt.timedelta(days=1)))
    if not logins:
        q = q.where(not_(or_(AuditEvent.action.in_(LOGIN_ACTIONS),
                             AuditEvent.reason.in_(LOGIN_REASONS))))
    return q


def _record_names(s: Session, events: list[AuditEvent]) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(table, record id) → (what identifies the record, its page or None), for the events shown."""
    wanted: dict[str, set[int]] = {}
    for e in events:
        if e.record_id.isdigit():
            wanted.setdefault(e.table_name, set()).add(int(e.record_id))
    out: dict[tuple[str, str], tuple[str, str | None]] = {}
    for table, (model, column, link) in CODED.items():
        for rid, name in s.execute(select(model.id, getattr(model, column)).where(
                model.id.in_(wanted.get(table, set())))).all() if wanted.get(table) else ():
            out[(table, str(rid))] = (str(name), link.format(name) if link else None)
    if wanted.get("result"):
        for rid, code in s.execute(select(Result.id, Sample.code).join(Analysis, Analysis.id == Result.analysis_id)
                                   .join(Sample, Sample.id == Analysis.sample_id)
                                   .where(Result.id.in_(wanted["result"]))).all():
            out[("result", str(rid))] = (f"{code} · #{rid}", f"/results/{rid}")
    if wanted.get("analysis"):
        for aid, code in s.execute(select(Analysis.id, Sample.code).join(Sample, Sample.id == Analysis.sample_id)
                                   .where(Analysis.id.in_(wanted["analysis"]))).all():
            out[("analysis", str(aid))] = (f"{code} · #{aid}", f"/samples/{code}")
    return out


def _people(s: Session) -> dict[str, str]:
    return dict(s.execute(select(User.username, User.full_name)).all())


def audit_trail(s: Session, *, actor: str = "", table: str = "", action: str = "", since: dt.date | None = None,
                until: dt.date | None = None, logins: bool = False, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """A page of audit events, newest first, with the choices of the filters (people, record types)."""
    q = _filtered(actor=actor, table=table, action=action, since=since, until=until, logins=logins)
    total, exact = queries.count_capped(s, q)
    events = list(s.execute(q.order_by(AuditEvent.seq.desc()).limit(limit).offset(offset)).scalars())
    people = _people(s)
    names = _record_names(s, events)
    tables = sorted(s.execute(select(AuditEvent.table_name).distinct()).scalars(),
                    key=lambda t: (t not in TABLE_WORDS, table_words(t)[1]))
    rows = []
    for e in events:
        name, link = names.get((e.table_name, e.record_id), (f"#{e.record_id}", LINKED.get(e.table_name, "").format(
            e.record_id) or None))
        zh, en = table_words(e.table_name)
        rows.append({"seq": e.seq, "at": e.at, "actor": e.actor, "actor_name": people.get(e.actor, ""),
                     "action": e.action, "table": e.table_name, "table_zh": zh, "table_en": en,
                     "record": name, "link": link, "changes": audit_changes(e.old, e.new), "reason": e.reason,
                     "hash": e.hash})
    return {"total": total, "exact": exact, "events": rows,
            "people": sorted(people.items(), key=lambda p: p[1]),
            "tables": [{"table": t, "zh": table_words(t)[0], "en": table_words(t)[1]} for t in tables]}
