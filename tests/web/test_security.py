"""Security helpers: admin bearer tokens and the session key shared by workers."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from srs.web.security import SECRET_KEY_FILE, bearer_token_valid, shared_secret_key


@pytest.mark.parametrize(
    ("header", "expected", "valid"),
    [
        ("Bearer s3cret", "s3cret", True),
        ("bearer s3cret", "s3cret", True),
        ("Bearer wrong", "s3cret", False),
        ("Basic s3cret", "s3cret", False),
        ("s3cret", "s3cret", False),
        (None, "s3cret", False),
        ("Bearer ", "", False),
        ("Bearer anything", "", False),
    ],
)
def test_bearer_token(header: str | None, expected: str, valid: bool) -> None:
    assert bearer_token_valid(header, expected) is valid


def test_shared_secret_key_is_created_once_private_and_reused(tmp_path: Path) -> None:
    first = shared_secret_key(tmp_path)
    second = shared_secret_key(tmp_path)
    assert first == second and len(first) == 64
    mode = (tmp_path / SECRET_KEY_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_KEY_FILE]


def test_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: shared_secret_key(tmp_path / "d"), range(16)))
    assert len(keys) == 1
