"""``srs serve``: granian workers in front of the app, or Flask's reloader with ``dev``.

Why granian rather than gunicorn: gunicorn's threaded worker spends much of a small
request's CPU before the app runs (parsing in Python, a poller and a thread pool handing
each connection back and forth), which caps the request rate below the throughput target.
Granian parses HTTP and keeps connections in Rust and calls the WSGI app from a Python
thread per worker, so that overhead shrinks and the recommendation rate rises (figures in the
README's ``srs serve`` section and benchmark table, from ``benchmarks/serve.py``).

The server runs as a child process with a fresh interpreter. That is what lets
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
import errno
import gc
import json
import os
import signal
import socket
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
from srs.errors import SRSError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_THREADS = 1
GRACEFUL_TIMEOUT_SECONDS = 10
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
APP_FACTORY = "srs.web.serve:application"


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
    """``Settings`` as the ``SRS_*`` variables that ``load_settings`` reads back unchanged
    (tables as JSON objects, so no name can break the spelling)."""
    environ = {}
    for field in fields(Settings):
        value = getattr(settings, field.name)
        text = json.dumps(dict(value)) if isinstance(value, Mapping) else str(value)
        environ[ENV_PREFIX + field.name.upper()] = text
    return environ


def server_command(
    host: str,
    port: int,
    workers: int,
    threads: int = DEFAULT_THREADS,
    python: str = sys.executable,
) -> list[str]:
    """The granian command line: WSGI, ``workers`` processes, ``threads`` Python threads each.

    One thread per worker is fastest for recommendations (a second one only adds GIL
    hand-offs); more threads let requests that wait on SQLite's fsync overlap, so the
    EventStore commits them in one group.
    """
    if workers < 1 or threads < 1:
        raise ValueError(f"workers and threads must be >= 1, got {workers} and {threads}")
    return [
        python,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--no-ws",
        "--respawn-failed-workers",
        "--workers-kill-timeout",
        str(GRACEFUL_TIMEOUT_SECONDS),
        "--log-level",
        "warning",
        APP_FACTORY,
    ]


def ensure_port_free(host: str, port: int, environ: Mapping[str, str] | None = None) -> None:
    """Refuse a port another server already listens on, before any server starts.

    Granian binds with SO_REUSEPORT, so a second server on a busy port would start
    without complaint and the kernel would split requests between two servers that may
    hold different models. A socket bound without that option fails where granian would
    not. SO_REUSEADDR is kept so connections of a just-stopped server, still in
    TIME_WAIT, do not count as a server. Under Flask's reloader the parent process holds
    the port for its child, so the child does not check again.
    """
    env = os.environ if environ is None else environ
    if env.get("WERKZEUG_RUN_MAIN") == "true":
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise SRSError(f"cannot serve on {host}: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SRSError(f"port {port} on {host} is already in use") from None
            raise SRSError(f"cannot listen on port {port} on {host}: {exc.strerror}") from None


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


def run_server(command: Sequence[str], environ: Mapping[str, str]) -> int:
    """Run the server until it exits, passing SIGTERM on; returns its exit status."""
    process = subprocess.Popen(list(command), env=dict(environ))

    def forward(signum: int, _frame: FrameType | None) -> None:
        process.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                # The terminal sent SIGINT to the server as well; wait for its clean stop.
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
    command = server_command(host, port, count, threads or DEFAULT_THREADS)
    with _metrics_directory(env) as metrics_dir:
        return run_server(command, server_environ(settings, env, metrics_dir))


def application() -> Flask:
    """The server's app factory, run in each worker: settings come from the environment.

    BLAS is capped at one thread for the worker's lifetime: a request multiplies a few
    dozen rows, which a second BLAS thread only slows down (its hand-off and spinning
    cost more than the product), and the workers already fill every core.

    The objects loaded at start-up (catalogue, histories, model: many per user) live as long
    as the worker, so they are frozen out of the cyclic collector: left in, every full
    collection walked them all and stalled the requests in flight.
    """
    from threadpoolctl import threadpool_limits

    from srs.web import create_app_from_settings

    threadpool_limits(limits=1)
    app = create_app_from_settings(load_settings())
    gc.collect()
    gc.freeze()
    return app


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
    try:
        ensure_port_free(args.host, args.port)
    except SRSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return serve(load_settings(), args.host, args.port, args.workers, args.dev, args.threads)


if __name__ == "__main__":
    sys.exit(main())
