"""Pipeline throughput and peak memory: ``srs generate`` and ``srs prepare``.

Each step runs in a fresh child process so its peak RSS is its own. Beside each
step runs a baseline in the same benchmark: for generate, writing an equally
sized frame of random numbers with pyarrow (the I/O floor); for prepare, a bare
``pyarrow.csv.read_csv`` of the same file (parsing with no rules, no mapping, no
writing). Targets (issue 2): both steps under 20 s for 2M rows, prepare under
1.5 GB peak RSS.

    python benchmarks/pipeline.py [--users 100000] [--per-user 20] [--big-gb 0]

``--big-gb N`` also prepares a source of about N GB (the 2M-row file repeated) to
show that memory stays bounded however large the file.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Params = dict[str, int]
Step = Callable[[Path, Params], int]


def _child(step: Step, workdir: Path, params: Params, queue: Any) -> None:
    start = time.perf_counter()
    rows = step(workdir, params)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((rows, seconds, peak_kib / 1024))


def measure(step: Step, workdir: Path, params: Params) -> tuple[int, float, float]:
    """(rows, seconds, peak RSS MiB) of ``step`` run alone in a fresh process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(step, workdir, params, queue))
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"step {step.__name__} failed with exit code {process.exitcode}")
    rows, seconds, peak = result
    return int(rows), float(seconds), float(peak)


def generate_step(workdir: Path, params: Params) -> int:
    from srs.catalog import load_catalog
    from srs.data.synthetic import generate_interactions, write_source

    data = generate_interactions(
        users=params["users"],
        interactions_per_user=params["per_user"],
        seed=42,
        catalog=load_catalog(),
    )
    return write_source(data, workdir / "source.csv")


def generate_baseline(workdir: Path, params: Params) -> int:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    rows = params["users"] * params["per_user"]
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "User ID": rng.integers(0, params["users"], rows),
            "AWS Service": rng.integers(0, 200, rows),
            "Interaction Type": rng.integers(0, 5, rows),
            "Rating": rng.integers(1, 6, rows),
            "Timestamp": rng.integers(1_700_000_000, 1_716_000_000, rows),
        }
    )
    pcsv.write_csv(table, workdir / "baseline.csv")
    return rows


def prepare_step(workdir: Path, params: Params, name: str = "source.csv") -> int:
    from srs.catalog import load_catalog
    from srs.data.prepare import prepare_dataset

    return prepare_dataset(workdir / name, workdir / "dataset", catalog=load_catalog()).rows


def prepare_big_step(workdir: Path, params: Params) -> int:
    return prepare_step(workdir, params, "big.csv")


def prepare_baseline(workdir: Path, params: Params) -> int:
    import pyarrow.csv as pcsv

    return int(pcsv.read_csv(workdir / "source.csv").num_rows)


def build_big_source(workdir: Path, gigabytes: float) -> Path:
    """Repeat the generated file's rows until the file reaches ``gigabytes``."""
    source, big = workdir / "source.csv", workdir / "big.csv"
    with source.open("rb") as handle:
        header = handle.readline()
        body = handle.read()
    with big.open("wb") as out:
        out.write(header)
        while out.tell() < gigabytes * 1e9:
            out.write(body)
    return big


def report(name: str, rows: int, seconds: float, peak: float, target: str = "") -> None:
    print(
        f"{name:<30} {rows:>12,} rows {seconds:>8.2f} s {rows / seconds:>14,.0f} rows/s "
        f"{peak:>9,.0f} MiB peak  {target}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--per-user", type=int, default=20)
    parser.add_argument("--big-gb", type=float, default=0.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    params = {"users": args.users, "per_user": args.per_user}

    workdir = Path(tempfile.mkdtemp(prefix="srs-bench-", dir=args.workdir))
    try:
        print(f"{'step':<30} {'rows':>17} {'time':>10} {'throughput':>21} {'memory':>14}")
        report("baseline: pyarrow write", *measure(generate_baseline, workdir, params))
        report("srs generate", *measure(generate_step, workdir, params), target="target < 20 s")
        size = (workdir / "source.csv").stat().st_size / 1e6
        print(f"(source file: {size:,.0f} MB)")
        report("baseline: pyarrow read_csv", *measure(prepare_baseline, workdir, params))
        report(
            "srs prepare",
            *measure(prepare_step, workdir, params),
            target="target < 20 s, < 1,536 MiB",
        )
        if args.big_gb > 0:
            big = build_big_source(workdir, args.big_gb)
            print(f"(big source file: {big.stat().st_size / 1e9:,.2f} GB)")
            report("srs prepare (big file)", *measure(prepare_big_step, workdir, params))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
