"""lims.hub units: region prefixes (GB/T 2260), the business rules on schema models, NaN refused at parse,
the registry's rotation/retirement, and the monthly partitions on PostgreSQL (rows land in their month)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, text

from lims.db.engine import session_scope
from lims.db.models_hub import HubMessage
from lims.hub import registry, rules
from lims.hub.partitions import ensure_partitions, is_partition_child
from lims.services.errors import InvalidInput, NotFound
from lims.upstream import schema as w
from lims.upstream.signing import fingerprint, public_key_pem
from tests.integration.hub_support import batch, item


@pytest.mark.parametrize(("allowed", "region", "ok"), [
    ("330000", "330102", True), ("330100", "330102", True), ("330100", "330201", False), ("", "110101", True),
    ("330102", "330102", True), ("330102", "330103", False), ("330100", None, True)])
def test_region_prefix(allowed, region, ok):
    assert registry.region_allowed(allowed, region) is ok


def test_business_rules_list_every_problem_with_pointer():
    doc = w.ResultBatch.model_validate(batch([item(1, lod=0.05, loq=0.02, value=0.03), item(2)]))
    got = {(p["rule"], p["pointer"]) for p in rules.business_problems(doc)}
    assert got == {("lod_le_loq", "/results/0/result/lod"), ("value_ge_lod", "/results/0/result/value"),
                   ("one_result_per_analyte", "/results/1/analysis/analyte")}
    assert rules.business_problems(w.ResultBatch.model_validate(batch([item(1)]))) == []


def test_a_retraction_does_not_count_as_a_second_result_of_its_analyte():
    doc = w.ResultBatch.model_validate(batch([item(1), item(2, change="retraction", supersedes=1)]))
    assert rules.business_problems(doc) == []


@pytest.mark.parametrize("text_", [b'{"a": NaN}', b'{"a": [1, -Infinity]}'])
def test_parse_refuses_non_finite(text_):
    with pytest.raises(rules.Refused) as exc:
        rules.parse_json(text_)
    assert exc.value.problem.rule == "json.not_finite" and exc.value.problem.status == 422


def test_registry_rotation_and_retirement(db_factory):
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    with session_scope(db_factory, actor="t") as s:
        registry.add_lab_key(s, "LAB1", public_key_pem(old), region_code="330100", name="站")
        view = registry.add_lab_key(s, "LAB1", public_key_pem(new))
        assert [k.fingerprint for k in view.keys] == [fingerprint(old), fingerprint(new)]
        assert view.region_code == "330100" and view.name == "站"  # kept when not given again
        assert len(registry.active_keys(s, "LAB1")) == 2
        registry.retire_key(s, "LAB1", fingerprint(old))
        assert registry.active_keys(s, "LAB1") == [public_key_pem(new)]
        with pytest.raises(InvalidInput):
            registry.add_lab_key(s, "LAB1", public_key_pem(old))  # a retired key is not re-registered
        with pytest.raises(InvalidInput):
            registry.add_lab_key(s, "LAB2", "not a key")
        with pytest.raises(InvalidInput):
            registry.add_lab_key(s, "LAB2", public_key_pem(new), region_code="33")
        with pytest.raises(NotFound):
            registry.retire_key(s, "LAB1", "0" * 32)


def test_monthly_partitions_on_postgresql(db_engine):
    if db_engine.dialect.name != "postgresql":
        assert ensure_partitions(db_engine) == []
        return
    created = ensure_partitions(db_engine, today=dt.date(2031, 12, 15))
    assert created == ["hub_message_p203112", "hub_result_p203112", "hub_message_p203201", "hub_result_p203201"]
    assert all(is_partition_child(n) for n in created) and not is_partition_child("hub_message")
    assert ensure_partitions(db_engine, today=dt.date(2031, 12, 15)) == []  # idempotent
    with db_engine.begin() as c:
        c.execute(insert(HubMessage.__table__).values(receipt_id=1, lab_code="L", schema="x", payload="{}",
                                                      received_at=dt.datetime(2032, 1, 3, tzinfo=dt.UTC)))
        c.execute(insert(HubMessage.__table__).values(receipt_id=2, lab_code="L", schema="x", payload="{}",
                                                      received_at=dt.datetime(2035, 5, 1, tzinfo=dt.UTC)))
        where = dict(c.execute(text("SELECT receipt_id, tableoid::regclass::text FROM hub_message")).all())
        for name in created:
            c.execute(text(f"DROP TABLE {name}"))  # the next test's TRUNCATE names the parents only
    assert where == {1: "hub_message_p203201", 2: "hub_message_default"}
