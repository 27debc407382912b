"""Setting up methods on a fresh install (no demo): `lims method import` (all or nothing, every bad row named),
`lims method signatory grant|revoke`, and the whole first start of deploy/README.md section 4 (limits,
analytes, methods) up to a result of an imported method approved by its signatory — and refused once the
authority is revoked."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import (
    Analysis,
    AuditEvent,
    Commodity,
    Method,
    MethodScope,
    MethodSignatory,
    MonitoringTask,
    Result,
    ResultStatus,
    Sample,
    User,
)
from lims.demo import qc_passed_batch
from lims.methods import EXAMPLE_ANALYTES_CSV, EXAMPLE_CSV, parse_methods_csv
from lims.services import batches, methods_admin, sampling, signoff
from lims.services.errors import Conflict, Forbidden, InvalidInput, NotFound

pytestmark = pytest.mark.db
TZ = dt.timezone(dt.timedelta(hours=8))
PASSWORD = "Fresh-Install-Pass-2026"
HEADER = "code,name,standard,kind,unit,lod_mg_kg,loq_mg_kg,decision_rule,analytes\n"


def _lims(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIMS_DATABASE_URL": db_url, "LIMS_TEST_PASSWORD": PASSWORD}
    return subprocess.run([sys.executable, "-m", "lims.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def _ok(db_url: str, *args: str) -> str:
    out = _lims(db_url, *args)
    assert out.returncode == 0, (args, out.stderr)
    return out.stdout


def _first_start(db_url: str) -> None:
    """deploy/README.md section 4 on a migrated, empty database (the fixture's), with three staff."""
    _ok(db_url, "lab", "init", "--code", "511521-01", "--name", "某县农产品质量安全检测站", "--address", "某县某路1号",
        "--region-code", "511521")
    for username, name, role in (("tech", "张伟", "technician"), ("rev", "李强", "reviewer"),
                                 ("appr", "王芳", "approver")):
        _ok(db_url, "user", "create", username, "--full-name", name, "--role", role, "--password-env",
            "LIMS_TEST_PASSWORD")
    _ok(db_url, "limits", "import", "--starter")
    _ok(db_url, "analyte", "import", str(EXAMPLE_ANALYTES_CSV), "--reason", "检测项目初始化")
    _ok(db_url, "method", "import", str(EXAMPLE_CSV))


def test_the_example_csv_holds_the_demo_methods_values():
    from lims.demo import reference

    specs = {spec.code: spec for _line, spec in parse_methods_csv(EXAMPLE_CSV.read_text("utf-8"),
                                                                  source="example").accepted}
    assert set(specs) == {"RAPID-EI", "GC-OP", "LC-BA"}
    assert (specs["RAPID-EI"].standard, specs["RAPID-EI"].kind, specs["RAPID-EI"].unit) == \
        ("GB/T 5009.199-2003", "screening", "%")
    assert specs["RAPID-EI"].lod_mg_kg is None and specs["RAPID-EI"].loq_mg_kg is None  # the demo states none
    # the demo offers RAPID-EI for its group analyte OP-CARB (a screening method screens every group analyte:
    # lims.services.views.samples.analysis_choices); the example states that pair as RAPID-EI's scope
    assert specs["RAPID-EI"].analytes == ("OP-CARB",)
    assert (specs["GC-OP"].standard, specs["GC-OP"].lod_mg_kg, specs["GC-OP"].loq_mg_kg) == ("NY/T 761-2008", 0.005, 0.01)
    assert (specs["LC-BA"].standard, specs["LC-BA"].unit, specs["LC-BA"].lod_mg_kg, specs["LC-BA"].loq_mg_kg) == \
        ("GB/T 22286-2008", "µg/kg", 0.00025, 0.0005)
    assert specs["LC-BA"].analytes == ("CLENBUTEROL", "RACTOPAMINE", "SALBUTAMOL")
    source = open(reference.__file__, encoding="utf-8").read()  # the same names as the demo's Method rows
    assert all(spec.name in source for spec in specs.values())


def test_import_is_all_or_nothing_naming_every_bad_row(db_url, db_factory, tmp_path):
    _first_start(db_url)
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "NEW-1,新方法,GB 23200.113-2018,confirmatory,mg/kg,0.01,0.01,,CHLORPYRIFOS\n"
                   "NEW-2,方法二,GB 1,screening,ppm,,,,\n"
                   "NEW-3,方法三,GB 2,confirmatory,mg/kg,0.02,0.01,,\n"
                   "NEW-4,方法四,GB 3,confirmatory,mg/kg,,,,NO-SUCH;CHLORPYRIFOS;ALSO-NOT\n"
                   "NEW-5,方法五,GB 4,rapid,mg/kg,,,,\n", encoding="utf-8")
    out = _lims(db_url, "method", "import", str(bad))
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    for part in ("4 rows rejected, nothing imported", "line 3, field 'unit'", "line 4, field 'loq_mg_kg'",
                 "line 5, field 'analytes': no analyte with code NO-SUCH, ALSO-NOT", "line 6, field 'kind'"):
        assert part in out.stderr, out.stderr
    with db_factory() as s:
        assert s.execute(select(Method.code).where(Method.code.like("NEW-%"))).first() is None
    missing = tmp_path / "missing.csv"
    missing.write_text("code,name\nX,Y\n", encoding="utf-8")
    out = _lims(db_url, "method", "import", str(missing))
    assert out.returncode == 2 and "field 'standard'" in out.stderr and "Traceback" not in out.stderr
    # a good file: created, then the same file again changes nothing but the scope given
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "GC-OP,蔬菜和水果中有机磷类农药多残留的测定 气相色谱法,NY/T 761-2008,confirmatory,mg/kg,"
                    "0.005,0.01,guard_band,CHLORPYRIFOS;ISOFENPHOS-METHYL\n", encoding="utf-8")
    doc = json.loads(_ok(db_url, "method", "import", str(good), "--json"))
    assert doc["methods"] == ["GC-OP"]
    listed = {m["code"]: m for m in json.loads(_ok(db_url, "method", "list", "--json"))}
    assert listed["GC-OP"]["analytes"] == ["CHLORPYRIFOS", "ISOFENPHOS-METHYL"]
    assert listed["GC-OP"]["decision_rule"] == "guard_band" and listed["LC-BA"]["signatories"] == []


