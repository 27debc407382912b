"""Homogeneity and stability of a PT round's items entered in the browser (/pt/rounds/{code}/homogeneity):
ISO 13528:2022 Annex E.2 (arsenic in chocolate) typed in the table and uploaded as the CLI's CSV gives the
published figures on the page and is stored with the round; a missing replicate or a non-number is refused
naming the row and the field in Chinese and stores nothing; a participant and a technician get the 403 page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lims.db.engine import session_scope
from lims.demo import seed_reference
from lims.pt import provider
from lims.services import accounts
from tests.api.ui_session import CSRF, signed_in

ROUND = "PT-HOM-1"
PAGE = f"/pt/rounds/{ROUND}/homogeneity"
# ISO 13528:2022 Annex E.2, Tables E.2 and E.3 (the data of tests/proficiency/test_pt_annex_e.py):
# 10 items in duplicate; stability: 2 items in duplicate after storage; sigma_pt = 15 % of the mean
E2 = [[0.185, 0.194], [0.187, 0.189], [0.182, 0.186], [0.188, 0.196], [0.191, 0.181],
      [0.188, 0.180], [0.187, 0.196], [0.177, 0.186], [0.179, 0.187], [0.188, 0.196]]
E2_AFTER = [0.191, 0.198, 0.190, 0.196]
PUBLISHED = {"h-mean": 0.18715, "h-s_x": 0.00398, "h-s_w": 0.00556, "h-s_s": 0.00060, "h-sigma_pt": 0.02807,
             "h-criterion": 0.00842}
PUBLISHED_STABILITY = {"s-mean_after": 0.19375, "s-difference": 0.00660, "s-criterion": 0.00842}


@pytest.fixture
def web(db_engine, db_factory):
    seed_reference(db_factory)
    with session_scope(db_factory, actor="test", reason="PT round for the homogeneity page") as s:
        provider.create_scheme(s, code="PROV-AS", name="巧克力中砷", provider_name="某省质检院")
        provider.create_round(s, scheme_code="PROV-AS", code=ROUND, title="巧克力中砷能力验证",
                              deadline=dt.datetime(2027, 1, 31, 17, 0, tzinfo=dt.UTC), analytes=[
                                  provider.AnalyteSpec(code="arsenic", name_zh="砷", mrrl=0.01, ffp_rsd=0.15),
                                  provider.AnalyteSpec(code="lead", name_zh="铅", mrrl=0.01, sigma_method="robust")])
        accounts.create_user(s, "lab007", "参加者 07", "pt-participant-pass-2026", ["pt_participant"])
    app = create_app(db_engine)
    return app, db_factory


def post(client: TestClient, path: str, data: dict[str, str], files: dict | None = None):
    token = CSRF.search(client.get(PAGE).text).group(1)  # type: ignore[union-attr]
    return client.post(path, data={"csrf_token": token, **data}, files=files, follow_redirects=False)


def table(items: list[list[float | str]]) -> dict[str, str]:
    return {f"h{i}_{j}": str(v) for i, item in enumerate(items, start=1) for j, v in enumerate(item, start=1)}


def shown(html: str, stat: str) -> float:
    found = re.search(rf'id="{stat}"[^>]*>([-0-9.e]+)', html)
    assert found, f"{stat} not on the page"
    return float(found.group(1))


def assert_published(html: str, published: dict[str, float], decimals: int = 5) -> None:
    for stat, value in published.items():
        assert round(shown(html, stat), decimals) == pytest.approx(value, abs=1e-12), stat


def stored(factory) -> tuple[dict | None, dict | None, dict[str, list[float]]]:
    with session_scope(factory, actor="test", reason="read") as s:
        a = provider.round_analyte(provider.get_round(s, ROUND), "arsenic")
        return a.homogeneity, a.stability, provider.measurements(s, a, "homogeneity")


def test_annex_e2_typed_in_the_table_shows_the_published_figures_and_is_stored(web):
    app, factory = web
    qa = signed_in(app, "wangfang")
    r = post(qa, PAGE, {"analyte": "arsenic", **table(E2)})  # sigma_pt blank: 15 % of the mean (the analyte's FFP)
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?analyte=arsenic&done=homogeneity"
    page = qa.get(r.headers["location"]).text
    assert_published(page, PUBLISHED)
    assert "均匀：s_s ≤ 0.3σ_pt" in page and "已保存均匀性检验数据" in page
    # Table B.1, g = 10: F1 = 1.88, F2 = 1.01; the expanded criterion from the shown figures
    assert "1.88" in page and "1.01" in page
    assert shown(page, "h-expanded_criterion") == pytest.approx(
        (1.88 * 0.00842175 ** 2 + 1.01 * shown(page, "h-s_w") ** 2) ** 0.5, rel=1e-4)
    hom, _, values = stored(factory)
    assert hom is not None and hom["passed"] and hom["g"] == 10
    assert list(values.values()) == E2 and list(values) == [f"H{i:02d}" for i in range(1, 11)]
    assert 'value="0.185"' in page  # the stored study fills the table again

    r = post(qa, f"/pt/rounds/{ROUND}/stability", {"analyte": "arsenic", "before_from_homogeneity": "1",
                                                    **{f"after{i}": str(v) for i, v in enumerate(E2_AFTER, 1)}})
    assert r.status_code == 303, r.text[-800:]
    page = qa.get(r.headers["location"]).text
    assert_published(page, PUBLISHED_STABILITY)
    assert "稳定：|ȳ₁ − ȳ₂| ≤ 0.3σ_pt" in page
    _, sta, _ = stored(factory)
    assert sta is not None and sta["passed"] and sta["mean_before"] == pytest.approx(0.18715)


def test_annex_e2_uploaded_as_the_cli_csv_gives_the_same_figures(web):
    app, factory = web
    qa = signed_in(app, "wangfang")
    rows = "".join(f"{g + 1},{r + 1},{v}\n" for g, item in enumerate(E2) for r, v in enumerate(item))
    csv = ("item,replicate,result\n" + rows).encode()
    r = post(qa, PAGE, {"analyte": "arsenic", "sigma_pt": str(0.15 * 0.18715)},
             files={"file": ("e2.csv", csv, "text/csv")})
    assert r.status_code == 303, r.text[-800:]
    assert_published(qa.get(r.headers["location"]).text, PUBLISHED)
    assert list(stored(factory)[2].values()) == E2
    # a bad line of the CSV: named by its line and column, nothing replaced
    bad = csv.replace(b"4,2,0.196", b"4,2,abc")
    r = post(qa, PAGE, {"analyte": "arsenic"}, files={"file": ("e2.csv", bad, "text/csv")})
    assert r.status_code == 422 and "CSV 文件 e2.csv 第 9 行“result”列：不是有效数字" in r.text
    assert list(stored(factory)[2].values()) == E2


def test_a_missing_replicate_or_a_non_number_is_refused_naming_row_and_field(web):
    app, factory = web
    qa = signed_in(app, "wangfang")
    gap = [list(item) for item in E2]
    gap[2][1] = ""
    r = post(qa, PAGE, {"analyte": "arsenic", **table(gap)})
    assert r.status_code == 422
    assert "均匀性检验表第 3 行（样品 H03）重复 2：未填写" in r.text and "<code>h3_2</code>" in r.text
    assert 'value="0.182"' in r.text  # what was typed stays on the page
    word = [list(item) for item in E2]
    word[6][0] = "0,187"
    r = post(qa, PAGE, {"analyte": "arsenic", **table(word)})
    assert r.status_code == 422 and "均匀性检验表第 7 行（样品 H07）重复 1：不是有效数字" in r.text
    r = post(qa, f"/pt/rounds/{ROUND}/stability", {"analyte": "arsenic", "before1": "0.19", "after1": "x"})
    assert r.status_code == 422 and "稳定性检验表第 1 行储存后结果：不是有效数字" in r.text
    r = post(qa, f"/pt/rounds/{ROUND}/stability", {"analyte": "arsenic", "before1": "0.19"})
    assert r.status_code == 422 and "储存后结果（至少 1 个）：未填写" in r.text
    # σ_pt from the participants' robust SD is known only after scoring: the study needs σ_pt given
    r = post(qa, PAGE, {"analyte": "lead", **table(E2)})
    assert r.status_code == 422 and "<code>sigma_pt</code>" in r.text
    assert stored(factory) == (None, None, {})


def test_only_the_pt_provider_enters_studies(web):
    app, _ = web
    for user in (signed_in(app, "zhangwei"), participant(app)):
        assert user.get(PAGE).status_code == 403
        token = CSRF.search(user.get("/pt").text).group(1)  # type: ignore[union-attr]
        r = user.post(PAGE, data={"csrf_token": token, "analyte": "arsenic", **table(E2)}, follow_redirects=False)
        assert r.status_code == 403 and "pt:manage" in r.text


def participant(app) -> TestClient:
    client = TestClient(app)
    token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"username": "lab007", "password": "pt-participant-pass-2026",
                                    "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    return client
