"""Typed service errors; the API maps them to 4xx with the field named.

``code`` is a stable, machine-readable name of the refusal (``"signoff.reviewer_is_analyst"``): clients
and the zh-CN web UI key on it, never on the English wording, which may change. Codes are dotted
lower-case words (area.reason); every code raised has a Chinese text in ``api.ui.labels.ERROR_ZH``
(tests/api/test_error_codes.py walks the raise sites). A status change the record type's workflow does not
allow is refused by :func:`lims.workflow.transition` with ``workflow.illegal_transition`` (409).
"""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400
    #: The code of a refusal raised without one (None: no stable code yet).
    default_code: str | None = None

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.code = code or self.default_code


class NotFound(ServiceError):
    status_code = 404
    default_code = "not_found"


class Conflict(ServiceError):
    status_code = 409


class Forbidden(ServiceError):
    status_code = 403


class InvalidInput(ServiceError):
    status_code = 422