def _reviewed_result(factory, code: str, commodity: str) -> int:
    """A chlorpyrifos result by GC-OP in ``commodity``: registered, batch QC passed, entered, authored, reviewed."""
    with session_scope(factory, actor="tech", reason="test sample") as s:
        if s.execute(select(MonitoringTask).where(MonitoringTask.code == "T-1")).first() is None:
            sampling.create_task(s, code="T-1", name="例行监测", programme_type="routine",
                                 issuing_authority="某县农业农村局", required_analytes=[])
        sampling.register_sample(s, sampling.RegisterSample(
            code=code, commodity_code=commodity, task_code="T-1", region_code="511521",
            sampled_at=dt.datetime.now(TZ) - dt.timedelta(hours=3), sampling_place="城关镇",
            sampling_link="before_harvest", samplers=["赵磊", "孙敏"], requested=[("CHLORPYRIFOS", "GC-OP")]))
    with session_scope(factory, actor="tech") as s:
        sampling.receive_sample(s, code, actor="tech", condition="完好", storage="A2")
        tech = s.execute(select(User.id).where(User.username == "tech")).scalar_one()
        analysis_id = s.execute(select(Analysis.id).join(Sample).where(Sample.code == code)).scalar_one()
        qc_passed_batch(s, f"B-{code}", "GC-OP", [analysis_id])
        rid = batches.enter_manual_result(s, analysis_id=analysis_id, value_text="0.02", value=0.02, unit="mg/kg",
                                          reason="数据系统离线，按打印谱图录入", analyst_id=tech).id
    for who, sign in (("tech", signoff.author_results), ("rev", signoff.review_results)):
        with session_scope(factory, actor=who) as s:
            sign(s, [rid], username=who, password=PASSWORD)
    return rid


def _approve(factory, rid: int) -> None:
    with session_scope(factory, actor="appr", reason="approval") as s:
        signoff.approve_results(s, [rid], username="appr", password=PASSWORD, lab_code="511521-01")


