"""A source far larger than a block is streamed: peak memory does not grow with file size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = """
import json, resource, sys
from pathlib import Path
from srs.data.prepare import prepare_dataset
result = prepare_dataset(Path(sys.argv[1]), Path(sys.argv[2]), block_bytes=4 << 20)
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": result.rows, "peak_mib": peak_mib}))
"""


def build_source(path: Path, target_bytes: int) -> int:
    """Write a source of about ``target_bytes`` by repeating one block; returns its rows."""
    services = ["Amazon S3", "AWS Lambda", "Amazon EC2", "Amazon DynamoDB", '"AWS Glue, ETL"']
    lines = [
        f"user_{i % 5000:05d},{services[i % 5]},viewed,{1 + i % 5},{1700000000 + i}\n"
        for i in range(20_000)
    ]
    block = "".join(lines).encode()
    rows = 0
    with path.open("wb") as out:
        out.write(b"User ID,AWS Service,Interaction Type,Rating,Timestamp\n")
        while out.tell() < target_bytes:
            out.write(block)
            rows += len(lines)
    return rows


def prepare_in_child(source: Path, out: Path) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(source), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(completed.stdout)
    return result


@pytest.mark.slow
def test_peak_memory_stays_flat_from_100_mb_to_1_gb(tmp_path: Path) -> None:
    small_rows = build_source(tmp_path / "small.csv", 100_000_000)
    small = prepare_in_child(tmp_path / "small.csv", tmp_path / "small")
    (tmp_path / "small.csv").unlink()
    big_rows = build_source(tmp_path / "big.csv", 1_000_000_000)
    big = prepare_in_child(tmp_path / "big.csv", tmp_path / "big")

    assert (small["rows"], big["rows"]) == (small_rows, big_rows)
    assert big_rows > 9 * small_rows
    # Loading the file whole would need several GB; streaming costs the same as for 100 MB.
    assert big["peak_mib"] < small["peak_mib"] + 150, (small, big)
    assert big["peak_mib"] < 768, big
