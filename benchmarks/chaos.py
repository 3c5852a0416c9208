"""Chaos checks against a real ``srs serve`` on loopback (issue 15's acceptance), one table.

Each scenario breaks something the way production breaks it and counts what a client sees:

1. **kill -9 during an event load.** Clients POST ``/api/v1/events`` (one event, one unique
   session each) and note every 204; the server's whole process group gets SIGKILL mid-load.
   After a restart, every acknowledged event must be in ``events.sqlite``: the API promises
   an fsync before the reply, and this is the only way to see that promise kept.
2. **kill -9 of ``srs prepare`` during publish.** Two sources of different shapes are prepared
   once each to learn their outputs' fingerprints (prepare is deterministic), then prepare
   runs again, alternating sources, and is SIGKILLed at random moments (biased towards the
   end, where it publishes). After every kill ``data/dataset/*`` must be exactly one run's
   files: a dataset mixing two runs' mapping, items and interactions would train nonsense.
3. **In-place model corruption under load.** While clients loop over recommendations, an array
   file of the *active* version is truncated to 1,000 bytes (``truncate -s 1000``). The arrays
   are memory-mapped, so a worker touching them may die of SIGBUS; the service must fall back
   to an older good version (the scenario adds one) and answer 200 again within 2 s.
4. **Poisoned events.** One client posts events with absurd ``sentAt`` values (1.7e12, 9e18,
   2**70, 1e300) and an ``eventValue`` of 99 while four others post valid events. Every poison
   must be a 4xx and nothing else may fail; the poisoned user's page must still render. An
   overflow in validation would otherwise be a 500, or worse, a stored row that breaks reads.
5. **Model adoption under load.** ``srs train --no-tune --no-blend`` trains and activates a new
   version while a client asks for recommendations; the worst per-second p99 must stay under
   20 ms, through training (which competes for the two cores) and the workers' adoption.
6. **20 concurrent /data views at 1M stored events.** 1M events are inserted with sqlite3
   directly (before the server starts, which backfills the per-day aggregate on open), then
   /data is timed alone and with 20 concurrent viewers (wrk when installed), beside the
   recommendations p99 with and without those viewers: /data must read the aggregate, never
   scan the events, or it slows everything.

The base data (``--users`` synthetic users, ~20 interactions each) is generated, prepared and
trained once with the CLI and reused; every scenario works on its own copy of it. Sized for a
2-core machine: the default run takes a few minutes. ``--only N`` runs one scenario (repeatable).
Everything started (servers, prepare, train, wrk) runs in its own process group and is stopped
at the end, even on error. Figures are printed, never asserted.

    python benchmarks/chaos.py [--users 20000] [--data-dir DIR] [--only N ...] [--kills 6]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

READY_TIMEOUT_SECONDS = 240.0
STOP_TIMEOUT_SECONDS = 15.0
REQUEST_TIMEOUT_SECONDS = 10.0
EVENTS_FILE = "events.sqlite"
NUM_RESULTS = 25

RECOVERY_TARGET_SECONDS = 2.0
ADOPTION_P99_MS = 20.0
DATA_PAGE_MS = 50.0
STORED_EVENTS = 1_000_000

POISONS: list[tuple[str, dict[str, object]]] = [
    ("sentAt 1.7e12", {"eventType": "clicked", "sentAt": 1.7e12}),
    ("sentAt 9e18", {"eventType": "clicked", "sentAt": 9e18}),
    ("sentAt 2**70", {"eventType": "clicked", "sentAt": 2**70}),
    ("sentAt 1e300", {"eventType": "clicked", "sentAt": 1e300}),
    ("eventValue 99", {"eventType": "rated", "eventValue": 99}),
]


@dataclass(frozen=True)
class Row:
    scenario: str
    measured: str
    figure: str
    target: str
    verdict: str  # "pass", "FAIL", "info" or "not run"


@dataclass
class Sample:
    at: float  # time.monotonic() when the request was sent
    status: int | None  # None: connection error or timeout
    seconds: float


@dataclass
class Ids:
    users: list[str]
    items: list[str]


@dataclass
class Started:
    """Every process group this run started, so the end can stop whatever is left."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def add(self, process: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            stop_group(process)


STARTED = Started()


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------- processes


def srs_command() -> list[str]:
    beside = Path(sys.executable).with_name("srs")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("srs")
    if found is None:
        raise SystemExit("cannot find the srs command; install the package (make install)")
    return [found]


