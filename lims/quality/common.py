"""Small helpers shared by the quality registers (instruments, materials, staff, environment)."""

from __future__ import annotations

import datetime as dt
import hashlib

from lims.services.errors import InvalidInput
from lims.vocabulary import Labelled

#: Largest certificate / evidence file accepted (bytes).
MAX_FILE_BYTES = 10 * 1024 * 1024


def choice(enum: type[Labelled], value: str, field: str) -> str:
    try:
        return enum(value).value
    except ValueError:
        raise InvalidInput(f"{field} must be one of {', '.join(m.value for m in enum)} (got {value!r})",
                           field=field, code="quality.unknown_value") from None


def text(value: str, field: str) -> str:
    if not value or not value.strip():
        raise InvalidInput(f"{field} is missing", field=field, code="quality.missing_text")
    return value.strip()


def ordered(first: dt.date | dt.datetime | None, second: dt.date | dt.datetime | None, first_name: str,
            second_name: str) -> None:
    """``first`` must not be after ``second`` (both given)."""
    if first is not None and second is not None and second < first:
        raise InvalidInput(f"{second_name} {second} is before {first_name} {first}", field=second_name,
                           code="quality.dates_out_of_order")


def file_digest(data: bytes | None, field: str) -> str:
    """SHA-256 of an attached file; over :data:`MAX_FILE_BYTES` is refused."""
    if data is None:
        return ""
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(f"{field} is {len(data)} bytes, over the limit of {MAX_FILE_BYTES} bytes", field=field,
                           code="quality.file_too_large")
    return hashlib.sha256(data).hexdigest()
