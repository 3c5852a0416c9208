"""Gunicorn server hooks for ``srs serve`` (loaded with ``--config python:srs.web.gunicorn_conf``).

A worker that exits leaves its Prometheus files behind; marking it dead lets the
multiprocess collector drop its live gauges while keeping its counters in the totals.
"""

from __future__ import annotations

import os
from typing import Any

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get(MULTIPROC_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
