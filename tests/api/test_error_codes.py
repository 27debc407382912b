"""Stable refusal codes (lims.services.errors): every code raised anywhere in lims/ or api/ has its Chinese
text in api.ui.ERROR_ZH, and every text there belongs to a code still raised. The raise sites are found by
walking the source (ast), so a new ``code="..."`` without a translation fails here, not in front of a user."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import api.app  # noqa: F401  (imports every module that defines an error class)
from api.security import CSRF_FAILED, AccessRefused
from api.ui import ERROR_ZH
from lims.db.models import Role
from lims.security import AuthenticationError
from lims.services.errors import ServiceError

ROOT = Path(__file__).resolve().parents[2]
CODE = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)*")


def _subclasses(cls: type[Any]) -> Iterator[type[Any]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _subclasses(sub)


ERROR_CLASSES = {c.__name__: c for base in (ServiceError, AuthenticationError, AccessRefused)
                 for c in _subclasses(base)}


def _literals(node: ast.expr, where: str) -> set[str]:
    """The codes a ``code=`` argument can take: a string literal, None, or a conditional of those."""
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, str)):
        return {node.value} if node.value else set()
    if isinstance(node, ast.IfExp):
        return _literals(node.body, where) | _literals(node.orelse, where)
    raise AssertionError(f"{where}: code= must be a string literal (or a conditional of literals) so that "
                         f"this test can check it has a Chinese text")


#: The web forms' refusals raised before any service is called: (field, code, message) or (message, field, code).
FORM_REFUSALS = {"problem", "Refused"}
#: Codes kept as named constants (answered by middleware, not raised by a class): ``DB_BUSY = "db.busy"``.
CONSTANT_CODE = re.compile(r"[A-Z][A-Z_]*")


def _callee(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def raised_codes() -> dict[str, list[str]]:
    """code → where it is given: ``code=`` of an error class's constructor, or a 4xx detail literal
    ``{"message": ..., "code": "..."}`` (the shape api.deps.service_error answers)."""
    found: dict[str, list[str]] = {}
    for path in sorted([*(ROOT / "lims").rglob("*.py"), *(ROOT / "api").rglob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            codes: set[str] = set()
            if isinstance(node, ast.Call) and _callee(node) in ERROR_CLASSES:
                for kw in node.keywords:
                    if kw.arg == "code":
                        codes |= _literals(kw.value, where)
            elif isinstance(node, ast.Call) and _callee(node) in FORM_REFUSALS:
                # a web form's own refusal (api/ui): its code is the positional string that reads as a code
                codes |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                          and "." in a.value and CODE.fullmatch(a.value)}
            elif isinstance(node, ast.Dict):
                keys = {k.value: v for k, v in zip(node.keys, node.values, strict=True)
                        if isinstance(k, ast.Constant)}
                if "message" in keys and isinstance(keys.get("code"), ast.Constant | ast.IfExp):
                    codes |= _literals(keys["code"], where)
            for code in codes:
                found.setdefault(code, []).append(where)
    for cls in ERROR_CLASSES.values():
        default = getattr(cls, "default_code", None)
        if default:
            found.setdefault(default, []).append(f"{cls.__module__}.{cls.__qualname__}.default_code")
    found.setdefault(CSRF_FAILED, []).append("api.security.CSRF_FAILED")
    return found


def constant_codes() -> set[str]:
    """Dotted strings kept as upper-case constants (``DB_BUSY = "db.busy"``, answered by middleware): texts
    for them are not stale (they are not all codes — file names look alike — so only the stale check uses them)."""
    out = set()
    for path in [*(ROOT / "lims").rglob("*.py"), *(ROOT / "api").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str) and CODE.fullmatch(node.value.value)
                    and all(isinstance(t, ast.Name) and CONSTANT_CODE.fullmatch(t.id) for t in node.targets)):
                out.add(node.value.value)
    return out


def test_every_code_raised_has_a_chinese_text_and_every_text_a_code():
    found = raised_codes()
    # the walker sees the raise sites (guards against a walker that silently finds nothing)
    assert {"signoff.reviewer_is_analyst", "signoff.no_signatory_authority", "batch.qc_failed",
            "batch.qc_pending", "report.needs_amendment_reason", "auth.wrong_password", "not_found",
            "auth.csrf_failed"} <= set(found)
    malformed = {c: w for c, w in found.items() if not CODE.fullmatch(c)}
    assert not malformed, f"codes are dotted lower-case words (area.reason): {malformed}"
    untranslated = {c: w for c, w in found.items() if c not in ERROR_ZH}
    assert not untranslated, f"add these codes to api.ui.ERROR_ZH: {untranslated}"
    stale = set(ERROR_ZH) - set(found) - constant_codes()
    assert not stale, f"api.ui.ERROR_ZH has texts for codes no longer raised: {sorted(stale)}"
    assert all(text.strip() and not text.isascii() for text in ERROR_ZH.values())


def test_the_walker_refuses_a_code_it_cannot_read():
    tree = ast.parse('raise Conflict("x", code=PREFIX + "y")')
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call))
    try:
        _literals(call.keywords[0].value, "example")
    except AssertionError as e:
        assert "literal" in str(e)
    else:
        raise AssertionError("a computed code passed unchecked")


def test_every_permission_and_role_has_words_for_the_403_page():
    from api.security import Permission

    for member in [*Permission, *Role]:
        assert member.zh and member.zh != member.value and not member.zh.isascii(), member
        assert member.en and not any("\u4e00" <= ch <= "\u9fff" for ch in member.en), member
