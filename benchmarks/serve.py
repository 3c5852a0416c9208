"""Serving throughput over HTTP: ``srs serve`` under load from ``wrk`` on loopback.

Four routes of the same server, with the same connection count:

* ``GET /healthz``: the hello-world baseline (same app, same middleware, no work);
* ``GET /api/v1/users/<random user>/recommendations?numResults=25``;
* ``POST /personalize/recommendations``: the same answer through Personalize's wire protocol
  (GetRecommendations as botocore sends it: a JSON body and a SigV4 ``Authorization`` header);
* ``POST /api/v1/events`` with one valid ``clicked`` event per request.

The hello world and the recommendations are loaded in alternating rounds (hello first in
odd rounds, recommendations first in even ones, GetRecommendations beside them), and each
route's rate is its requests over its seconds in all rounds. On the shared 2-core VM this
was written on, one route's rate moves by 15-25% between 5 s windows at the same server CPU;
one long run per route puts such a swing wholly on one side of the ratio, alternating short
runs spread it over both. Every round's share is printed.

Targets (issue 4, one 2-core machine shared by wrk, the server and the OS): recommendations
>= 2,500 requests/s with p99 <= 10 ms and >= 75% of the hello-world rate; events >= 1,000
durable events/s. Durability is checked, not assumed: right after the events run the whole
server is killed with SIGKILL, and the rows in its SQLite file must cover every request wrk
saw acknowledged (a few more may have committed while wrk was cutting connections).

The data directory is the synthetic 100k-user set, made with the ``srs`` CLI on first use
and reused afterwards. Each run serves it from a fresh scratch directory (symbolic links to
the prepared data and models, an empty event store), so the prepared data never changes and
the row count is this run's alone.

    python benchmarks/serve.py [--data-dir DIR] [--rounds 4] [--duration 5]
                               [--connections 8] [--workers N] [--threads N]

Needs ``wrk`` (Debian package ``wrk``; ``make bench`` installs it).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pyarrow.csv as pcsv
from rich.console import Console
from rich.table import Table

DEFAULT_USERS = 100_000
DEFAULT_PER_USER = 20
NUM_RESULTS = 25
READY_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 15.0
WRK_MARKER = "SRS-WRK "
EVENTS_FILE = "events.sqlite"
SHARED_ENTRIES = ("dataset", "models", "web_secret_key")

RECOMMENDATIONS_PER_SECOND = 2_500.0
RECOMMENDATIONS_P99_MS = 10.0
HELLO_WORLD_SHARE = 0.75
EVENTS_PER_SECOND = 1_000.0
# The two routes whose rates make the share, loaded in alternating rounds.
COMPARED = (("GET /healthz", "healthz"), ("GET recommendations", "recommendations"))
PROTOCOL = ("POST GetRecommendations", "personalize")
"""Loaded in the same rounds, last in odd rounds and first in even ones."""
CAMPAIGN_ARN = "arn:aws:personalize:us-east-1:000000000000:campaign/srs-user-personalization"

console = Console(highlight=False, width=max(120, shutil.get_terminal_size().columns))

# One script for every route. The two GET routes whose rates are compared get the same
# client: ``init`` builds every request beforehand (the hello world's one, or one per user
# in a random order, so each user is asked once per cycle through all of them) and
# ``request`` hands the next one out. Building each recommendations request on the fly
# (random draw, concatenation, wrk.format) while the hello world's was built once biased the
# share: on one server, in 5 alternating rounds, prebuilt requests raised the recommendations
# rate from about 4,450 to 4,700-5,250 req/s and cut the server's CPU per request by 40-70 µs
# (it waits less often, idle, for the next request), while wrk's own CPU per request moved by
# 1-4 µs. ``done`` prints the totals and exact latency percentiles as one JSON line.
WRK_SCRIPT = r"""
local mode, users_file, items_file = nil, nil, nil
local threads, counter = {}, 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then lines[#lines + 1] = line end
  end
  return lines
end

local function shuffled(values)
  for i = #values, 2, -1 do
    local j = math.random(i)
    values[i], values[j] = values[j], values[i]
  end
  return values
end

function init(args)
  mode, users_file, items_file = args[1], args[2], args[3]
  users = read_lines(users_file)
  items = read_lines(items_file)
  sent = 0
  math.randomseed(os.time() * 1000 + id)
  json_headers = {["Content-Type"] = "application/json"}
  prebuilt, position = {}, 0
  if mode == "healthz" then
    prebuilt[1] = wrk.format("GET", "/healthz")
  elseif mode == "recommendations" then
    for index, user in ipairs(shuffled(users)) do
      prebuilt[index] = wrk.format(
        "GET", "/api/v1/users/" .. user .. "/recommendations?numResults=__N__")
    end
  elseif mode == "personalize" then
    local signed = {
      ["Content-Type"] = "application/json",
      ["X-Amz-Date"] = "20261205T000000Z",
      ["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIASRSBENCH/20261205/us-east-1/" ..
        "personalize/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=00"}
    for index, user in ipairs(shuffled(users)) do
      prebuilt[index] = wrk.format("POST", "/personalize/recommendations", signed,
        '{"campaignArn":"__CAMPAIGN__","userId":"' .. user .. '","numResults":__N__}')
    end
  end
end

function request()
  if #prebuilt > 0 then
    position = position % #prebuilt + 1
    return prebuilt[position]
  end
  sent = sent + 1
  local body = '{"userId":"' .. users[math.random(#users)] .. '","sessionId":"bench-' .. id ..
    '-' .. sent .. '","eventList":[{"eventType":"clicked","itemId":"' ..
    items[math.random(#items)] .. '","sentAt":' .. os.time() .. '}]}'
  return wrk.format("POST", "/api/v1/events", json_headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '__MARKER__{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class LoadResult:
    """One wrk run: what it counted, and the CPU each party used meanwhile (in cores)."""

    route: str
    requests: int
    seconds: float
    failures: int  # non-2xx answers plus socket errors and timeouts
    p50_ms: float
    p99_ms: float
    wrk_cores: float
    server_cores: float
    machine_cores: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def acknowledged(self) -> int:
        return self.requests - self.failures

    @classmethod
    def combined(cls, rounds: Sequence[LoadResult]) -> LoadResult:
        """Several runs of one route as one: counts and seconds add up, cores are averaged
        over the time, p50 is the rounds' median and p99 their worst (percentiles of the
        whole cannot be rebuilt from the rounds')."""
        seconds = sum(result.seconds for result in rounds)

        def cores(name: str) -> float:
            return sum(float(getattr(result, name)) * result.seconds for result in rounds) / seconds

        return cls(
            route=rounds[0].route,
            requests=sum(result.requests for result in rounds),
            seconds=seconds,
            failures=sum(result.failures for result in rounds),
            p50_ms=statistics.median(result.p50_ms for result in rounds),
            p99_ms=max(result.p99_ms for result in rounds),
            wrk_cores=cores("wrk_cores"),
            server_cores=cores("server_cores"),
            machine_cores=cores("machine_cores"),
        )


@dataclass(frozen=True)
class Check:
    target: str
    measured: str
    passed: bool


# ---------------------------------------------------------------------------- data


def srs_command() -> list[str]:
    """The ``srs`` script of this interpreter's environment (so a venv's python finds its own)."""
    beside = Path(sys.executable).with_name("srs")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("srs")
    if found is None:
        raise SystemExit("cannot find the srs command; install the package (make install)")
    return [found]


def has_active_model(data_dir: Path) -> bool:
    from srs.config import load_settings
    from srs.data.store import open_store
    from srs.engine.model_store import ModelStore

    settings = load_settings(environ={}, overrides={"data_dir": data_dir})
    if not (settings.dataset_dir / "items.csv").exists():
        return False
    store = open_store(settings)
    return ModelStore(store, settings.data_dir / "model-cache").active_version() is not None


def prepare_data(data_dir: Path, users: int, per_user: int) -> None:
    """Generate, prepare and train with the CLI, unless the directory already serves."""
    if has_active_model(data_dir):
        console.print(f"data: reusing {data_dir} (prepared, with an active model)")
        return
    srs = [*srs_command(), "--data-dir", str(data_dir)]
    steps = [
        (
            f"generate {users:,} users x ~{per_user} interactions",
            [*srs, "generate", "--users", str(users), "--interactions-per-user", str(per_user)],
        ),
        ("prepare", [*srs, "prepare"]),
        ("train (no tuning, no evaluation)", [*srs, "train", "--no-tune", "--no-evaluate"]),
    ]
    for number, (title, command) in enumerate(steps, start=1):
        console.print(f"[bold]data {number}/{len(steps)}[/]: {title} in {data_dir}")
        started = time.perf_counter()
        subprocess.run(command, check=True)
        console.print(f"  done in {time.perf_counter() - started:.1f} s")


def write_id_files(data_dir: Path, scratch: Path) -> tuple[Path, Path]:
    """Every user id (URL-quoted) and item id, one per line, for the wrk script to draw from."""
    dataset = data_dir / "dataset"
    users = pcsv.read_csv(
        dataset / "interactions.csv",
        convert_options=pcsv.ConvertOptions(include_columns=["USER_ID"]),
    ).column("USER_ID")
    items = pcsv.read_csv(
        dataset / "items.csv", convert_options=pcsv.ConvertOptions(include_columns=["ITEM_ID"])
    ).column("ITEM_ID")
    unique_users = users.unique().to_pylist()
    users_file, items_file = scratch / "users.txt", scratch / "items.txt"
    users_file.write_text("\n".join(urllib.parse.quote(str(u), safe="") for u in unique_users))
    # Item ids go into a JSON string in the script: refuse any that would need escaping.
    item_ids = [str(item) for item in items.to_pylist()]
    plain = [item for item in item_ids if json.dumps(item) == f'"{item}"']
    items_file.write_text("\n".join(plain))
    return users_file, items_file


def scratch_data_dir(data_dir: Path, scratch: Path) -> Path:
    """A data directory that shares the prepared data and models but has no events yet."""
    run_dir = scratch / "data"
    run_dir.mkdir(parents=True)
    for name in SHARED_ENTRIES:
        source = data_dir / name
        if source.exists():
            (run_dir / name).symlink_to(source.resolve())
    return run_dir


# ---------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server(
    data_dir: Path, port: int, workers: int | None, threads: int | None, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``srs serve`` in a session of its own, stopped with its whole process group at exit."""
    command = [*srs_command(), "--data-dir", str(data_dir), "serve", "--port", str(port)]
    if workers is not None:
        command += ["--workers", str(workers)]
    if threads is not None:
        command += ["--threads", str(threads)]
    console.print("server: " + " ".join(command))
    # Metrics files go to the scratch directory: a server killed with SIGKILL cannot remove
    # a directory of its own.
    metrics = log.parent / "metrics"
    metrics.mkdir(exist_ok=True)
    environ = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=environ,
        )
    try:
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        kill_group(process)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server and every worker at once: nothing gets to flush anything."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    with console.status("waiting for /readyz"):
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(
                    f"srs serve exited with status {process.returncode}:\n{log.read_text()}"
                )
            with (
                contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
                urllib.request.urlopen(base_url + "/readyz", timeout=2) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.25)
    raise SystemExit(f"srs serve not ready after {READY_TIMEOUT_SECONDS:.0f} s:\n{log.read_text()}")


def wait_settled(process: subprocess.Popen[bytes], quiet_seconds: float = 1.0) -> None:
    """Wait until every worker has finished starting (no CPU used for ``quiet_seconds``).

    /readyz answers as soon as one worker is up; load sent before the others have loaded
    the data piles its keep-alive connections onto the first worker, for the whole run.
    """
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    with console.status("waiting for every worker to finish starting"):
        previous = process_tree_cpu(process)
        while time.monotonic() < deadline:
            time.sleep(quiet_seconds)
            used = process_tree_cpu(process)
            if used - previous < 0.05 * quiet_seconds:
                return
            previous = used


def server_shape(process: subprocess.Popen[bytes]) -> str:
    """Workers and threads, read from the granian command line srs serve ran."""
    try:
        members = psutil.Process(process.pid).children(recursive=True)
        command = next(m.cmdline() for m in members if "granian" in " ".join(m.cmdline()))
    except (psutil.NoSuchProcess, StopIteration):
        return "unknown"

    def option(name: str) -> str:
        return command[command.index(name) + 1] if name in command else "?"

    return f"granian WSGI, {option('--workers')} workers x {option('--blocking-threads')} threads"


def warm_up(base_url: str, users_file: Path, count: int = 50) -> None:
    """A few requests so the first measured ones do not pay for lazy start-up work."""
    users = users_file.read_text().split("\n")[:count]
    for user in users:
        url = f"{base_url}/api/v1/users/{user}/recommendations?numResults={NUM_RESULTS}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            answer.read()


def process_tree_cpu(process: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) used so far by the server and all its descendants."""
    total = 0.0
    try:
        root = psutil.Process(process.pid)
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return total
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = member.cpu_times()
            total += times.user + times.system
    return total


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


# ---------------------------------------------------------------------------- load


def run_wrk(
    wrk: str,
    script: Path,
    route: str,
    mode: str,
    base_url: str,
    id_files: tuple[Path, Path],
    duration: int,
    connections: int,
    threads: int,
    server: subprocess.Popen[bytes],
) -> LoadResult:
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        base_url,
        "--",
        mode,
        str(id_files[0]),
        str(id_files[1]),
    ]
    wrk_before, server_before = children_cpu(), process_tree_cpu(server)
    machine_before = machine_busy()
    started = time.perf_counter()
    with console.status(f"wrk: {route} for {duration} s with {connections} connections"):
        finished = subprocess.run(
            command, capture_output=True, text=True, timeout=duration + 60, check=False
        )
    elapsed = time.perf_counter() - started
    wrk_cpu = children_cpu() - wrk_before
    server_cpu = process_tree_cpu(server) - server_before
    machine_cpu = machine_busy() - machine_before
    lines = [line for line in finished.stdout.splitlines() if line.startswith(WRK_MARKER)]
    if finished.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed ({finished.returncode}):\n{finished.stdout}{finished.stderr}")
    figures = json.loads(lines[-1][len(WRK_MARKER) :])
    failures = sum(figures[key] for key in ("connect", "read", "write", "status", "timeout"))
    return LoadResult(
        route=route,
        requests=int(figures["requests"]),
        seconds=figures["duration_us"] / 1e6,
        failures=int(failures),
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        wrk_cores=wrk_cpu / elapsed,
        server_cores=server_cpu / elapsed,
        machine_cores=machine_cpu / elapsed,
    )


def stored_events(data_dir: Path) -> int:
    with contextlib.closing(sqlite3.connect(data_dir / EVENTS_FILE)) as connection:
        return int(connection.execute("SELECT count(*) FROM events").fetchone()[0])


# ---------------------------------------------------------------------------- report


def checks(
    hello: LoadResult, recommendations: LoadResult, events: LoadResult, stored: int, in_flight: int
) -> list[Check]:
    """The issue's targets, plus the two things that make the rates mean something: no failed
    requests, and every acknowledged event in the file (at most ``in_flight`` more: requests
    committed while wrk was closing its connections)."""
    share = recommendations.rate / hello.rate if hello.rate else 0.0
    durable_rate = min(stored, events.acknowledged) / events.seconds if events.seconds else 0.0
    return [
        Check(
            f"recommendations >= {RECOMMENDATIONS_PER_SECOND:,.0f} req/s",
            f"{recommendations.rate:,.0f} req/s",
            recommendations.rate >= RECOMMENDATIONS_PER_SECOND,
        ),
        Check(
            f"recommendations p99 <= {RECOMMENDATIONS_P99_MS:.0f} ms",
            f"{recommendations.p99_ms:.1f} ms",
            recommendations.p99_ms <= RECOMMENDATIONS_P99_MS,
        ),
        Check(
            f"recommendations >= {HELLO_WORLD_SHARE:.0%} of hello world",
            f"{share:.0%}",
            share >= HELLO_WORLD_SHARE,
        ),
        Check(
            "recommendations: every answer 2xx",
            f"{recommendations.failures} failed",
            recommendations.failures == 0,
        ),
        Check(
            f"events >= {EVENTS_PER_SECOND:,.0f} durable/s",
            f"{durable_rate:,.0f} events/s",
            durable_rate >= EVENTS_PER_SECOND,
        ),
        Check(
            "events: every answer 2xx, every acknowledged event stored after SIGKILL",
            f"{events.failures} failed; {events.acknowledged:,} acknowledged, {stored:,} stored",
            events.failures == 0
            and events.acknowledged <= stored <= events.acknowledged + in_flight,
        ),
    ]


def other_cores(result: LoadResult) -> float:
    """Cores busy with neither wrk nor the server: loopback networking, and other tenants."""
    return max(0.0, result.machine_cores - result.wrk_cores - result.server_cores)


def print_report(
    results: Sequence[LoadResult],
    found: Sequence[Check],
    connections: int,
    shape: str,
    note: str,
    rounds: Sequence[tuple[LoadResult, LoadResult]],
) -> None:
    hello = results[0]
    by_round = Table(title="hello world and recommendations, round by round")
    for name in ("round", "hello req/s", "recommendations req/s", "share", "other cores"):
        by_round.add_column(name, justify="right")
    for number, (baseline, route) in enumerate(rounds, start=1):
        by_round.add_row(
            str(number),
            f"{baseline.rate:,.0f}",
            f"{route.rate:,.0f}",
            f"{route.rate / baseline.rate:.0%}" if baseline.rate else "-",
            f"{other_cores(baseline):.2f} / {other_cores(route):.2f}",
        )
    console.print(by_round)
    table = Table(title=f"srs serve ({shape}) under wrk ({connections} keep-alive connections)")
    columns = ("route", "req/s", "p50 ms", "p99 ms", "vs hello", "server ms/req")
    for name in (*columns, "wrk cores", "server cores", "other cores"):
        table.add_column(name, justify="left" if name == "route" else "right")
    for result in results:
        table.add_row(
            result.route,
            f"{result.rate:,.0f}",
            f"{result.p50_ms:.2f}",
            f"{result.p99_ms:.2f}",
            f"{result.rate / hello.rate:.0%}" if hello.rate else "-",
            f"{result.server_cores / result.rate * 1000:.3f}" if result.rate else "-",
            f"{result.wrk_cores:.2f}",
            f"{result.server_cores:.2f}",
            f"{other_cores(result):.2f}",
        )
    console.print(table)
    console.print(
        f"Cores busy during each run, of the machine's {psutil.cpu_count()}: wrk, the server's "
        "processes, and everything else (the kernel's share of loopback networking, and any "
        "other work on the machine, which makes the figures noisy). server ms/req is server "
        "CPU time per answered request."
    )
    verdicts = Table(title="targets")
    for name in ("target", "measured", "result"):
        verdicts.add_column(name)
    for check in found:
        verdicts.add_row(
            check.target, check.measured, "[green]PASS[/]" if check.passed else "[red]FAIL[/]"
        )
    console.print(verdicts)
    if note:
        console.print(note)


# ---------------------------------------------------------------------------- in process

IN_PROCESS_REQUESTS = 4_000


class FixedAnswer:
    """The real service, except that ``recommend`` returns one answer computed beforehand.

    Served through the same app, it shows what the HTTP API layer costs on its own (routing,
    checking the query, building and encoding 25 items): the floor any engine work adds to.
    """

    def __init__(self, service: Any, answer: Any) -> None:
        self._service = service
        self._answer = answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    def recommend(self, *_args: Any, **_kwargs: Any) -> Any:
        return self._answer


def wsgi_cpu_us(app: Any, paths: Sequence[str], requests: int) -> float:
    """CPU microseconds per request of this thread calling the WSGI app directly; the request
    environments are built beforehand, so only the app's work is timed."""
    from werkzeug.test import EnvironBuilder

    templates = []
    for path in paths:
        route, _, query = path.partition("?")
        templates.append(EnvironBuilder(path=route, query_string=query).get_environ())

    def call(template: dict[str, Any]) -> None:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO()
        body = app(environ, lambda status, headers, exc_info=None: None)
        b"".join(body)
        getattr(body, "close", lambda: None)()

    for template in templates[:200]:
        call(template)
    started = time.thread_time()
    for index in range(requests):
        call(templates[index % len(templates)])
    return (time.thread_time() - started) / requests * 1e6


def in_process_costs(run_dir: Path, users_file: Path) -> dict[str, float]:
    """The app's own CPU per request, without any HTTP server, for three routes.

    ``run_dir`` should have no events, like the server's when its recommendations were loaded.
    """
    from threadpoolctl import threadpool_limits

    from srs.config import load_settings
    from srs.web import create_app, create_app_from_settings

    threadpool_limits(limits=1)
    settings = load_settings(environ={}, overrides={"data_dir": run_dir})
    app = create_app_from_settings(settings, environ={})
    service = app.extensions["srs"].service
    quoted = [line for line in users_file.read_text().splitlines() if line]
    quoted = quoted[:: max(1, len(quoted) // 5_000)]  # spread over the whole ID range
    urls = [f"/api/v1/users/{user}/recommendations?numResults={NUM_RESULTS}" for user in quoted]
    answer = service.recommend(urllib.parse.unquote(quoted[0]), NUM_RESULTS)
    fixed = create_app(FixedAnswer(service, answer), settings)
    return {
        "GET /healthz": wsgi_cpu_us(app, ["/healthz"], IN_PROCESS_REQUESTS),
        "GET recommendations": wsgi_cpu_us(app, urls, IN_PROCESS_REQUESTS),
        "GET recommendations, answer fixed beforehand": wsgi_cpu_us(
            fixed, urls, IN_PROCESS_REQUESTS
        ),
    }


def print_in_process(costs: dict[str, float], hello: LoadResult) -> None:
    """The in-process costs, and the best hello-world share an HTTP request could reach.

    The server adds about the same CPU to every request (its hello-world cost minus the app's),
    so a route's share over HTTP is (server + app's hello world) / (server + app's route).
    """
    app_hello = costs["GET /healthz"]
    server = hello.server_cores / hello.rate * 1e6 - app_hello if hello.rate else 0.0
    table = Table(title="the Flask app's own CPU per request, in process (no HTTP server)")
    for name in ("route", "app µs/req", "with the server's share µs/req", "vs hello over HTTP"):
        table.add_column(name, justify="left" if name == "route" else "right")
    for route, cost in costs.items():
        table.add_row(
            route,
            f"{cost:.0f}",
            f"{server + cost:.0f}",
            f"{(server + app_hello) / (server + cost):.0%}",
        )
    console.print(table)
    console.print(
        f"The server's own share, {server:.0f} µs/req, is the hello world's server CPU per request "
        "less the app's. The last row is the best any engine could do behind this API layer."
    )


# ---------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / f"srs-bench-serve-{DEFAULT_USERS}",
        help="prepared data directory, made here if it has no active model",
    )
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    parser.add_argument("--per-user", type=int, default=DEFAULT_PER_USER)
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating hello world / recommendations runs"
    )
    parser.add_argument(
        "--duration", type=int, default=5, help="seconds per wrk run (events: twice this)"
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None, help="default: srs serve's")
    parser.add_argument("--threads", type=int, default=None, help="default: srs serve's")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (or make bench)")
    prepare_data(args.data_dir, args.users, args.per_user)
    with tempfile.TemporaryDirectory(prefix="srs-bench-serve-") as temporary:
        scratch = Path(temporary)
        run_dir = scratch_data_dir(args.data_dir, scratch)
        id_files = write_id_files(args.data_dir, scratch)
        script = scratch / "load.lua"
        script.write_text(
            WRK_SCRIPT.replace("__N__", str(NUM_RESULTS))
            .replace("__MARKER__", WRK_MARKER)
            .replace("__CAMPAIGN__", CAMPAIGN_ARN)
        )
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log = scratch / "server.log"
        with running_server(run_dir, port, args.workers, args.threads, log) as server:
            wait_ready(server, base_url, log)
            wait_settled(server)
            shape = server_shape(server)
            warm_up(base_url, id_files[0])

            def load(route: str, mode: str, duration: int) -> LoadResult:
                return run_wrk(
                    wrk,
                    script,
                    route,
                    mode,
                    base_url,
                    id_files,
                    duration,
                    args.connections,
                    args.wrk_threads,
                    server,
                )

            rounds: list[tuple[LoadResult, LoadResult]] = []
            protocol_rounds: list[LoadResult] = []
            for number in range(args.rounds):
                order = (*COMPARED, PROTOCOL) if number % 2 == 0 else (PROTOCOL, *COMPARED[::-1])
                ran = {route: load(route, mode, args.duration) for route, mode in order}
                rounds.append((ran[COMPARED[0][0]], ran[COMPARED[1][0]]))
                protocol_rounds.append(ran[PROTOCOL[0]])
            events = load("POST events", "events", args.duration * 2)
            kill_group(server)
            stored = stored_events(run_dir)
        costs = in_process_costs(
            scratch_data_dir(args.data_dir, scratch / "in-process"), id_files[0]
        )
    hello = LoadResult.combined([pair[0] for pair in rounds])
    recommendations = LoadResult.combined([pair[1] for pair in rounds])
    protocol = LoadResult.combined(protocol_rounds)
    results = [hello, recommendations, protocol, events]
    found = checks(hello, recommendations, events, stored, in_flight=args.connections)
    found.append(
        Check(
            "GetRecommendations: every answer 2xx",
            f"{protocol.failures} failed",
            protocol.failures == 0,
        )
    )
    extra = stored - events.acknowledged
    note = (
        f"{extra} event(s) stored beyond those acknowledged: in flight when wrk stopped."
        if extra > 0
        else ""
    )
    print_report(results, found, args.connections, shape, note, rounds)
    if hello.rate and recommendations.rate:
        console.print(
            f"GetRecommendations through /personalize: {protocol.rate / hello.rate:.0%} of the "
            f"hello world, {protocol.rate / recommendations.rate:.0%} of GET recommendations; "
            "by round: "
            + ", ".join(
                f"{result.rate / pair[0].rate:.0%}"
                for result, pair in zip(protocol_rounds, rounds, strict=True)
                if pair[0].rate
            )
        )
    print_in_process(costs, hello)
    return 0 if all(check.passed for check in found) else 1


if __name__ == "__main__":
    sys.exit(main())
