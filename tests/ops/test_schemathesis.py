"""Security in CI (issue 17): schemathesis generates requests from /openapi.json for every operation — as
the lab's administrator, so the routes' own code runs, not only the login check — and each answer must be
no 5xx and match the response schema the document declares for its status. Bounded and reproducible:
a few examples per operation, derandomised (the same requests every run), a time budget per operation."""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from api.app import create_app
from lims import demo
from lims.demo import PASSWORDS

EXAMPLES = 4  # per operation; derandomize=True makes them the same every run
BUDGET_S = 240  # the whole sweep (about 250 operations)
#: Operations whose examples would change the session under test itself (logging out revokes the token).
SKIP = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/tokens/revoke")}


@pytest.mark.slow
def test_generated_requests_get_no_5xx_and_answers_match_their_schemas(db_engine, db_factory, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("LIMS_REPORT_DIR", str(tmp_path / "reports"))
    demo.seed_reference(db_factory)
    app = create_app(db_engine)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    from fastapi.testclient import TestClient

    token = TestClient(app).post("/api/v1/auth/login", json={"username": "admin",
                                                             "password": PASSWORDS["admin"]}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    checked = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP or time.monotonic() - started > BUDGET_S:
            continue
        checked += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            run()
        except BaseException as exc:  # noqa: BLE001 - every operation's failure (an exception group), reported together
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.method.upper()} {operation.path}: {_summary(exc)}")
    assert checked >= 100, f"only {checked} operations checked within {BUDGET_S} s"
    assert not failures, "\n".join(failures[:20])


def _summary(exc: BaseException) -> str:
    """The failure's title and the schema or status it names (schemathesis prints a whole report)."""
    lines = [line.strip(" |") for line in str(exc).splitlines() if line.strip(" |")]
    return " / ".join(lines[1:6]) if len(lines) > 1 else str(exc)
