"""/verify (issue 11): anyone could enumerate report numbers and read every version's amendment reason. Now
verification needs the report number AND the content hash printed on it (the QR code carries both); without
the hash, or with a wrong one, the answer is the same 404 as for an unknown number; and the answer shows only
what the printed report shows (no list of versions, no other version's amendment reason or file hash)."""

from __future__ import annotations

from tests.api.test_verify_page import JSON, _hash, issued  # noqa: F401  (the fixture: a report and its amendment)


def test_the_number_alone_tells_nothing(issued):  # noqa: F811
    client, first, second, producer = issued
    for params in ({}, {"sha256": "0" * 64}, _hash(first)):  # no hash, a wrong one, another report's
        r = client.get(f"/verify/{second}", params=params, headers=JSON)
        assert r.status_code == 404 and producer not in r.text and "芹菜" not in r.text
        assert r.json() == client.get("/verify/NOPE", headers=JSON).json() | {"detail": f"report {second} not found"}
        page = client.get(f"/verify/{second}", params=params)
        assert page.status_code == 404 and "称样量更正" not in page.text and producer not in page.text


def test_only_what_the_printed_report_shows(issued):  # noqa: F811
    client, first, second, _ = issued
    old = client.get(f"/verify/{first}", params=_hash(first), headers=JSON).json()
    assert old["current"] is False and old["superseded_by"]["report_no"] == second
    assert old["superseded_by"]["amendment_reason"] is None  # the newer report's reason is not on this print
    assert old["versions"] == [] and "称样量更正" not in str(old)
    new = client.get(f"/verify/{second}", params=_hash(second), headers=JSON).json()
    assert new["amendment_reason"] == "称样量更正"  # printed on the amended report itself
    assert new["supersedes"]["file_sha256"] is None


def test_the_hash_as_typed_from_paper(issued):  # noqa: F811
    client, _first, second, _ = issued
    given = _hash(second)["sha256"].upper()
    assert client.get(f"/verify/{second}", params={"sha256": given}, headers=JSON).status_code == 200
