"""``srs serve``: gunicorn workers in front of the app, or Flask's reloader with ``dev``.

Gunicorn runs as a child process with a fresh interpreter. That is what lets
Prometheus' multiprocess mode work: ``prometheus_client`` picks per-process metric
files only if ``PROMETHEUS_MULTIPROC_DIR`` is set before it is first imported, which
cannot be guaranteed inside the process that parsed the command line. The settings
travel to the workers as ``SRS_*`` variables, the highest-precedence source, so each
worker resolves exactly the settings the caller had. Workers load the app themselves
(no preload): each opens its own SQLite connection, and the model arrays are
memory-mapped by the service, so the page cache holds them once for all workers.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from types import FrameType

from flask import Flask

from srs.config import ENV_PREFIX, Settings, load_settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
WORKER_TIMEOUT_SECONDS = 120  # an admin retrain runs inside a request
DEFAULT_THREADS = 4
KEEP_ALIVE_SECONDS = 5  # idle time before a kept-alive connection is closed
GRACEFUL_TIMEOUT_SECONDS = 10
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
APP_FACTORY = "srs.web.serve:application()"
HOOKS_MODULE = "python:srs.web.gunicorn_conf"


def available_cores() -> int:
    """Cores this process may run on (affinity and cgroup-pinned sets count, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def default_workers(cores: int) -> int:
    """One worker process per core (at least two, so one restarting never empties the pool):
    the threads of each worker cover waits on sockets and SQLite's fsync, and more processes
    than cores would only take turns on them."""
    return max(2, cores)


def settings_environ(settings: Settings) -> dict[str, str]:
    """``Settings`` as the ``SRS_*`` variables that ``load_settings`` reads back unchanged."""
    return {
        ENV_PREFIX + field.name.upper(): str(getattr(settings, field.name))
        for field in fields(Settings)
    }


def gunicorn_command(
    host: str,
    port: int,
    workers: int,
    threads: int = DEFAULT_THREADS,
    python: str = sys.executable,
) -> list[str]:
    """The gunicorn command line, always with the threaded worker.

    gunicorn's ``sync`` worker closes the connection after every answer, so each request of a
    client that keeps connections alive (browsers, load balancers, load generators) pays a TCP
    handshake and a new accept; on this kind of machine that halves a small route's
    throughput. ``gthread`` keeps idle connections in a poller, and its threads let requests
    that wait (on an fsync) overlap, which is also what lets the EventStore group commits.
    """
    if workers < 1 or threads < 1:
        raise ValueError(f"workers and threads must be >= 1, got {workers} and {threads}")
    command = [
        python,
        "-m",
        "gunicorn",
        "--config",
        HOOKS_MODULE,
        "--bind",
        f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        str(KEEP_ALIVE_SECONDS),
        "--timeout",
        str(WORKER_TIMEOUT_SECONDS),
        "--graceful-timeout",
        str(GRACEFUL_TIMEOUT_SECONDS),
        "--error-logfile",
        "-",
    ]
    if Path("/dev/shm").is_dir():
        command += ["--worker-tmp-dir", "/dev/shm"]
    return [*command, APP_FACTORY]


def server_environ(settings: Settings, base: Mapping[str, str], metrics_dir: str) -> dict[str, str]:
    """The child's environment: the caller's, the settings spelled out, the metrics dir."""
    environ = {key: value for key, value in base.items() if key != ENV_PREFIX + "CONFIG"}
    environ.update(settings_environ(settings))
    environ[MULTIPROC_VARIABLE] = metrics_dir
    return environ


@contextmanager
def _metrics_directory(environ: Mapping[str, str]) -> Iterator[str]:
    """The caller's multiprocess directory if set, else a fresh one removed afterwards."""
    existing = environ.get(MULTIPROC_VARIABLE)
    if existing:
        Path(existing).mkdir(parents=True, exist_ok=True)
        yield existing
        return
    with tempfile.TemporaryDirectory(prefix="srs-metrics-") as created:
        yield created


def run_gunicorn(command: Sequence[str], environ: Mapping[str, str]) -> int:
    """Run gunicorn until it exits, passing SIGTERM on; returns its exit status."""
    process = subprocess.Popen(list(command), env=dict(environ))

    def forward(signum: int, _frame: FrameType | None) -> None:
        process.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                # The terminal sent SIGINT to gunicorn as well; wait for its clean stop.
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(
    settings: Settings,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int | None = None,
    dev: bool = False,
    threads: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Serve the app on ``host:port`` until stopped; returns the server's exit status."""
    env = os.environ if environ is None else environ
    if dev:
        from srs.web import create_app_from_settings

        app = create_app_from_settings(settings, env)
        app.run(host=host, port=port, use_reloader=True, use_debugger=False)
        return 0
    count = workers if workers is not None else default_workers(available_cores())
    command = gunicorn_command(host, port, count, threads or DEFAULT_THREADS)
    with _metrics_directory(env) as metrics_dir:
        return run_gunicorn(command, server_environ(settings, env, metrics_dir))


def application() -> Flask:
    """Gunicorn's app factory, run in each worker: settings come from the environment.

    BLAS is capped at one thread for the worker's lifetime: a request multiplies a few
    dozen rows, which a second BLAS thread only slows down (its hand-off and spinning
    cost more than the product), and the workers already fill every core.
    """
    from threadpoolctl import threadpool_limits

    from srs.web import create_app_from_settings

    threadpool_limits(limits=1)
    return create_app_from_settings(load_settings())


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m srs.web.serve``: the same server as ``srs serve``, settings from SRS_*."""
    parser = argparse.ArgumentParser(prog="python -m srs.web.serve", description=main.__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--workers", type=int, default=None, help="default: 1 per core")
    parser.add_argument(
        "--threads", type=int, default=None, help=f"threads per worker (default {DEFAULT_THREADS})"
    )
    parser.add_argument("--dev", action="store_true", help="Flask's reloader, one process")
    args = parser.parse_args(argv)
    return serve(load_settings(), args.host, args.port, args.workers, args.dev, args.threads)


if __name__ == "__main__":
    sys.exit(main())
