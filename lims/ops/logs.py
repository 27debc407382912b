"""Log lines for operators: one JSON object a line (``LIMS_LOG_FORMAT=json``, the default) or plain text
(``text``), each carrying the request ID of the request it belongs to, and never a secret.

The request ID lives in a context variable set by the request middleware (api/middleware.py); Starlette
copies the context into the thread a route runs in, so every line a request causes — the access line,
a service's warning, a database error — carries the same ID. Secrets: the application never logs request
bodies, headers or query strings (the access line names the path only), and :func:`redact` masks anything
that still looks like a password, token, API key or ``Authorization`` value before a line is written.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import logging.config
import re
from typing import Any

#: The request being served in this context ("-" outside a request).
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("lims_request_id", default="-")

_SECRET = re.compile(
    r"(?i)(\b(?:password|passwd|new_password|old_password|token|api[_-]?key|secret|authorization|cookie|"
    r"lims_session)\b[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&}]+)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
REDACTED = "[redacted]"

#: Attributes every LogRecord has; the others were passed with ``extra=`` and go into the JSON object.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


def redact(text: str) -> str:
    """``text`` with the values of password/token/key-like fields and bearer credentials masked."""
    return _SECRET.sub(lambda m: m.group(1) + REDACTED, _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text))


class RequestIdFilter(logging.Filter):
    """Puts the current request ID on every record (``%(request_id)s`` in the text format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``request_id``,
    the ``extra=`` fields, and ``exc`` with the traceback when there is one (all redacted)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", REQUEST_ID.get())}
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level [request id] logger: message`` (redacted)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return redact(super().format(record))


def dict_config(log_format: str = "json", level: str = "INFO") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` document: the root logger and uvicorn's to stderr in
    ``log_format``; uvicorn's own access log is off (its lines carry the query string, which may hold a
    token: the request middleware writes the access line instead)."""
    formatter = "json" if log_format == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": JsonFormatter}, "text": {"()": TextFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": formatter, "filters": ["request_id"]}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }


def configure(log_format: str | None = None, level: str | None = None) -> dict[str, Any]:
    """Apply :func:`dict_config` with the settings' ``LIMS_LOG_FORMAT`` / ``LIMS_LOG_LEVEL`` (or the
    arguments); returns the document (uvicorn applies it again in each worker process)."""
    from lims.config import get_settings

    settings = get_settings()
    config = dict_config(log_format or settings.log_format, level or settings.log_level)
    logging.config.dictConfig(config)
    return config