def start(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``command`` in a session (process group) of its own, output to ``log``."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    return STARTED.add(process)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the group, SIGKILL it if it lingers; also reaps what a dead leader left."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """One ``srs serve`` on 127.0.0.1 over ``data_dir``."""

    def __init__(self, data_dir: Path, scratch: Path) -> None:
        self.data_dir = data_dir
        self.scratch = scratch
        self.port = free_port()
        self.log = scratch / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def start(self) -> None:
        metrics = self.scratch / f"metrics-{time.monotonic_ns()}"
        metrics.mkdir()
        command = [
            *srs_command(),
            "--data-dir",
            str(self.data_dir),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        self.process = start(command, self.log, {"PROMETHEUS_MULTIPROC_DIR": str(metrics)})
        self.wait_ready()

    def wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"srs serve exited ({self.process.returncode}); see {self.log}")
            status, _ = request(self.host, "GET", "/readyz", timeout=2)
            if status == 200:
                self.wait_settled()
                return
            time.sleep(0.25)
        raise RuntimeError(f"srs serve not ready after {READY_TIMEOUT_SECONDS:.0f} s")

    def wait_settled(self, quiet_seconds: float = 1.0) -> None:
        """Until every worker has finished starting (the tree used < 5% CPU for a second)."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        previous = self.cpu()
        while time.monotonic() < deadline:
            time.sleep(quiet_seconds)
            used = self.cpu()
            if used - previous < 0.05 * quiet_seconds:
                return
            previous = used

    def members(self) -> list[psutil.Process]:
        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu(self) -> float:
        total = 0.0
        for member in self.members():
            with contextlib.suppress(psutil.NoSuchProcess):
                times = member.cpu_times()
                total += times.user + times.system
        return total

    def pids(self) -> set[int]:
        return {member.pid for member in self.members()}

    def kill(self) -> None:
        if self.process is not None:
            kill_group(self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)


@contextlib.contextmanager
def serving(data_dir: Path, scratch: Path) -> Iterator[Server]:
    server = Server(data_dir, scratch)
    try:
        server.start()
        say(f"  server up on port {server.port} ({len(server.pids())} processes)")
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------- clients


class Client:
    """One keep-alive connection, reopened after any error."""

    def __init__(self, host: tuple[str, int], timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self.host = host
        self.timeout = timeout
        self.connection: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: object = None) -> tuple[int | None, float]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        started = time.perf_counter()
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(*self.host, timeout=self.timeout)
            self.connection.request(method, path, body=payload, headers=headers)
            answer = self.connection.getresponse()
            answer.read()
            status: int | None = answer.status
            if answer.getheader("Connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException):
            self.close()
            status = None
        return status, time.perf_counter() - started

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = None


def request(
    host: tuple[str, int], method: str, path: str, body: object = None, timeout: float = 10
) -> tuple[int | None, float]:
    client = Client(host, timeout)
    try:
        return client.send(method, path, body)
    finally:
        client.close()


def recommendations_path(user: str, num: int = NUM_RESULTS) -> str:
    return f"/api/v1/users/{urllib.parse.quote(user, safe='')}/recommendations?numResults={num}"


def event_body(user: str, session: str, item: str, **fields: object) -> dict[str, object]:
    event: dict[str, object] = {"eventType": "clicked", "itemId": item, "sentAt": int(time.time())}
    event.update(fields)
    return {"userId": user, "sessionId": session, "eventList": [event]}


def loop(
    host: tuple[str, int],
    make: Callable[[int], tuple[str, str, object]],
    stop: threading.Event,
    seconds: float,
    samples: list[Sample],
    pause: float = 0.0,
) -> None:
    """Send ``make(n)``'s (method, path, body) until ``stop`` or ``seconds`` pass."""
    client = Client(host)
    deadline = time.monotonic() + seconds
    count = 0
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            method, path, body = make(count)
            at = time.monotonic()
            status, took = client.send(method, path, body)
            samples.append(Sample(at, status, took))
            count += 1
            if status is None:
                time.sleep(0.02)  # a dead server refuses at once: do not spin
            elif pause:
                time.sleep(pause)
    finally:
        client.close()


@contextlib.contextmanager
def load(
    threads: int,
    host: tuple[str, int],
    make: Callable[[int, int], tuple[str, str, object]],
    seconds: float,
    pause: float = 0.0,
) -> Iterator[tuple[list[list[Sample]], threading.Event]]:
    """``threads`` looping clients (``make(thread, n)``), stopped and joined on exit."""
    stop = threading.Event()
    results: list[list[Sample]] = [[] for _ in range(threads)]
    workers = [
        threading.Thread(
            target=loop,
            args=(host, lambda n, t=t: make(t, n), stop, seconds, results[t], pause),
            daemon=True,
        )
        for t in range(threads)
    ]
    for worker in workers:
        worker.start()
    try:
        yield results, stop
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=REQUEST_TIMEOUT_SECONDS + 5)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def recommendations_maker(ids: Ids) -> Callable[[int, int], tuple[str, str, object]]:
    def make(thread: int, n: int) -> tuple[str, str, object]:
        return "GET", recommendations_path(random.choice(ids.users)), None

    return make


