"""Named filters: saved once parsed, found by a filter ARN's name, seen by another reader at
once, and ``srs filters`` errors as one line with exit status 2."""

from __future__ import annotations

import multiprocessing
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from srs.cli import main
from srs.named_filters import (
    NamedFilterError,
    NamedFilters,
    UnknownFilterError,
    filter_arn,
    name_from_arn,
)

STORAGE = 'EXCLUDE ItemID WHERE Items.CATEGORY IN ("Storage")'


def test_a_saved_filter_is_seen_by_another_reader_at_once(tmp_path: Path) -> None:
    writer, reader = NamedFilters.in_directory(tmp_path), NamedFilters.in_directory(tmp_path)
    assert reader.list() == []

    writer.create("no-storage", STORAGE)

    assert reader.expression("no-storage") == STORAGE
    writer.delete("no-storage")
    with pytest.raises(UnknownFilterError):
        reader.expression("no-storage")


@pytest.mark.parametrize(
    ("name", "expression", "message"),
    [
        ("bad name", STORAGE, "filter name 'bad name'"),
        ("-dash", STORAGE, "starting with a letter or a digit"),
        ("ok", 'EXCLUDE ItemID WHERE Items.CATEGORY IN "Storage"', 'expected "("'),
        ("ok", "   ", "empty"),
    ],
)
def test_bad_names_and_expressions_are_refused(
    tmp_path: Path, name: str, expression: str, message: str
) -> None:
    with pytest.raises(NamedFilterError, match=re.escape(message)):
        NamedFilters.in_directory(tmp_path).create(name, expression)
    assert not (tmp_path / "filters.json").exists()


def test_a_taken_name_is_refused(tmp_path: Path) -> None:
    filters = NamedFilters.in_directory(tmp_path)
    filters.create("a", STORAGE)
    with pytest.raises(NamedFilterError, match="exists"):
        filters.create("a", STORAGE)


@pytest.mark.parametrize(
    ("arn", "name"),
    [
        (filter_arn("no-storage"), "no-storage"),
        ("arn:aws:personalize:eu-west-1:123456789012:filter/mine_2", "mine_2"),
        ("arn:aws:personalize:us-east-1:000000000000:campaign/x", None),
        ("arn:aws:s3:::filter/x", None),
        ("filter/x", None),
    ],
)
def test_name_from_arn(arn: str, name: str | None) -> None:
    assert name_from_arn(arn) == name


def test_cli_create_list_delete(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path), "filters"]

    created = runner.invoke(main, [*base, "create", "no-storage", STORAGE])
    listed = runner.invoke(main, [*base, "list"])
    refused = runner.invoke(main, [*base, "create", "x", "INCLUDE nothing"])
    deleted = runner.invoke(main, [*base, "delete", "no-storage"])
    missing = runner.invoke(main, [*base, "delete", "no-storage"])

    assert created.exit_code == 0 and filter_arn("no-storage") in created.output
    assert f"no-storage\t{filter_arn('no-storage')}\t{STORAGE}" in listed.output
    assert refused.exit_code == 2 and refused.output.startswith("error: filter expression")
    assert deleted.exit_code == 0
    assert missing.exit_code == 2 and "no filter named 'no-storage'" in missing.output


def _create_many(directory: str, prefix: str, count: int) -> None:
    filters = NamedFilters.in_directory(Path(directory))
    for index in range(count):
        filters.create(f"{prefix}-{index}", STORAGE)


def test_filters_created_by_processes_at_once_are_all_kept(tmp_path: Path) -> None:
    """Each create reads the file, adds one name and replaces the file: without one writer at
    a time, two processes read the same file and the second replacement drops the first's."""
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_create_many, args=(str(tmp_path), f"p{index}", 15))
        for index in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    names = {kept.name for kept in NamedFilters.in_directory(tmp_path).list()}
    assert names == {f"p{worker}-{index}" for worker in range(4) for index in range(15)}