def test_fresh_install_a_granted_signatory_approves_and_a_revoked_one_is_refused(db_url, db_factory):
    _first_start(db_url)
    with db_factory() as s:
        celery = s.execute(select(Commodity.code).where(Commodity.name_zh == "芹菜")).scalar_one()
    first, second = _reviewed_result(db_factory, "S-FRESH-1", celery), _reviewed_result(db_factory, "S-FRESH-2", celery)
    with pytest.raises(Forbidden) as refused:  # the gap this closes: nobody may approve before a grant
        _approve(db_factory, first)
    assert refused.value.code == "signoff.no_signatory_authority"
    out = _lims(db_url, "method", "signatory", "grant", "appr", "GC-OP", "--reason", "授权签字人任命 2026-01")
    assert out.returncode == 0 and "appr is now a signatory of GC-OP" in out.stdout
    _approve(db_factory, first)
    with db_factory() as s:
        assert s.get(Result, first).status == ResultStatus.CERTIFIED
    out = _lims(db_url, "method", "signatory", "revoke", "appr", "GC-OP", "--reason", "调离检测岗位")
    assert out.returncode == 0, out.stderr
    with pytest.raises(Forbidden) as refused:
        _approve(db_factory, second)
    assert refused.value.code == "signoff.no_signatory_authority"
    with db_factory() as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.table_name == "method_signatory")
                           .order_by(AuditEvent.id)).scalars().all()
    assert [(e.actor, e.reason) for e in events] == [("cli:method-signatory-grant", "授权签字人任命 2026-01"),
                                                     ("cli:method-signatory-revoke", "调离检测岗位")]


def test_signatory_refusals_name_the_problem(db_url, db_factory):
    _first_start(db_url)
    for args, part in ((("grant", "tech", "GC-OP"), "field 'USER': username: tech is not an active approver"),
                       (("grant", "nobody", "GC-OP"), "no user 'nobody'"),
                       (("grant", "appr", "NO-METHOD"), "field 'METHOD'"),
                       (("revoke", "appr", "GC-OP"), "appr is not a signatory of GC-OP")):
        out = _lims(db_url, "method", "signatory", *args, "--reason", "任命或撤销测试")
        assert out.returncode == 2 and part in out.stderr and "Traceback" not in out.stderr, out.stderr
    out = _lims(db_url, "method", "signatory", "grant", "appr", "GC-OP", "--reason", "短")
    assert out.returncode == 2 and "--reason" in out.stderr
    with db_factory() as s:
        assert s.execute(select(MethodSignatory)).first() is None


def test_service_validation_names_the_field(db_factory):
    cases = ((dict(kind="rapid"), "kind"), (dict(unit="ppm"), "unit"), (dict(kind="confirmatory", unit="%"), "unit"),
             (dict(lod_mg_kg=-1.0), "lod_mg_kg"), (dict(lod_mg_kg=float("nan")), "lod_mg_kg"),
             (dict(lod_mg_kg=0.02, loq_mg_kg=0.01), "loq_mg_kg"), (dict(decision_rule="always"), "decision_rule"),
             (dict(name="  "), "name"), (dict(code="X" * 61), "code"), (dict(report_figures=0), "report_figures"))
    base = methods_admin.MethodSpec(code="M-1", name="方法", standard="GB 1", kind="confirmatory")
    for change, field in cases:
        spec = methods_admin.MethodSpec(**{**base.__dict__, **change})
        with pytest.raises(InvalidInput) as e:
            methods_admin.validate(spec)
        assert (e.value.field, e.value.code) == (field, "method.invalid"), change
    assert methods_admin.validate(methods_admin.MethodSpec(**{**base.__dict__, "unit": "ug/kg"})).unit == "µg/kg"
    with session_scope(db_factory, actor="qa", reason="test") as s:
        with pytest.raises(InvalidInput) as e:
            methods_admin.save_method(s, methods_admin.MethodSpec(**{**base.__dict__, "analytes": ("NOPE",)}))
        assert e.value.code == "method.unknown_analyte" and "NOPE" in str(e.value)
        methods_admin.save_method(s, base, create=True)
        with pytest.raises(Conflict) as e:
            methods_admin.save_method(s, base, create=True)
        assert e.value.code == "method.exists"
        with pytest.raises(NotFound):
            methods_admin.save_method(s, methods_admin.MethodSpec(**{**base.__dict__, "code": "M-2"}), create=False)
        assert s.execute(select(MethodScope)).first() is None
