"""``srs train`` removes the scratch folders of killed runs, and only those."""

from __future__ import annotations

import os
import time
from pathlib import Path

from srs.training import STALE_SCRATCH_SECONDS, remove_stale_scratch


def test_stale_scratch_folders_go_and_live_ones_stay(tmp_path: Path) -> None:
    stale = tmp_path / ".train-killed"
    stale.mkdir()
    (stale / "factors.npy").write_bytes(b"x" * 1024)
    old = time.time() - STALE_SCRATCH_SECONDS - 60
    os.utime(stale, (old, old))
    live = tmp_path / ".train-running"
    live.mkdir()
    unrelated = tmp_path / "models"
    unrelated.mkdir()
    os.utime(unrelated, (old, old))

    assert remove_stale_scratch(tmp_path) == [stale]
    assert not stale.exists()
    assert live.is_dir()
    assert unrelated.is_dir()


def test_a_missing_data_directory_is_nothing_to_clean(tmp_path: Path) -> None:
    assert remove_stale_scratch(tmp_path / "absent") == []
