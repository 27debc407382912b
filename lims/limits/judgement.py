"""The approver's explicit judgement of a result the limit table has no limit for (pure).

A result of an analyte with no applicable limit is flagged 无限量标准 and cannot be approved silently as
未判定: the approver states one of (:class:`~lims.vocabulary.LimitJudgementKind`)

- ``no_limit_applies`` — no limit applies; the result carries no conformity statement (a reason is required);
- ``named_standard`` — judged against the limit of a named standard (standard, clause and value required);
- ``value_with_source`` — judged against a given value with its source (value and source required).

The judgement is stored on the result before the approval signature, so the signature binds it, and
the change is in the audit trail (lims.services.limits.apply_judgement).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lims.vocabulary import LimitJudgementKind

__all__ = ["JudgementError", "LimitJudgement", "MIN_REASON"]

MIN_REASON = 5


class JudgementError(ValueError):
    """A judgement is incomplete; ``field`` names what is missing or wrong."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class LimitJudgement:
    """What the approver decided, and on what basis."""

    kind: LimitJudgementKind
    reason: str = ""
    standard: str = ""
    clause: str = ""
    value_mg_kg: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        try:
            kind = LimitJudgementKind(self.kind)
        except ValueError:
            allowed = ", ".join(k.value for k in LimitJudgementKind)
            raise JudgementError("kind", f"unknown judgement {self.kind!r}; allowed: {allowed}") from None
        object.__setattr__(self, "kind", kind)
        for name in ("reason", "standard", "clause", "source"):
            object.__setattr__(self, name, " ".join(str(getattr(self, name) or "").split()))
        if kind is LimitJudgementKind.NO_LIMIT_APPLIES:
            if len(self.reason) < MIN_REASON:
                raise JudgementError("reason", f"a judgement that no limit applies needs a reason "
                                               f"(at least {MIN_REASON} characters)")
            return
        if kind is LimitJudgementKind.NAMED_STANDARD:
            for name in ("standard", "clause"):
                if not getattr(self, name):
                    raise JudgementError(name, "required when judging against a named standard")
        elif not self.source:
            raise JudgementError("source", "required when judging against a given value")
        value = self.value_mg_kg
        if value is None or isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or value <= 0:
            raise JudgementError("value_mg_kg", f"a positive limit value in mg/kg is required, got {value!r}")

    @property
    def source_text(self) -> str:
        """The basis as printed: the standard and clause, or the source given."""
        if self.kind is LimitJudgementKind.NAMED_STANDARD:
            return f"{self.standard} {self.clause}"
        return self.source

    def as_dict(self) -> dict[str, object]:
        return {"kind": str(self.kind), "reason": self.reason, "standard": self.standard, "clause": self.clause,
                "value_mg_kg": self.value_mg_kg, "source": self.source}
