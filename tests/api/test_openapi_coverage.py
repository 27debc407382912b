"""Every /api/v1 operation declares what it answers on success (issue 10: at least 95 % of them).

An operation counts when one of its 2xx responses is a 204 (no body by definition) or carries a
schema that names its fields: a ``$ref`` to a component, an array of them, or a non-JSON media type
(a PDF, a chart) with its schema. A bare ``{"type": "object", "additionalProperties": true}`` (what a
route returning ``dict[str, Any]`` gets) or an empty schema does not count.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine

from api.app import create_app

THRESHOLD = 0.95
METHODS = {"get", "post", "put", "patch", "delete"}


def _names_fields(schema: dict[str, Any] | None, media_type: str) -> bool:
    if not schema:
        return False
    if media_type != "application/json":
        return True  # a file or an image: its media type is the contract
    if "$ref" in schema or schema.get("properties"):
        return True
    items = schema.get("items")
    return schema.get("type") == "array" and isinstance(items, dict) and _names_fields(items, media_type)


def declares_success(op: dict[str, Any]) -> bool:
    for status, response in op.get("responses", {}).items():
        if not str(status).startswith("2"):
            continue
        if str(status) == "204":
            return True
        if any(_names_fields(c.get("schema"), mt) for mt, c in response.get("content", {}).items()):
            return True
    return False


def coverage(spec: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(documented, undocumented) ``METHOD path`` of the /api/v1 operations in an OpenAPI document."""
    good, bad = [], []
    for path, ops in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, op in ops.items():
            if method in METHODS:
                (good if declares_success(op) else bad).append(f"{method.upper()} {path}")
    return good, bad


def test_openapi_declares_success_responses_of_api_v1_operations() -> None:
    spec = create_app(create_engine("sqlite://")).openapi()
    good, bad = coverage(spec)
    share = len(good) / (len(good) + len(bad))
    assert len(good) + len(bad) >= 60  # the whole API is counted, not a stray router
    assert share >= THRESHOLD, f"{share:.0%} of /api/v1 operations declare a success schema; undocumented: {bad}"


def test_the_measure_refuses_untyped_answers() -> None:
    untyped = {"responses": {"200": {"content": {"application/json": {
        "schema": {"type": "object", "additionalProperties": True, "title": "Response"}}}}}}
    typed = {"responses": {"201": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/X"}}}}}}
    pdf = {"responses": {"200": {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}}
    assert not declares_success(untyped) and not declares_success({"responses": {"200": {"content": {
        "application/json": {"schema": {}}}}}})
    assert declares_success(typed) and declares_success(pdf) and declares_success({"responses": {"204": {}}})
