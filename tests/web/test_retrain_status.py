"""Retrain status files: each start removes those of runs finished long ago, never the new one."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from srs.config import load_settings
from srs.web.retrain import STATUS_DIR, STATUS_KEEP_SECONDS, RetrainJobs


def status_file(directory: Path, job_id: str, status: str, age: float) -> Path:
    path = directory / f"{job_id}.json"
    path.write_text(json.dumps({"status": status}))
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_a_retrain_start_removes_finished_statuses_older_than_the_limit(tmp_path: Path) -> None:
    settings = load_settings(environ={}, overrides={"data_dir": tmp_path})
    directory = tmp_path / STATUS_DIR
    directory.mkdir()
    old = STATUS_KEEP_SECONDS + 3600
    finished = status_file(directory, "a" * 16, "succeeded", old)
    crashed = status_file(directory, "b" * 16, "running", old)  # its child died unreported
    partial = directory / f"{'c' * 16}.tmp"
    partial.write_text("{")
    os.utime(partial, (time.time() - old, time.time() - old))
    recent = status_file(directory, "d" * 16, "failed", STATUS_KEEP_SECONDS / 2)
    foreign = directory / "notes.txt"
    foreign.write_text("kept")
    os.utime(foreign, (time.time() - old, time.time() - old))
    jobs = RetrainJobs(settings, tune=False)

    job_id = jobs.start()

    assert not finished.exists() and not crashed.exists() and not partial.exists()
    assert jobs.status("a" * 16) is None
    assert recent.exists() and foreign.exists()
    assert jobs.status("d" * 16) == {"status": "failed"}
    deadline = time.monotonic() + 120
    while (status := jobs.status(job_id)) == {"status": "running"}:
        assert time.monotonic() < deadline, "the retrain child never reported"
        time.sleep(0.1)
    # Nothing is prepared here, so the child fails; its status is the newest and is kept.
    assert status is not None and status["status"] == "failed"
    assert "interactions.csv does not exist" in status["error"]
    assert status["error"].endswith("run 'srs prepare' first")
