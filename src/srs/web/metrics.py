"""Prometheus metrics of the web layer: requests and latency per route, events accepted.

Each app owns its metric objects, so several apps in one process (tests) never clash
in a global registry. Under ``srs serve`` every worker is a process of its own; with
``PROMETHEUS_MULTIPROC_DIR`` set before ``prometheus_client`` is imported, the values
go to per-process files in that directory and a scrape of any worker adds them all up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
UNMATCHED_ROUTE = "<unmatched>"
EXPOSITION_CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class WebMetrics:
    requests: Counter
    latency: Histogram
    events_accepted: Counter
    registry: CollectorRegistry | None
    multiprocess_dir: str | None
    _children: dict[tuple[str, str, str], tuple[Any, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def observe_request(self, method: str, route: str, status: str, seconds: float) -> None:
        """Count one answer and its latency; label look-ups are cached per (method, route,
        status), since ``labels()`` costs more than the update itself."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, status),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        """The text format for a scrape: this process's registry, or every worker's files."""
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
                registry, path=self.multiprocess_dir
            )
            return generate_latest(registry)
        assert self.registry is not None
        return generate_latest(self.registry)


def create_metrics(multiprocess_dir: str | None = None) -> WebMetrics:
    """Fresh metric objects; in multiprocess mode they stay out of any registry.

    Route labels are URL rules (``/api/v1/users/<id:userId>/recommendations``), never raw
    paths, so a scan of random URLs cannot blow up the number of series.
    """
    registry = None if multiprocess_dir else CollectorRegistry()
    return WebMetrics(
        requests=Counter(
            "srs_http_requests",
            "HTTP requests answered, by method, route and status code.",
            ["method", "route", "status"],
            registry=registry,
        ),
        latency=Histogram(
            "srs_http_request_duration_seconds",
            "Time from request start to response, by method and route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        events_accepted=Counter(
            "srs_events_accepted",
            "Feedback events stored durably (API and web forms).",
            registry=registry,
        ),
        registry=registry,
        multiprocess_dir=multiprocess_dir or None,
    )
