"""Prometheus metrics of ``lims serve`` (text exposition format, `prometheus_client`).

Counted in the process, per request: ``lims_http_requests_total{method,route,status}`` (``route`` is the
route's template, e.g. ``/api/v1/samples/{code}``, so sample codes never become labels) and the latency
histogram ``lims_http_request_duration_seconds{method,route}``. Read at scrape time from the database
(every process sees the same figures, including what ``lims acquire`` and the upstream worker did):
instrument messages and errors per instrument, unmatched readings per instrument, the upstream outbox by
status and the age of its oldest pending message, delivery latency quantiles, and the outcome of the last
``lims audit verify``.

With ``lims serve --workers N`` the workers share their counters through ``PROMETHEUS_MULTIPROC_DIR``
(set by `lims serve` to a fresh folder when unset), so whichever worker answers a scrape reports them all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Latency buckets (seconds): the lists' 100 ms objective sits between two of them.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("lims_http_requests", "HTTP requests answered, by route template and status",
                   ["method", "route", "status"])
LATENCY = Histogram("lims_http_request_duration_seconds", "Time to answer an HTTP request",
                    ["method", "route"], buckets=BUCKETS)


def observe(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


class DatabaseCollector(Collector):
    """The figures ``read()`` returns — a :class:`lims.ops.status.Gauges` and the last verify outcome —
    as metric families; a database that cannot be read gives ``lims_metrics_database_up 0``."""

    def __init__(self, read: Callable[[], tuple[Any, dict[str, Any] | None]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily("lims_metrics_database_up", "1 when the database figures below could be read")
        try:
            figures, verify = self.read()
        except Exception:  # noqa: BLE001 - a scrape never fails because the database is away
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _figures(figures)
        yield from _verify(verify)


def _per_instrument(kind: type, name: str, doc: str, values: dict[str, int]) -> Any:
    family = kind(name, doc, labels=["instrument"])
    for code, n in sorted(values.items()):
        family.add_metric([code], n)
    return family


def _figures(g: Any) -> Iterator[Any]:
    yield _per_instrument(CounterMetricFamily, "lims_instrument_messages",
                          "Raw captures stored per instrument (every message, before parsing)", g.instrument_messages)
    yield _per_instrument(CounterMetricFamily, "lims_instrument_errors",
                          "Raw captures that made no reading (parse error, framing rejected, incomplete)",
                          g.instrument_errors)
    yield _per_instrument(GaugeMetricFamily, "lims_unmatched_readings",
                          "Readings waiting in the unmatched queue per instrument", g.unmatched_readings)
    outbox = GaugeMetricFamily("lims_outbox_messages", "Upstream outbox messages by status", labels=["status"])
    for status, n in sorted(g.outbox.items()):
        outbox.add_metric([status], n)
    yield outbox
    age = GaugeMetricFamily("lims_outbox_oldest_pending_age_seconds",
                            "Age of the oldest pending upstream message (0: none pending)")
    age.add_metric([], g.oldest_pending_age_s or 0.0)
    yield age
    latency = GaugeMetricFamily("lims_upstream_delivery_latency_seconds",
                                "Queued → delivered, over the newest 1,000 delivered messages", labels=["quantile"])
    for quantile, seconds in g.delivery_latency_s.items():
        latency.add_metric([quantile], seconds)
    yield latency


def _verify(verify: dict[str, Any] | None) -> Iterator[Any]:
    ok = GaugeMetricFamily("lims_audit_verify_ok",
                           "Last `lims audit verify`: 1 intact, 0 broken, -1 never recorded")
    ok.add_metric([], -1 if verify is None else int(bool(verify.get("ok"))))
    yield ok
    if verify is not None:
        at = GaugeMetricFamily("lims_audit_verify_timestamp_seconds", "When the last `lims audit verify` ran")
        at.add_metric([], float(verify["timestamp"]))
        yield at
        events = GaugeMetricFamily("lims_audit_verify_events", "Audit events the last verify checked")
        events.add_metric([], float(verify.get("audit_events") or 0))
        yield events


def exposition(collector: Collector) -> bytes:
    """The text exposition of the request metrics (of every worker, in multiprocess mode) and ``collector``."""
    registry = CollectorRegistry()
    folder = os.environ.get(MULTIPROC_ENV)
    if folder and Path(folder).is_dir():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for own in (REQUESTS, LATENCY):
            registry.register(_Relay(own))
    registry.register(collector)
    return generate_latest(registry)


class _Relay(Collector):
    """Re-exposes a metric registered in the default registry in a scrape's own registry."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric

    def collect(self) -> Iterator[Any]:
        return iter(self.metric.collect())
