"""Analytes on a fresh install (no demo): lims.services.analytes_admin (code pattern, printed names, CAS number
with its check digit, kind, an audited reason) and `lims analyte import|list` (all or nothing, every bad row by
line and field); the fresh-install path analyte import → method import with OP-CARB in RAPID-EI's scope."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import Analyte, AuditEvent, Method, MethodScope
from lims.methods import EXAMPLE_ANALYTES_CSV, EXAMPLE_CSV, parse_analytes_csv
from lims.services import analytes_admin
from lims.services.analytes_admin import AnalyteSpec
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.services.views.samples import analysis_choices
from tests.lims.test_methods_admin import _lims, _ok

HEADER = "code,name_zh,name_en,cas,kind\n"
CHLORPYRIFOS = AnalyteSpec(code="CPF", name_zh="毒死蜱（测试）", name_en="chlorpyrifos", cas="2921-88-2")


@pytest.mark.parametrize("cas,valid", [
    ("2921-88-2", True),     # chlorpyrifos
    ("37148-27-9", True),    # clenbuterol
    ("7732-18-5", True),     # water
    ("2921-88-3", False),    # chlorpyrifos with a wrong check digit
    ("37148-27-8", False),
    ("29218-8-2", False),    # the right digits, the hyphens misplaced
    ("2921882", False),
])
def test_cas_number_is_checked_by_its_check_digit(cas, valid):
    spec = AnalyteSpec(code="X1", name_zh="某农药", cas=cas)
    if valid:
        assert analytes_admin.validate(spec).cas == cas
        return
    with pytest.raises(InvalidInput) as e:
        analytes_admin.validate(spec)
    assert (e.value.field, e.value.code) == ("cas", "analyte.invalid")


def test_validation_names_the_field():
    base = AnalyteSpec(code="OP-CARB", name_zh="有机磷和氨基甲酸酯类农药", kind="group")
    cases = ((dict(code="op carb"), "code"), (dict(code="-X"), "code"), (dict(code="A/B"), "code"),
             (dict(code="X" * 61), "code"), (dict(name_zh="  "), "name_zh"), (dict(name_zh="毒死\u202e蜱"), "name_zh"),
             (dict(name_en="chlor\u200bpyrifos"), "name_en"), (dict(name_zh="农" * 121), "name_zh"),
             (dict(kind="herbicide"), "kind"), (dict(cas="2921-88-2"), "cas"))  # a group has no CAS number
    for change, field in cases:
        with pytest.raises(InvalidInput) as e:
            analytes_admin.validate(AnalyteSpec(**{**base.__dict__, **change}))
        assert (e.value.field, e.value.code) == (field, "analyte.invalid"), change
    ok = analytes_admin.validate(AnalyteSpec(code=" CPF ", name_zh=" 毒死蜱 ", cas=" 2921-88-2 "))
    assert (ok.code, ok.name_zh, ok.name_en, ok.cas, ok.kind) == ("CPF", "毒死蜱", "毒死蜱", "2921-88-2", "pesticide")
    assert set(analytes_admin.KINDS) == {"pesticide", "vet_drug", "banned", "group"}  # lims.db.models.Analyte.kind


@pytest.mark.db
def test_save_is_audited_with_its_reason_and_refuses_clashes(db_factory):
    with session_scope(db_factory, actor="qa") as s:
        with pytest.raises(InvalidInput) as e:
            analytes_admin.save_analyte(s, CHLORPYRIFOS, reason="短")
        assert e.value.code == "analyte.reason_required"
        analytes_admin.save_analyte(s, CHLORPYRIFOS, reason="新增检测项目 毒死蜱", create=True)
    with session_scope(db_factory, actor="qa") as s:
        with pytest.raises(Conflict) as e:
            analytes_admin.save_analyte(s, CHLORPYRIFOS, reason="再次新增同一代码", create=True)
        assert e.value.code == "analyte.exists"
        with pytest.raises(Conflict) as e:  # the limits import finds an analyte by its Chinese name
            analytes_admin.save_analyte(s, AnalyteSpec(**{**CHLORPYRIFOS.__dict__, "code": "CPF-2"}), reason="重复名称测试")
        assert (e.value.code, e.value.field) == ("analyte.name_exists", "name_zh")
        with pytest.raises(NotFound):
            analytes_admin.save_analyte(s, AnalyteSpec(code="NOPE", name_zh="无"), reason="修改不存在的项目", create=False)
        analytes_admin.save_analyte(s, AnalyteSpec(**{**CHLORPYRIFOS.__dict__, "kind": "banned"}),
                                    reason="按公告改为禁用物质", create=False)
    with db_factory() as s:
        assert analytes_admin.analyte_row(s, "CPF").kind == "banned"
        events = s.execute(select(AuditEvent.action, AuditEvent.actor, AuditEvent.reason)
                           .where(AuditEvent.table_name == "analyte").order_by(AuditEvent.id)).all()
    assert [(str(a).lower(), actor, reason) for a, actor, reason in events] == \
        [("create", "qa", "新增检测项目 毒死蜱"), ("update", "qa", "按公告改为禁用物质")]


@pytest.mark.db
def test_the_example_csv_holds_the_demo_group_analyte(db_factory):
    from lims import demo

    specs = {spec.code: spec for _line, spec in parse_analytes_csv(EXAMPLE_ANALYTES_CSV.read_text("utf-8"),
                                                                   source="example").accepted}
    assert set(specs) == {"OP-CARB"}
    demo.seed_reference(db_factory)
    with db_factory() as s:
        op = s.execute(select(Analyte).where(Analyte.code == "OP-CARB")).scalar_one()
        assert (specs["OP-CARB"].name_zh, specs["OP-CARB"].name_en, specs["OP-CARB"].cas, specs["OP-CARB"].kind) == \
            (op.name_zh, op.name_en, op.cas, op.kind) == ("有机磷和氨基甲酸酯类农药", "organophosphates and carbamates",
                                                          "", "group")
        # the demo's RAPID-EI has no scope row: a screening method is offered for every group analyte; the
        # example CSV states the same pair as RAPID-EI's scope
        assert s.execute(select(MethodScope).join(Method).where(Method.code == "RAPID-EI")).first() is None
        assert "OP-CARB|RAPID-EI" in {c["value"] for c in analysis_choices(s)}


@pytest.mark.db
def test_cli_import_is_all_or_nothing_naming_every_bad_row(db_url, db_factory, tmp_path):
    _ok(db_url, "limits", "import", "--starter")
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "OP-CARB,有机磷和氨基甲酸酯类农药,organophosphates and carbamates,,group\n"
                   "PHOXIM,辛硫磷,phoxim,14816-18-3,pesticide\n"
                   "CPF-X,毒死蜱X,chlorpyrifos,2921-88-3,pesticide\n"
                   "bad code,某农药,x,,pesticide\n"
                   "TRIAZOPHOS,三唑磷,triazophos,24017-47-8,herbicide\n"
                   "PHOXIM,辛硫磷二,phoxim,,pesticide\n"
                   "CPF-2,毒死蜱,chlorpyrifos,2921-88-2,pesticide\n", encoding="utf-8")
    out = _lims(db_url, "analyte", "import", str(bad))
    assert out.returncode == 2 and out.stdout == "", out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    for part in ("5 rows rejected, nothing imported", "line 4, field 'cas': '2921-88-3' is not a CAS Registry Number",
                 "line 5, field 'code'", "line 6, field 'kind'", "line 7, field 'code': PHOXIM is also on line 3",
                 "line 8, field 'name_zh': analyte CHLORPYRIFOS is already named 毒死蜱"):
        assert part in out.stderr, out.stderr
    with db_factory() as s:
        assert s.execute(select(Analyte).where(Analyte.code.in_(("OP-CARB", "PHOXIM")))).first() is None
    missing = tmp_path / "missing.csv"
    missing.write_text("code,name_zh\nX,Y\n", encoding="utf-8")
    out = _lims(db_url, "analyte", "import", str(missing))
    assert out.returncode == 2 and "field 'name_en'" in out.stderr and "Traceback" not in out.stderr
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "PHOXIM,辛硫磷,phoxim,14816-18-3,pesticide\n", encoding="utf-8")
    doc = json.loads(_ok(db_url, "analyte", "import", str(good), "--json", "--reason", "新增辛硫磷（韭菜专项）"))
    assert doc["analytes"] == ["PHOXIM"]
    listed = {a["code"]: a for a in json.loads(_ok(db_url, "analyte", "list", "--json"))}
    assert listed["PHOXIM"] == {"code": "PHOXIM", "name_zh": "辛硫磷", "name_en": "phoxim", "cas": "14816-18-3",
                                "kind": "pesticide"}
    assert listed["CHLORPYRIFOS"]["cas"] == "2921-88-2"  # the starter table's analytes are listed too
    assert "PHOXIM  pesticide  14816-18-3  辛硫磷 / phoxim" in _ok(db_url, "analyte", "list")
    with db_factory() as s:
        event = s.execute(select(AuditEvent.actor, AuditEvent.reason).where(AuditEvent.table_name == "analyte")
                          .order_by(AuditEvent.id.desc())).first()
    assert tuple(event) == ("cli:analyte-import", "新增辛硫磷（韭菜专项）")


@pytest.mark.db
def test_fresh_install_analyte_import_then_method_import_with_op_carb_in_scope(db_url, db_factory):
    _ok(db_url, "limits", "import", "--starter")
    out = _lims(db_url, "method", "import", str(EXAMPLE_CSV))  # the gap: OP-CARB is in no limits table
    assert out.returncode == 2 and "line 2, field 'analytes': no analyte with code OP-CARB" in out.stderr, out.stderr
    assert "OP-CARB" in _ok(db_url, "analyte", "import", str(EXAMPLE_ANALYTES_CSV))
    _ok(db_url, "method", "import", str(EXAMPLE_CSV))
    methods = {m["code"]: m for m in json.loads(_ok(db_url, "method", "list", "--json"))}
    assert methods["RAPID-EI"]["analytes"] == ["OP-CARB"] and methods["RAPID-EI"]["unit"] == "%"
    assert methods["GC-OP"]["analytes"] == ["CHLORPYRIFOS"]
    with db_factory() as s:
        choices = {c["value"]: c for c in analysis_choices(s)}
    assert choices["OP-CARB|RAPID-EI"]["kind"] == "screening"  # the registration form offers the screen
    assert choices["OP-CARB|RAPID-EI"]["analyte_zh"] == "有机磷和氨基甲酸酯类农药"
    # importing the same file again changes nothing and writes no audit event for the analyte
    with db_factory() as s:
        before = len(s.execute(select(AuditEvent.id).where(AuditEvent.table_name == "analyte")).all())
    _ok(db_url, "analyte", "import", str(EXAMPLE_ANALYTES_CSV))
    with db_factory() as s:
        assert len(s.execute(select(AuditEvent.id).where(AuditEvent.table_name == "analyte")).all()) == before