# ---------------------------------------------------------------------------- data


def has_active_model(data_dir: Path) -> bool:
    return (data_dir / "models" / "ACTIVE").exists() and (data_dir / "dataset").exists()


def base_data(data_dir: Path, users: int) -> None:
    if has_active_model(data_dir):
        say(f"data: reusing {data_dir}")
        return
    srs = [*srs_command(), "--data-dir", str(data_dir)]
    for title, command in [
        (f"generate {users:,} users", [*srs, "generate", "--users", str(users)]),
        ("prepare", [*srs, "prepare"]),
        ("train", [*srs, "train", "--no-tune", "--no-evaluate"]),
    ]:
        say(f"data: {title} in {data_dir}")
        subprocess.run(command, check=True, capture_output=True, timeout=600)


def copy_data(base: Path, target: Path) -> Path:
    """A data directory of its own: dataset versions, models and the web key, no events."""
    target.mkdir(parents=True)
    for entry in base.iterdir():
        if entry.name.startswith(EVENTS_FILE) or entry.name in ("model-cache",):
            continue
        if entry.is_symlink():
            (target / entry.name).symlink_to(os.readlink(entry))
        elif entry.is_dir():
            shutil.copytree(entry, target / entry.name, symlinks=True)
        elif entry.name.endswith(".csv"):
            (target / entry.name).symlink_to(entry.resolve())
        else:
            shutil.copy2(entry, target / entry.name)
    return target


def read_ids(data_dir: Path) -> Ids:
    dataset = data_dir / "dataset"
    with (dataset / "interactions.csv").open(newline="") as handle:
        users = sorted({row["USER_ID"] for row in csv.DictReader(handle)})
    with (dataset / "items.csv").open(newline="") as handle:
        items = [row["ITEM_ID"] for row in csv.DictReader(handle)]
    return Ids(users, items)


def active_dir(data_dir: Path) -> Path:
    version = (data_dir / "models" / "ACTIVE").read_text().strip()
    return data_dir / "models" / version


def stored_sessions(data_dir: Path, prefix: str) -> set[str]:
    with contextlib.closing(sqlite3.connect(data_dir / EVENTS_FILE, timeout=30)) as connection:
        rows = connection.execute(
            "SELECT session_id FROM events WHERE session_id LIKE ?", (prefix + "%",)
        ).fetchall()
    return {str(row[0]) for row in rows}


# ---------------------------------------------------------------------------- scenarios


def scenario_kill_server(base: Path, scratch: Path, ids: Ids) -> list[Row]:
    """1: SIGKILL the server mid event load; every acknowledged event must survive."""
    data_dir = copy_data(base, scratch / "data")
    name = "1 kill -9 server during event load"
    server = Server(data_dir, scratch)
    try:
        server.start()

        def make(thread: int, n: int) -> tuple[str, str, object]:
            session = f"chaos-{thread}-{n}"
            body = event_body(random.choice(ids.users), session, random.choice(ids.items))
            return "POST", "/api/v1/events", body

        with load(6, server.host, make, seconds=20) as (results, stop):
            time.sleep(4)
            say("  SIGKILL to the server's process group")
            server.kill()
            time.sleep(0.5)
            stop.set()
        acknowledged: set[str] = set()
        sent = 0
        for thread, samples in enumerate(results):
            sent += len(samples)
            acknowledged |= {
                f"chaos-{thread}-{n}" for n, s in enumerate(samples) if s.status == 204
            }
        say(f"  {sent:,} sent, {len(acknowledged):,} acknowledged; restarting")
        server.start()
        stored = stored_sessions(data_dir, "chaos-")
        restarted = request(server.host, "GET", "/healthz")[0]
    finally:
        server.stop()
    lost = len(acknowledged - stored)
    return [
        Row(
            name,
            "acknowledged (204) events missing after restart",
            f"{lost} of {len(acknowledged):,} lost ({len(stored - acknowledged)} unacked stored)",
            "0 lost",
            verdict(lost == 0),
        ),
        Row(
            name,
            "server answers after restart",
            f"/healthz {restarted}",
            "200",
            verdict(restarted == 200),
        ),
    ]


