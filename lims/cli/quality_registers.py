"""`lims quality instrument|material|staff|env|stats …`: the quality registers (lims/quality/instruments,
materials, staff, environment, statistics). Registered into ``lims quality`` by lims.cli.quality; the
database code is imported when a command runs.

    lims quality instrument list [--within-days N] [--json]
    lims quality instrument check CODE --kind K --performed YYYY-MM-DD --outcome pass|fail|n/a --by WHO
                                  [--due YYYY-MM-DD] [--certificate-no NO] [--certificate FILE] [--provider P]
    lims quality instrument overdue-ncs --by WHO [--json]
    lims quality material list [--expiring-within DAYS] [--json]
    lims quality material add CODE --kind K --name N --expires YYYY-MM-DD [--manufactured D] [--opened D]
                              [--in-use-days N] [--concentration X --unit U --uncertainty U] [--supplier S]
                              [--lot-no L] [--certificate-no C] [--storage S] --by WHO
    lims quality staff matrix [--json]
    lims quality staff grant USER METHOD [--test] [--review] [--sign] --from D [--until D] [--instrument C] --by WHO
    lims quality env poll CODE --by WHO [--json]
    lims quality env watch [--every SECONDS] [--once] [--by WHO] [--json]   (automatic records)
    lims quality env record CODE [--temperature C] [--humidity PCT] --by WHO [--json]
    lims quality stats survey|review YEAR [--csv FILE] [--pdf FILE] [--json]

Bad input (an unknown value, dates in the wrong order, a file over the size limit) is exit 2 with one line
naming the option; a refusal (a sensor that cannot be read) is exit 1 with its reason."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lims.cli import quality
from lims.cli.common import EXIT_FAILURE, EXIT_OK, BadInput, emit_json

Sub = argparse._SubParsersAction  # type: ignore[type-arg]


def register_into(actions: Sub) -> None:
    """Adds ``instrument``, ``material``, ``staff``, ``env`` and ``stats`` to ``lims quality``."""
    _instrument(actions.add_parser("instrument", help="仪器登记、检定/校准 / instruments").add_subparsers(
        dest="instrument_command", metavar="ACTION", required=True))
    _material(actions.add_parser("material", help="试剂与标准物质 / materials").add_subparsers(
        dest="material_command", metavar="ACTION", required=True))
    _staff(actions.add_parser("staff", help="人员授权 / staff").add_subparsers(
        dest="staff_command", metavar="ACTION", required=True))
    _env(actions.add_parser("env", help="环境温湿度 / environment").add_subparsers(
        dest="env_command", metavar="ACTION", required=True))
    stats = actions.add_parser("stats", help="年度统计与管理评审 / statistics").add_subparsers(
        dest="stats_command", metavar="ACTION", required=True)
    for name in ("survey", "review"):
        p = stats.add_parser(name, help="annual survey" if name == "survey" else "management review inputs (8.9.2)")
        p.add_argument("year", type=int)
        p.add_argument("--csv", help="write the CSV here")
        p.add_argument("--pdf", help="write the PDF here")
        _out(p, _stats)


def _out(p: argparse.ArgumentParser, handler: Callable[[argparse.Namespace], int]) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=handler)


def _instrument(sub: Sub) -> None:
    p = sub.add_parser("list", help="fitness and calibration due dates")
    p.add_argument("--within-days", type=int, default=30)
    _out(p, _instrument_list)
    p = sub.add_parser("check", help="record a calibration, verification, intermediate check, maintenance, repair")
    p.add_argument("code")
    p.add_argument("--kind", required=True)
    p.add_argument("--performed", required=True)
    p.add_argument("--outcome", required=True)
    p.add_argument("--due")
    p.add_argument("--certificate-no", default="")
    p.add_argument("--certificate", help="certificate file (hash stored)")
    p.add_argument("--provider", default="")
    p.add_argument("--acceptance", default="")
    p.add_argument("--by", required=True)
    _out(p, _instrument_check)
    p = sub.add_parser("overdue-ncs", help="raise a nonconformity for each overdue calibration")
    p.add_argument("--by", required=True)
    _out(p, _overdue_ncs)


def _material(sub: Sub) -> None:
    p = sub.add_parser("list", help="lots, soonest usable-until first")
    p.add_argument("--expiring-within", type=int)
    _out(p, _material_list)
    p = sub.add_parser("add", help="receive a lot")
    p.add_argument("code")
    for opt in ("--kind", "--name", "--expires"):
        p.add_argument(opt, required=True)
    for opt in ("--manufactured", "--opened", "--unit", "--supplier", "--lot-no", "--certificate-no", "--storage",
                "--analyte"):
        p.add_argument(opt)
    p.add_argument("--in-use-days", type=int)
    p.add_argument("--concentration", type=float)
    p.add_argument("--uncertainty", type=float)
    p.add_argument("--by", required=True)
    _out(p, _material_add)


def _staff(sub: Sub) -> None:
    _out(sub.add_parser("matrix", help="the authorisation matrix"), _matrix)
    p = sub.add_parser("grant", help="add an authorisation")
    p.add_argument("username")
    p.add_argument("method")
    for flag in ("--test", "--review", "--sign"):
        p.add_argument(flag, action="store_true")
    p.add_argument("--from", dest="valid_from", required=True)
    p.add_argument("--until")
    p.add_argument("--instrument")
    p.add_argument("--by", required=True)
    _out(p, _grant)


def _env(sub: Sub) -> None:
    p = sub.add_parser("poll", help="read a location's Modbus sensor and record it")
    p.add_argument("code")
    p.add_argument("--by", required=True)
    _out(p, _env_poll)
    p = sub.add_parser("watch", help="poll every location with a sensor, every --every seconds (Ctrl-C stops)")
    p.add_argument("--every", type=float, default=300.0)
    p.add_argument("--once", action="store_true", help="one round, then exit")
    p.add_argument("--by", default="system:env")
    _out(p, _env_watch)
    p = sub.add_parser("record", help="record a reading by hand")
    p.add_argument("code")
    p.add_argument("--temperature", type=float)
    p.add_argument("--humidity", type=float)
    p.add_argument("--by", required=True)
    _out(p, _env_record)


_date = quality._date  # YYYY-MM-DD or exit 2 naming the option


#: Service field → the option that gave it (the rest: ``--field-name``).
OPTIONS = {"valid_until": "--until", "valid_from": "--from", "performed_on": "--performed", "due_on": "--due",
           "expires_on": "--expires", "manufactured_on": "--manufactured", "opened_on": "--opened",
           "method_code": "METHOD", "instrument_code": "--instrument", "code": "CODE", "location": "CODE"}


_Failed = quality._Failed  # a refusal already printed by the unit of work


def _unit(actor: str, work: Callable[[Any], Any]) -> Any:
    return quality._unit(actor, work, OPTIONS)


def _run(args: argparse.Namespace, actor: str, work: Callable[[Any], Any], text: Callable[[Any], str]) -> int:
    return quality._run(args, actor, work, text, OPTIONS)


def _instrument_list(args: argparse.Namespace) -> int:
    from lims.quality import instruments as ins

    def work(s: Any) -> dict[str, Any]:
        return {"instruments": [{"instrument": f.instrument, "fitness": f.fitness, "may_feed": f.may_feed,
                                 "calibration_due": f.calibration_due.isoformat() if f.calibration_due else None,
                                 "reason": f.reason} for f in ins.schedule(s, within_days=args.within_days)]}
    return _run(args, "cli:quality", work, lambda d: "\n".join(
        f"{i['instrument']}  {i['fitness']}  due {i['calibration_due']}  {i['reason']}" for i in d["instruments"]) or "无 / none")


def _instrument_check(args: argparse.Namespace) -> int:
    from lims.quality import instruments as ins

    performed, due = _date(args.performed, "--performed"), _date(args.due, "--due")
    data = _read_file(args.certificate, "--certificate") if args.certificate else None
    return _run(args, args.by, lambda s: {"id": ins.record_check(
        s, args.code, kind=args.kind, performed_on=performed, outcome=args.outcome, recorded_by=args.by, due_on=due,
        provider=args.provider, certificate_no=args.certificate_no, certificate=data,
        certificate_name=Path(args.certificate).name if args.certificate else "", acceptance=args.acceptance).id},
        lambda d: f"recorded check {d['id']}")


def _read_file(path: str, field: str) -> bytes:
    from lims.quality.common import MAX_FILE_BYTES

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}", field=field) from None
    if len(data) > MAX_FILE_BYTES:
        raise BadInput(f"{path} is over the limit of {MAX_FILE_BYTES} bytes", field=field)
    return data


def _overdue_ncs(args: argparse.Namespace) -> int:
    from lims.quality import instruments as ins

    return _run(args, args.by, lambda s: {"nonconformity_ids": ins.raise_overdue(s, raised_by=args.by)},
                lambda d: f"raised {len(d['nonconformity_ids'])} nonconformit(ies): {d['nonconformity_ids']}")


def _lot_doc(lot: Any) -> dict[str, Any]:
    from lims.quality import materials as mat

    return {"code": lot.code, "kind": lot.kind, "name": lot.name, "expires_on": lot.expires_on.isoformat(),
            "usable_until": mat.usable_until(lot).isoformat(), "concentration": lot.concentration,
            "unit": lot.concentration_unit, "uncertainty": lot.uncertainty}


def _material_list(args: argparse.Namespace) -> int:
    from lims.quality import materials as mat

    return _run(args, "cli:quality", lambda s: {"lots": [
        _lot_doc(x) for x in mat.list_lots(s, expiring_within_days=args.expiring_within)]},
        lambda d: "\n".join(f"{x['code']}  {x['name']}  usable until {x['usable_until']}" for x in d["lots"]) or "无 / none")


def _material_add(args: argparse.Namespace) -> int:
    from lims.quality import materials as mat

    lot = mat.NewLot(code=args.code, kind=args.kind, name=args.name, expires_on=_date(args.expires, "--expires"),  # type: ignore[arg-type]
                     manufactured_on=_date(args.manufactured, "--manufactured"), opened_on=_date(args.opened, "--opened"),
                     in_use_days=args.in_use_days, concentration=args.concentration, concentration_unit=args.unit or "",
                     uncertainty=args.uncertainty, supplier=args.supplier or "", lot_no=args.lot_no or "",
                     certificate_no=args.certificate_no or "", storage=args.storage or "", analyte_code=args.analyte or "")
    return _run(args, args.by, lambda s: _lot_doc(mat.add_lot(s, lot)), lambda d: f"lot {d['code']} received")


def _matrix(args: argparse.Namespace) -> int:
    from lims.quality import staff

    def work(s: Any) -> dict[str, Any]:
        return {"authorisations": [{**r, "valid_from": r["valid_from"].isoformat(),  # type: ignore[attr-defined]
                                    "valid_until": r["valid_until"].isoformat() if r["valid_until"] else None}  # type: ignore[attr-defined]
                                   for r in staff.matrix(s)]}
    return _run(args, "cli:quality", work, lambda d: "\n".join(
        f"{r['username']}  {r['method']}  {r['instrument'] or '*'}  test={r['may_test']} review={r['may_review']} "
        f"sign={r['may_sign']}  {r['valid_from']}..{r['valid_until'] or ''}" for r in d["authorisations"]) or "无 / none")


def _grant(args: argparse.Namespace) -> int:
    from lims.quality import staff

    g = staff.Grant(username=args.username, method_code=args.method, valid_from=_date(args.valid_from, "--from"),  # type: ignore[arg-type]
                    valid_until=_date(args.until, "--until"), instrument_code=args.instrument, granted_by=args.by,
                    may_test=args.test, may_review=args.review, may_sign=args.sign)
    return _run(args, args.by, lambda s: {"id": staff.grant(s, g).id}, lambda d: f"authorisation {d['id']} granted")


def _env_doc(r: Any) -> dict[str, Any]:
    return {"id": r.id, "at": r.at.isoformat(), "temperature_c": r.temperature_c, "humidity_pct": r.humidity_pct,
            "alarm": r.alarm, "nonconformity_id": r.nonconformity_id}


def _env_text(d: dict[str, Any]) -> str:
    return f"{d['at']}  {d['temperature_c']} °C  {d['humidity_pct']} %RH  {d['alarm'] or 'OK'}"


def _env_poll(args: argparse.Namespace) -> int:
    from lims.quality import environment as env

    return _run(args, args.by, lambda s: _env_doc(env.poll(s, args.code, raised_by=args.by)), _env_text)


def _env_watch(args: argparse.Namespace) -> int:
    """Each location's poll is its own unit of work: a sensor that cannot be read is reported (stderr) and
    the others are still recorded; exit 1 if any failed in the last round of ``--once``."""
    import time

    from lims.quality import environment as env

    if not args.every > 0:
        raise BadInput("--every must be a positive number of seconds", field="--every")
    codes = _unit(args.by, lambda s: [x.code for x in env.list_locations(s) if x.sensor_url])
    while True:
        failed, done = 0, []
        for code in codes:
            try:
                done.append(_unit(args.by, lambda s, c=code: _env_doc(env.poll(s, c, raised_by=args.by))))
            except (_Failed, BadInput) as exc:
                failed += 1
                if isinstance(exc, BadInput):  # a refusal (_Failed) was printed by _unit
                    print(f"lims quality env watch: {code}: {exc}", file=sys.stderr)
        if args.json:
            emit_json({"records": done, "failed": failed})
        else:
            print("\n".join(_env_text(d) for d in done) or "无 / none")
        if args.once:
            return EXIT_FAILURE if failed else EXIT_OK
        try:
            time.sleep(args.every)
        except KeyboardInterrupt:
            return EXIT_OK


def _env_record(args: argparse.Namespace) -> int:
    from lims.quality import environment as env

    return _run(args, args.by, lambda s: _env_doc(env.record(
        s, args.code, temperature_c=args.temperature, humidity_pct=args.humidity, raised_by=args.by)), _env_text)


def _stats(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from lims.db.models import Lab
    from lims.quality import statistics, survey_report

    def work(s: Any) -> dict[str, Any]:
        survey = args.stats_command == "survey"
        rows = statistics.survey_rows(statistics.survey(s, args.year)) if survey else statistics.review_pack(s, args.year)
        cols = ("section", "item", "value") if survey else ("clause", "item", "value")
        lab = s.execute(select(Lab).order_by(Lab.id)).scalars().first()
        if args.csv:
            Path(args.csv).write_text(survey_report.csv_text(rows, cols), encoding="utf-8")
        if args.pdf:
            render = survey_report.survey_pdf if survey else survey_report.review_pdf
            Path(args.pdf).write_bytes(render(rows, year=args.year, lab_name=lab.name if lab else ""))
        return {"year": args.year, "rows": rows}
    return _run(args, "cli:quality", work, lambda d: "\n".join(
        "  ".join(str(v) for v in r.values()) for r in d["rows"]))
