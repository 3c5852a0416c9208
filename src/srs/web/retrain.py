"""Retraining from the web, in a process of its own.

Training takes minutes and holds the GIL; run in a request thread it stalls the worker's
other requests. ``POST /admin/retrain`` therefore starts ``python -m srs.web.retrain`` and
answers at once; the child trains, activates, and writes its outcome to a status file in
the data directory, where any worker (not only the one that started it) reads it for
``GET /admin/retrain/<id>``. Serving workers adopt the new model by their usual check.

At most one retrain runs per data directory: the request takes an exclusive ``flock`` on
a lock file and hands that open file to the child, so the lock lasts exactly as long as the
child does, and a crashed child never leaves a stale lock behind.

Status files would otherwise pile up, one per retrain, for ever. Each start removes those
untouched for ``STATUS_KEEP_SECONDS``: with the lock held no other retrain is running, so every
status file present belongs to a finished (or crashed) run, and a client polling one has had
hours to read it.
"""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import re
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srs.config import Settings

STATUS_DIR = "retrain"
LOCK_FILE = "retrain.lock"
_JOB_ID = re.compile(r"[0-9a-f]{16}")
STATUS_KEEP_SECONDS = 24 * 3600


class RetrainRunning(Exception):
    """Another retrain holds this data directory's lock."""


@dataclass(frozen=True)
class RetrainJobs:
    """Starts retrains of ``settings.data_dir`` and reports on them; ``tune`` is passed to
    training (tests skip tuning to stay fast)."""

    settings: Settings
    tune: bool = True

    @property
    def _directory(self) -> Path:
        return self.settings.data_dir / STATUS_DIR

    def _status_path(self, job_id: str) -> Path:
        return self._directory / f"{job_id}.json"

    def start(self) -> str:
        """Start a retrain and return its ID at once; RetrainRunning if one is running."""
        self._directory.mkdir(parents=True, exist_ok=True)
        lock = os.open(self._directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RetrainRunning("a retrain is already running") from None
            remove_old_statuses(self._directory, time.time() - STATUS_KEEP_SECONDS)
            job_id = secrets.token_hex(8)
            _write_status(self._status_path(job_id), {"status": "running"})
            child = subprocess.Popen(
                [sys.executable, "-m", "srs.web.retrain", str(self._status_path(job_id))],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                pass_fds=(lock,),
                close_fds=True,
            )
            assert child.stdin is not None
            child.stdin.write(pickle.dumps((self.settings, self.tune)))
            child.stdin.close()
            threading.Thread(target=child.wait, daemon=True, name="retrain-reaper").start()
            return job_id
        finally:
            os.close(lock)

    def status(self, job_id: str) -> dict[str, Any] | None:
        """The job's status document, or None for an ID no retrain was started under."""
        if not _JOB_ID.fullmatch(job_id):
            return None
        path = self._status_path(job_id)
        try:
            status: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        if status.get("status") == "running" and not self._locked():
            status = json.loads(path.read_text())
            if status.get("status") == "running":
                return {"status": "failed", "error": "the training process ended without a report"}
        return status

    def _locked(self) -> bool:
        lock = os.open(self._directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(lock)
        return False


def remove_old_statuses(directory: Path, older_than: float) -> list[Path]:
    """Remove status files (and partial ones) last written before ``older_than`` (epoch
    seconds); call only with the retrain lock held. Returns what was removed."""
    removed = []
    for path in directory.iterdir():
        if path.suffix not in {".json", ".tmp"} or not _JOB_ID.fullmatch(path.stem):
            continue
        try:
            if path.stat().st_mtime < older_than:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue
    return removed


def _write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace the status file whole, so a reader never sees half of it."""
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps(status))
    os.replace(staged, path)


def _run(status_path: Path) -> None:
    settings, tune = pickle.loads(sys.stdin.buffer.read())
    try:
        from srs.training import train_and_activate

        trained = train_and_activate(settings, tune=tune)
    except Exception as exc:
        _write_status(status_path, {"status": "failed", "error": str(exc) or type(exc).__name__})
        return
    _write_status(
        status_path,
        {
            "status": "succeeded",
            "version": trained.version,
            "activated": bool(trained.training.get("activated", True)),
        },
    )


if __name__ == "__main__":
    _run(Path(sys.argv[1]))