def dataset_fingerprint(data_dir: Path) -> tuple[tuple[str, str], ...] | None:
    dataset = data_dir / "dataset"
    if not dataset.is_dir():
        return None
    return tuple(
        (path.name, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in sorted(dataset.iterdir())
        if path.is_file()
    )


def wait_for_staged(
    data_dir: Path, names: int, process: subprocess.Popen[bytes], seconds: float
) -> None:
    """Until a staging directory of ``srs prepare`` holds ``names`` files (or it exits)."""
    versions = data_dir / ".dataset.versions"
    leftovers = set(versions.glob(".staging-*"))  # of killed runs: this one removes them
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        for staging in set(versions.glob(".staging-*")) - leftovers:
            with contextlib.suppress(OSError):
                if sum(1 for _ in staging.iterdir()) >= names:
                    return
        time.sleep(0.002)


def scenario_kill_prepare(base: Path, scratch: Path, users: int, kills: int) -> list[Row]:
    """2: SIGKILL srs prepare at random moments; the dataset is always one run's whole output."""
    name = "2 kill -9 prepare during publish"
    data_dir = scratch / "data"
    data_dir.mkdir()
    srs = [*srs_command(), "--data-dir", str(data_dir)]
    large, small = scratch / "large.csv", scratch / "small.csv"
    say(f"  generating a {users * 2:,}-user source (30 interactions each)")
    subprocess.run(
        [
            *srs,
            "generate",
            "--users",
            str(users * 2),
            "--interactions-per-user",
            "30",
            "--seed",
            "11",
            "--output",
            str(large),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    shutil.copy2(base / "aws_synthetic_service_recommendation_data.csv", small)
    sources = [large, small]
    known: dict[tuple[tuple[str, str], ...], str] = {}
    durations: list[float] = []
    for source in sources:
        started = time.monotonic()
        subprocess.run(
            [*srs, "prepare", "--source", str(source)], check=True, capture_output=True, timeout=300
        )
        durations.append(time.monotonic() - started)
        fingerprint = dataset_fingerprint(data_dir)
        assert fingerprint is not None
        known[fingerprint] = source.name
    say(
        "  full runs: "
        + ", ".join(f"{s.name} {d:.1f} s" for s, d in zip(sources, durations, strict=True))
    )
    outcomes: list[str] = []
    log = scratch / "prepare.log"
    staged_names = len(known and next(iter(known)))
    for number in range(kills):
        index = number % 2
        at_publish = (number // 2) % 2 == 1
        process = start([*srs, "prepare", "--source", str(sources[index])], log)
        started = time.monotonic()
        if at_publish:
            # Wait for a staging directory holding every output, then kill within 100 ms:
            # around the fsyncs, the renames and the symlink switch.
            wait_for_staged(data_dir, staged_names, process, durations[index] * 5)
            time.sleep(random.uniform(0.0, 0.1))
        else:
            deadline = started + random.uniform(0.2, 1.0) * durations[index]
            while time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.005)
        moment = time.monotonic() - started
        finished = process.poll() is not None
        kill_group(process)
        fingerprint = dataset_fingerprint(data_dir)
        found = known.get(fingerprint, "MIXED") if fingerprint else "MISSING"
        outcomes.append(found)
        say(
            f"  kill {number + 1}/{kills} of {sources[index].name} prepare at {moment:.2f} s"
            f" ({'at publish' if at_publish else 'random'}"
            f"{', had finished' if finished else ''}): dataset is {found}"
        )
    mixed = sum(1 for found in outcomes if found not in known.values())
    tally = ", ".join(f"{count} {found}" for found, count in sorted(Counter(outcomes).items()))
    return [
        Row(
            name,
            f"datasets not from one run after {kills} kills",
            f"{mixed} mixed (dataset after each: {tally})",
            "0 mixed",
            verdict(mixed == 0),
        ),
    ]


def scenario_corruption(base: Path, scratch: Path, ids: Ids) -> list[Row]:
    """3: truncate an array of the active version under load; time to 200 again."""
    name = "3 truncate active model file under load"
    data_dir = copy_data(base, scratch / "data")
    active = active_dir(data_dir)
    # An older good version for the service to fall back on (versions sort by name).
    shutil.copytree(active, data_dir / "models" / "20000101T000000Z-chaosfallback")
    arrays = sorted(active.glob("*.npy"), key=lambda p: p.stat().st_size, reverse=True)
    victim = next((p for p in arrays if p.name == "item_weights.npy"), arrays[0])
    with serving(data_dir, scratch) as server:
        pids_before = server.pids()

        def make(thread: int, n: int) -> tuple[str, str, object]:
            # Half default answers (the table), half another size (scored live, on the arrays).
            num = NUM_RESULTS if n % 2 else 10
            return "GET", recommendations_path(random.choice(ids.users), num), None

        with load(4, server.host, make, seconds=12) as (results, _):
            time.sleep(3)
            truncated_at = time.monotonic()
            subprocess.run(["truncate", "-s", "1000", str(victim)], check=True)
            say(f"  truncated {victim.name} of {active.name} to 1000 bytes")
            time.sleep(8)
        pids_after = server.pids()
        model = json.loads(fetch_body(server.host, "/api/v1/model")).get("version")
    for line in log_lines(server.log, ("warn", "error", "signal", "fall")):
        say(f"  server log: {line}")
    samples = sorted((s for thread in results for s in thread), key=lambda s: s.at)
    after = [s for s in samples if s.at >= truncated_at]
    five = sum(1 for s in after if s.status is not None and s.status >= 500)
    dropped = sum(1 for s in after if s.status is None)
    bad = [s for s in after if s.status != 200]
    recovery = (bad[-1].at + bad[-1].seconds - truncated_at) if bad else 0.0
    restarted = len(pids_before - pids_after)
    return [
        Row(
            name,
            "5xx / connection errors after truncation (4 clients)",
            f"{five} 5xx, {dropped} conn errors of {len(after):,}",
            "0 5xx",
            verdict(five == 0),
        ),
        Row(
            name,
            "time until answers are 200 again",
            f"{recovery:.2f} s",
            f"<= {RECOVERY_TARGET_SECONDS:.0f} s",
            verdict(recovery <= RECOVERY_TARGET_SECONDS),
        ),
        Row(
            name,
            "worker processes replaced; /api/v1/model after",
            f"{restarted} replaced; serving {model}",
            "info",
            "info",
        ),
    ]


def log_lines(log: Path, words: tuple[str, ...], limit: int = 4) -> list[str]:
    """The first ``limit`` lines of ``log`` holding any of ``words`` (any case), shortened."""
    text = log.read_text(errors="replace") if log.exists() else ""
    found = [line for line in text.splitlines() if any(w in line.lower() for w in words)]
    return [line[:160] for line in found[:limit]]


def scenario_poison(base: Path, scratch: Path, ids: Ids) -> list[Row]:
    """4: absurd sentAt / eventValue from one client while four post valid events."""
    name = "4 poisoned events"
    data_dir = copy_data(base, scratch / "data")
    poisoned_user = "chaos-poisoned-user"
    with serving(data_dir, scratch) as server:
        first = request(
            server.host,
            "POST",
            "/api/v1/events",
            event_body(poisoned_user, "chaos-p0", ids.items[0]),
        )[0]

        def make(thread: int, n: int) -> tuple[str, str, object]:
            if thread == 0:
                _, fields = POISONS[n % len(POISONS)]
                body = event_body(poisoned_user, f"chaos-p-{n}", random.choice(ids.items), **fields)
            else:
                body = event_body(
                    random.choice(ids.users), f"chaos-{thread}-{n}", random.choice(ids.items)
                )
            return "POST", "/api/v1/events", body

        with load(5, server.host, make, seconds=6) as (results, _):
            time.sleep(6)
        page = request(server.host, "GET", "/?user=" + urllib.parse.quote(poisoned_user))[0]
        recs = request(server.host, "GET", recommendations_path(poisoned_user))[0]
        history = request(server.host, "GET", f"/api/v1/users/{poisoned_user}/history")[0]
    poison = results[0]
    not_4xx = [s.status for s in poison if s.status is None or not 400 <= s.status < 500]
    by_kind: dict[str, set[int | None]] = {}
    for n, sample in enumerate(poison):
        by_kind.setdefault(POISONS[n % len(POISONS)][0], set()).add(sample.status)
    others = [s for thread in results[1:] for s in thread]
    failed = sum(1 for s in others if s.status != 204)
    five = sum(1 for s in poison + others if s.status is not None and s.status >= 500)
    kinds = "; ".join(f"{k}: {sorted(v, key=str)}" for k, v in by_kind.items())
    say(f"  poison answers: {kinds}")
    return [
        Row(
            name,
            "poison answers that are not 4xx",
            f"{len(not_4xx)} of {len(poison):,}",
            "0",
            verdict(not not_4xx),
        ),
        Row(name, "5xx answers to anyone", f"{five}", "0 5xx", verdict(five == 0)),
        Row(
            name,
            "valid events (4 clients) not 204",
            f"{failed} of {len(others):,}",
            "0",
            verdict(failed == 0),
        ),
        Row(
            name,
            "poisoned user: page / recommendations / history",
            f"{page} / {recs} / {history} (first valid event {first})",
            "200 / 200 / 200",
            verdict(page == recs == history == 200),
        ),
    ]


def scenario_adoption(base: Path, scratch: Path, ids: Ids) -> list[Row]:
    """5: train and adopt a new version while a client reads recommendations."""
    name = "5 model adoption under load"
    data_dir = copy_data(base, scratch / "data")
    with serving(data_dir, scratch) as server:
        before = json.loads(fetch_body(server.host, "/api/v1/model")).get("version")
        train_log = scratch / "train.log"
        train_seconds = 0.0
        adopted_at: float | None = None
        with load(2, server.host, recommendations_maker(ids), seconds=300) as (results, stop):
            time.sleep(2)
            say("  srs train --no-tune --no-blend under load")
            started = time.monotonic()
            trainer = start(
                [*srs_command(), "--data-dir", str(data_dir), "train", "--no-tune", "--no-blend"],
                train_log,
            )
            try:
                trainer.wait(timeout=240)
            finally:
                stop_group(trainer)
            train_seconds = time.monotonic() - started
            say(f"  train exited {trainer.returncode} in {train_seconds:.0f} s; awaiting adoption")
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                now = json.loads(fetch_body(server.host, "/api/v1/model")).get("version")
                if now != before and adopted_at is None:
                    adopted_at = time.monotonic()
                    say(f"  adopted {now} {adopted_at - started:.1f} s after train started")
                    deadline = min(deadline, adopted_at + 12)  # the other worker, and its table
                time.sleep(0.5)
            stop.set()
    samples = [s for thread in results for s in thread]
    windows: dict[int, list[float]] = {}
    first = min(s.at for s in samples)
    for sample in samples:
        windows.setdefault(int(sample.at - first), []).append(sample.seconds * 1000)
    p99s = {second: percentile(values, 0.99) for second, values in sorted(windows.items())}
    worst = max(p99s, key=lambda k: p99s[k])
    over = sum(1 for value in p99s.values() if value > ADOPTION_P99_MS)
    failed = sum(1 for s in samples if s.status != 200)
    return [
        Row(
            name,
            f"worst 1 s window p99 ({len(p99s)} windows, {len(samples):,} requests)",
            f"{p99s[worst]:.1f} ms (second {worst}); {over} windows over",
            f"<= {ADOPTION_P99_MS:.0f} ms each",
            verdict(over == 0),
        ),
        Row(
            name,
            "new version adopted; failed requests",
            f"{'yes' if adopted_at else 'NO'} (train {train_seconds:.0f} s); {failed} failed",
            "adopted, 0 failed",
            verdict(adopted_at is not None and failed == 0),
        ),
    ]


def fetch_body(host: tuple[str, int], path: str) -> bytes:
    connection = http.client.HTTPConnection(*host, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        connection.request("GET", path)
        return connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return b"{}"
    finally:
        connection.close()


def insert_events(data_dir: Path, ids: Ids, count: int) -> None:
    """``count`` events over the past year, written straight into a fresh events.sqlite (no
    per-day aggregate: the server builds it from these rows when it opens the file)."""
    with contextlib.closing(sqlite3.connect(data_dir / EVENTS_FILE)) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " user_id TEXT NOT NULL, session_id TEXT NOT NULL, event_type TEXT NOT NULL,"
            " item_id TEXT NOT NULL, event_value REAL NOT NULL, sent_at INTEGER NOT NULL,"
            " received_at REAL NOT NULL)"
        )
        now = int(time.time())
        rng = random.Random(6)
        types = ["viewed", "clicked", "launched", "configured", "liked"]
        batch = 100_000
        for start_at in range(0, count, batch):
            rows = []
            for n in range(start_at, min(count, start_at + batch)):
                sent = now - rng.randrange(365 * 86_400)
                rows.append(
                    (
                        rng.choice(ids.users),
                        f"bulk-{n // 10}",
                        rng.choice(types),
                        rng.choice(ids.items),
                        3.0,
                        sent,
                        float(sent),
                    )
                )
            connection.executemany(
                "INSERT INTO events (user_id, session_id, event_type, item_id, event_value,"
                " sent_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            connection.commit()


def wrk_load(host: tuple[str, int], path: str, connections: int, seconds: int) -> str | None:
    """wrk's p50/p99/requests line for ``path``, or None when wrk is not installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    command = [
        wrk,
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        f"http://{host[0]}:{host[1]}{path}",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    STARTED.add(process)
    try:
        output, _ = process.communicate(timeout=seconds + 30)
    finally:
        stop_group(process)
    text = output.decode(errors="replace")
    p50 = re.search(r"^\s*50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", text, re.M)
    total = re.search(r"(\d+) requests in", text)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    return (
        f"p50 {p50.group(1) if p50 else '?'}, p99 {p99.group(1) if p99 else '?'},"
        f" {total.group(1) if total else '?'} requests, non-2xx {errors.group(1) if errors else 0}"
        + (f", socket errors {socket_errors.group(1)}" if socket_errors else "")
    )


def wrk_ms(figure: str, key: str) -> float:
    found = re.search(key + r" ([\d.]+)(us|ms|s)\b", figure)
    if found is None:
        return float("nan")
    value, unit = float(found.group(1)), found.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def time_data_page(host: tuple[str, int], count: int) -> list[float]:
    """Milliseconds of ``count`` sequential GET /data answered 200."""
    client = Client(host)
    try:
        answers = [client.send("GET", "/data") for _ in range(count)]
    finally:
        client.close()
    return [took * 1000 for status, took in answers if status == 200]


def scenario_data_page(base: Path, scratch: Path, ids: Ids) -> list[Row]:
    """6: /data and recommendations at 1M stored events, with 20 concurrent /data viewers."""
    name = "6 /data at 1M events"
    data_dir = copy_data(base, scratch / "data")
    with serving(data_dir, scratch) as server:
        empty = time_data_page(server.host, 20)
    say(f"  /data with no events: p50 {percentile(empty, 0.5):.1f} ms")
    (data_dir / EVENTS_FILE).unlink(missing_ok=True)
    for extra in data_dir.glob(EVENTS_FILE + "*"):
        extra.unlink()
    started = time.monotonic()
    insert_events(data_dir, ids, STORED_EVENTS)
    say(f"  inserted {STORED_EVENTS:,} events in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    with serving(data_dir, scratch) as server:
        say(f"  server ready (with the backfill) in {time.monotonic() - started:.1f} s")
        with contextlib.closing(sqlite3.connect(data_dir / EVENTS_FILE)) as connection:
            daily = connection.execute("SELECT count(*), sum(count) FROM event_daily").fetchone()
        say(f"  event_daily: {daily[0]:,} rows counting {daily[1]:,} events")
        solo = time_data_page(server.host, 20)
        with load(1, server.host, recommendations_maker(ids), seconds=6) as (quiet, _):
            time.sleep(6)
        with load(1, server.host, recommendations_maker(ids), seconds=60) as (busy, stop):
            figure = wrk_load(server.host, "/data", 20, 10)
            if figure is None:
                with load(20, server.host, lambda t, n: ("GET", "/data", None), 10) as (views, _):
                    time.sleep(10)
                times = [s.seconds * 1000 for thread in views for s in thread if s.status == 200]
                failed = sum(1 for thread in views for s in thread if s.status != 200)
                figure = (
                    f"p50 {percentile(times, 0.5):.1f}ms, p99 {percentile(times, 0.99):.1f}ms,"
                    f" {len(times)} requests, failed {failed} (python clients)"
                )
            stop.set()
    quiet_p99 = percentile([s.seconds * 1000 for s in quiet[0] if s.status == 200], 0.99)
    busy_ok = [s.seconds * 1000 for s in busy[0] if s.status == 200]
    busy_p99 = percentile(busy_ok, 0.99)
    busy_failed = sum(1 for s in busy[0] if s.status != 200)
    solo_p50, solo_max = percentile(solo, 0.5), max(solo, default=float("nan"))
    concurrent_p50 = wrk_ms(figure, "p50")
    # "Unaffected": within twice the quiet p99 or 5 ms of it, whichever allows more.
    allowed = max(2 * quiet_p99, quiet_p99 + 5)
    return [
        Row(
            name,
            "/data alone, 20 sequential views (p50 with no events)",
            f"p50 {solo_p50:.1f} ms, max {solo_max:.1f} ms ({percentile(empty, 0.5):.1f} ms)",
            f"<= {DATA_PAGE_MS:.0f} ms",
            verdict(solo_p50 <= DATA_PAGE_MS),
        ),
        Row(
            name,
            "/data with 20 concurrent viewers (10 s)",
            figure,
            f"p50 <= {DATA_PAGE_MS:.0f} ms",
            verdict(concurrent_p50 <= DATA_PAGE_MS),
        ),
        Row(
            name,
            "recommendations p99: quiet -> with 20 /data viewers",
            f"{quiet_p99:.1f} -> {busy_p99:.1f} ms ({busy_failed} failed)",
            f"<= {allowed:.1f} ms",
            verdict(busy_p99 <= allowed and busy_failed == 0),
        ),
    ]


def verdict(passed: bool) -> str:
    return "pass" if passed else "FAIL"


# ---------------------------------------------------------------------------- main

SCENARIOS = {
    1: "1 kill -9 server during event load",
    2: "2 kill -9 prepare during publish",
    3: "3 truncate active model file under load",
    4: "4 poisoned events",
    5: "5 model adoption under load",
    6: "6 /data at 1M events",
}


def print_table(rows: list[Row]) -> None:
    headers = ("scenario", "measured", "figure", "target", "result")
    table = [headers, *((r.scenario, r.measured, r.figure, r.target, r.verdict) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    print()
    for index, line in enumerate(table):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )
        if index == 0:
            print("  ".join("-" * width for width in widths))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--data-dir", type=Path, default=None, help="base data (made if absent)")
    parser.add_argument("--only", type=int, action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--kills", type=int, default=8, help="prepare kills in scenario 2")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    random.seed(args.seed)
    base = args.data_dir or Path(tempfile.gettempdir()) / f"srs-bench-chaos-{args.users}"
    chosen = sorted(set(args.only or SCENARIOS))
    rows: list[Row] = []
    begun = time.monotonic()
    try:
        base_data(base, args.users)
        ids = read_ids(base)
        say(f"data: {len(ids.users):,} users, {len(ids.items)} items")
        runs: dict[int, Callable[[Path], list[Row]]] = {
            1: lambda scratch: scenario_kill_server(base, scratch, ids),
            2: lambda scratch: scenario_kill_prepare(base, scratch, args.users, args.kills),
            3: lambda scratch: scenario_corruption(base, scratch, ids),
            4: lambda scratch: scenario_poison(base, scratch, ids),
            5: lambda scratch: scenario_adoption(base, scratch, ids),
            6: lambda scratch: scenario_data_page(base, scratch, ids),
        }
        for number in SCENARIOS:
            if number not in chosen:
                rows.append(Row(SCENARIOS[number], "-", "-", "-", "not run"))
                continue
            say(f"scenario {SCENARIOS[number]}")
            started = time.monotonic()
            with tempfile.TemporaryDirectory(prefix=f"srs-chaos-{number}-") as scratch:
                try:
                    rows.extend(runs[number](Path(scratch)))
                except Exception as exc:  # one broken scenario must not hide the rest
                    say(f"  scenario {number} failed to run: {exc!r}")
                    rows.append(
                        Row(SCENARIOS[number], "could not run", repr(exc)[:80], "-", "FAIL")
                    )
                finally:
                    STARTED.stop_all()
            say(f"  done in {time.monotonic() - started:.0f} s")
    finally:
        STARTED.stop_all()
    print_table(rows)
    print(f"\ntotal {time.monotonic() - begun:.0f} s")
    return 0 if all(row.verdict in ("pass", "info", "not run") for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
