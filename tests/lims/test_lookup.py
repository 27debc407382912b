"""Records by code (lims.services.lookup) and the read model's records (lims.services.views): the typed
refusal of an unknown code, a page's record as the API's record plus its extra keys."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lims.db.models import Batch, Commodity, MonitoringTask, Sample
from lims.demo import register_samples, seed_reference
from lims.services.errors import InvalidInput, NotFound
from lims.services.lookup import code_exists, find_by_code, get_by_code, known_by_code
from lims.services.views import batches as batch_views
from lims.services.views import samples as sample_views


@pytest.fixture()
def seeded(db_factory):
    seed_reference(db_factory)
    register_samples(db_factory)
    return db_factory


def test_get_by_code_finds_or_refuses_with_the_stable_code(seeded) -> None:
    with seeded() as s:
        code = s.execute(select(Sample.code).order_by(Sample.id)).scalars().first()
        assert get_by_code(s, Sample, code).code == code
        assert find_by_code(s, Sample, code) is get_by_code(s, Sample, code)
        assert find_by_code(s, Sample, "NOPE") is None
        with pytest.raises(NotFound) as err:
            get_by_code(s, MonitoringTask, "NOPE", field="task_code", what="task")
        assert (err.value.code, err.value.field, str(err.value)) == ("not_found", "task_code",
                                                                     "task NOPE does not exist")
        with pytest.raises(NotFound, match="monitoring task NOPE"):
            get_by_code(s, MonitoringTask, "NOPE")  # the table's name when no word is given


def test_a_reference_named_in_a_request_is_bad_input_not_a_missing_resource(seeded) -> None:
    with seeded() as s:
        commodity = s.execute(select(Commodity)).scalars().first()
        assert known_by_code(s, Commodity, commodity.code, field="commodity_code") is commodity
        with pytest.raises(InvalidInput) as err:
            known_by_code(s, Commodity, "NOPE", field="commodity_code", what="commodity code")
        assert err.value.field == "commodity_code" and err.value.status_code == 422
        assert str(err.value) == "unknown commodity code 'NOPE'"
        assert code_exists(s, Commodity, commodity.code) and not code_exists(s, Commodity, "NOPE")


def test_extra_conditions_narrow_the_lookup(seeded) -> None:
    with seeded() as s:
        code = s.execute(select(Sample.code)).scalars().first()
        assert find_by_code(s, Sample, code, Sample.status == "no such status") is None


def test_the_sample_page_record_extends_the_api_record(seeded) -> None:
    with seeded() as s:
        code = s.execute(select(Sample.code).order_by(Sample.id)).scalars().first()
        api = sample_views.sample_detail(s, code)
        page = sample_views.sample_record(s, code)
        shown_in_full = ("analyses", "sampling_link", "producer")  # the page words or expands these
        assert {k: page[k] for k in api if k not in shown_in_full} == {
            k: v for k, v in api.items() if k not in shown_in_full}
        assert page["producer"] is None or page["producer"]["name"] == api["producer"]
        assert [a["id"] for a in page["analyses"]] == [a["id"] for a in api["analyses"]]
        assert {"custody", "reports", "producer", "task", "commodity_en"} <= set(page)
        with pytest.raises(NotFound):
            sample_views.sample_detail(s, "NOPE")


def test_an_unknown_batch_is_none_on_the_page_and_not_found_in_the_api(seeded) -> None:
    with seeded() as s:
        assert s.execute(select(Batch)).first() is None
        assert batch_views.batch_record(s, "NOPE") is None
        with pytest.raises(NotFound):
            batch_views.batch_detail(s, "NOPE")
