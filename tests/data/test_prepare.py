"""The data pipeline: every rule of the source, and outputs that are never half-written."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from srs.catalog import load_catalog
from srs.config import DATASET_PREFIX
from srs.data.prepare import (
    INTERACTIONS_FILE,
    ITEMS_FILE,
    MAPPING_FILE,
    OUTPUT_FILES,
    SYNTHETIC_TIMESTAMP_START,
    prepare_dataset,
)
from srs.data.publish import dataset_lock, versions_dir
from srs.data.schemas import INTERACTIONS_SCHEMA, ITEMS_SCHEMA
from srs.data.store import LocalStore
from srs.data.vocabulary import EventVocabulary
from srs.errors import SourceError

HEADER = "User ID,AWS Service,Interaction Type,Rating,Timestamp\n"
GOOD_ROWS = [
    "u1,Amazon S3,viewed,4,1700000000",
    "u1,AWS Lambda,launched,5,1700000100",
    "u2,Amazon S3,viewed,3,1700000200",
    "u2,Amazon EC2,clicked,2,1700000300",
    "u3,Amazon EC2,rated,5,1700000400",
]


def write_source(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def snapshot(directory: Path) -> dict[str, str]:
    """Digest of every file, hidden temp files included, so leftovers show up too."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """A dataset directory already holding a good previous preparation."""
    good = write_source(tmp_path / "good.csv", HEADER + "\n".join(GOOD_ROWS) + "\n")
    out = tmp_path / "dataset"
    prepare_dataset(good, out)
    return out


BAD_INPUTS = [
    ("empty", b"", "is empty"),
    ("header_only", HEADER, "has a header but no data rows"),
    (
        "missing_column",
        "User ID,AWS Service,Interaction Type\nu1,Amazon S3,viewed\n",
        "line 1: missing required column 'Rating'",
    ),
    (
        "misspelled_column",
        "User ID,AWS Service,Interaction Type,Ratng\nu1,Amazon S3,viewed,4\n",
        "did you mean 'Ratng'?",
    ),
    (
        "wrong_case_column",
        "user id,AWS Service,Interaction Type,Rating\nu1,Amazon S3,viewed,4\n",
        "missing required column 'User ID' (header has: user id, AWS Service, "
        "Interaction Type, Rating); did you mean 'user id'?",
    ),
    (
        "rating_not_number",
        HEADER + GOOD_ROWS[0] + "\nu1,AWS Lambda,launched,five,1700000100\n",
        "line 3: field 'Rating': not a number (value 'five')",
    ),
    (
        "rating_out_of_range",
        HEADER + GOOD_ROWS[0] + "\n" + GOOD_ROWS[1] + "\nu2,Amazon S3,rated,7,1700000200\n",
        "line 4: field 'Rating': out of range 1–5 (value '7')",
    ),
    (
        "rating_blank",
        HEADER + "u1,Amazon S3,viewed,,1700000000\n",
        "line 2: field 'Rating': blank",
    ),
    (
        "blank_user",
        HEADER + GOOD_ROWS[0] + "\n  ,Amazon S3,viewed,4,1700000000\n",
        "line 3: field 'User ID': blank (value '  ')",
    ),
    (
        "blank_service",
        HEADER + GOOD_ROWS[0] + "\nu2,,viewed,4,1700000000\n",
        "line 3: field 'AWS Service': blank (value '')",
    ),
    (
        "wrong_delimiter",
        HEADER.replace(",", ";") + "u1;Amazon S3;viewed;4;1700000000\n",
        "line 1: columns are separated by semicolon (';'); SRS expects comma-separated values",
    ),
    (
        "tab_delimiter",
        HEADER.replace(",", "\t") + "u1\tAmazon S3\tviewed\t4\t1700000000\n",
        "separated by tab",
    ),
    (
        "non_utf8_row",
        (HEADER + GOOD_ROWS[0] + "\n").encode()
        + "u2,Amazon Kinésis,viewed,4,1700000000\n".encode("latin-1"),
        "line 3: not valid UTF-8 (byte 0xe9 at column 14); save the file as UTF-8",
    ),
    (
        "non_utf8_header",
        "User ID,AWS Service,Interaction Type,Rating,Zeitstempel ä\n".encode("latin-1"),
        "line 1: not valid UTF-8",
    ),
    (
        "ragged_row",
        HEADER + GOOD_ROWS[0] + "\nu2,Amazon S3, bucket,viewed,4,1700000000\n",
        "line 3: expected 5 fields, found 6",
    ),
    (
        "one_user_one_service",
        HEADER + "u1,Amazon S3,viewed,4,1700000000\nu1,Amazon S3,launched,5,1700000100\n",
        "found 1 unique service ('Amazon S3'); at least 2 are required",
    ),
    (
        "one_user_two_services",
        HEADER + "u1,Amazon S3,viewed,4,1700000000\nu1,AWS Lambda,launched,5,1700000100\n",
        "prepared data has 1 user(s); at least 2 are required",
    ),
    (
        "bad_timestamp",
        HEADER + GOOD_ROWS[0] + "\nu2,Amazon S3,viewed,4,yesterday\n",
        "line 3: field 'Timestamp': neither Unix seconds nor ISO 8601 (value 'yesterday')",
    ),
    (
        "millisecond_timestamp",
        HEADER + "u2,Amazon S3,viewed,4,1700000000000\n",
        "line 2: field 'Timestamp': out of range for Unix seconds (milliseconds?)",
    ),
    (
        "overlong_user",
        HEADER + "u" * 300 + ",Amazon S3,viewed,4,1700000000\n",
        "line 2: field 'User ID': longer than 256 characters",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_names_the_problem_and_keeps_previous_outputs(
    tmp_path: Path, out_dir: Path, text: str | bytes, expected: str
) -> None:
    source = write_source(tmp_path / "bad.csv", text)
    before = snapshot(out_dir)
    with pytest.raises(SourceError) as raised:
        prepare_dataset(source, out_dir)
    message = str(raised.value)
    assert message.startswith(f"{source}: ")
    assert expected in message
    assert "\n" not in message
    assert snapshot(out_dir) == before


def test_missing_file_is_reported_and_nothing_is_created(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.csv: source file does not exist"):
        prepare_dataset(tmp_path / "nope.csv", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_row_in_a_later_block_is_reported_with_its_file_line(
    tmp_path: Path, out_dir: Path
) -> None:
    rows = [f"u{i % 50},Amazon S3,viewed,3,{1700000000 + i}" for i in range(5000)]
    rows[4321] = "u9,AWS Lambda,viewed,4.5x,1700000000"
    source = write_source(tmp_path / "big.csv", HEADER + "\n".join(rows) + "\n")
    before = snapshot(out_dir)
    with pytest.raises(
        SourceError, match=r"line 4323: field 'Rating': not a number \(value '4.5x'\)"
    ):
        prepare_dataset(source, out_dir, block_bytes=4096)
    assert snapshot(out_dir) == before


def read_interactions(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / INTERACTIONS_FILE, dtype={"USER_ID": str, "ITEM_ID": str})


def test_good_source_produces_personalize_interactions(tmp_path: Path) -> None:
    source = write_source(tmp_path / "s.csv", HEADER + "\n".join(GOOD_ROWS) + "\n")
    result = prepare_dataset(source, tmp_path / "ds")
    frame = read_interactions(tmp_path / "ds")
    assert list(frame.columns) == [f["name"] for f in INTERACTIONS_SCHEMA["fields"]]
    assert (result.rows, result.users, result.items) == (5, 3, 3)
    assert frame["EVENT_VALUE"].tolist() == [4.0, 5.0, 3.0, 2.0, 5.0]
    assert frame["TIMESTAMP"].tolist() == [1700000000 + 100 * i for i in range(5)]
    mapping = pd.read_csv(tmp_path / "ds" / MAPPING_FILE, dtype=str).set_index("SERVICE_NAME")
    assert frame["ITEM_ID"].tolist() == [
        mapping.loc[name, "ITEM_ID"]
        for name in ["Amazon S3", "AWS Lambda", "Amazon S3", "Amazon EC2", "Amazon EC2"]
    ]
    assert set(result.outputs) == set(OUTPUT_FILES)
    assert any("at least 1000" in warning for warning in result.warnings)
    assert any("at least 25" in warning for warning in result.warnings)


def test_bom_crlf_and_quoted_comma_are_read_as_a_person_means_them(tmp_path: Path) -> None:
    text = (
        "\ufeffUser ID,AWS Service,Interaction Type,Rating\r\n"
        'u1,"AWS Lambda, edge functions",launched,5\r\n'
        "u2,Amazon S3,viewed,4\r\n"
    )
    source = write_source(tmp_path / "s.csv", text)
    prepare_dataset(source, tmp_path / "ds")
    mapping = pd.read_csv(tmp_path / "ds" / MAPPING_FILE, dtype=str)
    assert sorted(mapping["SERVICE_NAME"]) == ["AWS Lambda, edge functions", "Amazon S3"]
    frame = read_interactions(tmp_path / "ds")
    assert frame["USER_ID"].tolist() == ["u1", "u2"]
    assert "\r" not in (tmp_path / "ds" / INTERACTIONS_FILE).read_text()


def test_iso_timestamps_are_converted_to_unix_seconds(tmp_path: Path) -> None:
    text = (
        HEADER + "u1,Amazon S3,viewed,4,2024-03-01T12:00:00Z\nu2,AWS Lambda,viewed,4,2024-03-01\n"
    )
    prepare_dataset(write_source(tmp_path / "s.csv", text), tmp_path / "ds")
    assert read_interactions(tmp_path / "ds")["TIMESTAMP"].tolist() == [1709294400, 1709251200]


def test_missing_timestamps_increase_within_each_user_in_source_order(tmp_path: Path) -> None:
    text = "User ID,AWS Service,Interaction Type,Rating\n" + "".join(
        f"u{i % 3},{'Amazon S3' if i % 2 else 'AWS Lambda'},viewed,3\n" for i in range(30)
    )
    source = write_source(tmp_path / "s.csv", text)
    prepare_dataset(source, tmp_path / "a", block_bytes=64)
    prepare_dataset(source, tmp_path / "b")
    first, second = read_interactions(tmp_path / "a"), read_interactions(tmp_path / "b")
    pd.testing.assert_frame_equal(first, second)
    for _, times in first.groupby("USER_ID")["TIMESTAMP"]:
        assert times.is_monotonic_increasing and times.is_unique
        assert times.iloc[0] == SYNTHETIC_TIMESTAMP_START
    assert first["TIMESTAMP"].nunique() > 1


def test_rerun_keeps_existing_ids_and_adds_new_ones(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    prepare_dataset(write_source(tmp_path / "a.csv", HEADER + "\n".join(GOOD_ROWS) + "\n"), out)
    before = pd.read_csv(out / MAPPING_FILE, dtype=str)
    more = HEADER + "u9,Amazon Athena,viewed,4,1700000500\nu8,AWS Lambda,viewed,4,1700000600\n"
    result = prepare_dataset(write_source(tmp_path / "b.csv", more), out)
    after = pd.read_csv(out / MAPPING_FILE, dtype=str)
    assert result.new_items == 1
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)
    assert after["SERVICE_NAME"].iloc[-1] == "Amazon Athena"
    assert after["ITEM_ID"].is_unique and after["SERVICE_NAME"].is_unique
    lambda_id = before.set_index("SERVICE_NAME").loc["AWS Lambda", "ITEM_ID"]
    assert read_interactions(out)["ITEM_ID"].iloc[1] == lambda_id


def test_damaged_mapping_is_refused_not_replaced(tmp_path: Path, out_dir: Path) -> None:
    (out_dir / MAPPING_FILE).write_text("ITEM_ID,SERVICE_NAME\nsvc-0001,A\nsvc-0001,B\n")
    before = snapshot(out_dir)
    source = write_source(tmp_path / "s.csv", HEADER + "\n".join(GOOD_ROWS) + "\n")
    with pytest.raises(SourceError, match="line 3: field ITEM_ID: duplicate value 'svc-0001'"):
        prepare_dataset(source, out_dir)
    assert snapshot(out_dir) == before


def test_items_carry_catalogue_category_and_schemas_match_files(tmp_path: Path) -> None:
    catalog = pd.DataFrame(
        {
            "name": ["Amazon S3", "AWS Lambda"],
            "category": ["Storage", "Compute"],
            "description": ["Object storage, built to retrieve any amount of data", "Run code"],
        }
    )
    source = write_source(tmp_path / "s.csv", HEADER + "\n".join(GOOD_ROWS) + "\n")
    prepare_dataset(source, tmp_path / "ds", catalog=catalog)
    items = pd.read_csv(tmp_path / "ds" / ITEMS_FILE, dtype=str, keep_default_na=False)
    assert list(items.columns) == [f["name"] for f in ITEMS_SCHEMA["fields"]]
    by_name = items.set_index("SERVICE_NAME")
    assert by_name.loc["Amazon S3", "CATEGORY"] == "Storage"
    assert by_name.loc["Amazon S3", "DESCRIPTION"].startswith("Object storage, built")
    assert by_name.loc["Amazon EC2", "CATEGORY"] == "Other"
    for name, schema in [("interactions", INTERACTIONS_SCHEMA), ("items", ITEMS_SCHEMA)]:
        written = json.loads((tmp_path / "ds" / f"{name}_schema.json").read_text())
        assert written == schema


def test_progress_reports_every_source_byte(tmp_path: Path) -> None:
    rows = [f"u{i % 40},Amazon S3,viewed,3,{1700000000 + i}" for i in range(3000)]
    rows += ["u1,AWS Lambda,viewed,3,1700000000"]
    source = write_source(tmp_path / "s.csv", HEADER + "\n".join(rows) + "\n")
    seen: list[int] = []
    prepare_dataset(source, tmp_path / "ds", block_bytes=8192, progress=seen.append)
    assert len(seen) > 3
    assert sum(seen) == source.stat().st_size


TEAM_SOURCE = (
    HEADER + "u1,EC2,view,3,1700000000\n"
    "u1,amazon s3,Launch ,5,1700000100\n"
    "u2,Amazon Simple Storage Service,rate,4,1700000200\n"
    "u2,Amazon EC2,deploy,5,1700000300\n"
    "u3,Amazon S4,view,2,1700000400\n"
    "u3,EC2,launch,4,1700000500\n"
    "u1,Amazon EC2,Deploy,1,1700000600\n"
)


@pytest.fixture(scope="module")
def shipped_catalog() -> pd.DataFrame:
    return load_catalog()


def prepared_rows(out: Path) -> list[tuple[str, str, str]]:
    """(user, service name, event type) of every written interaction, in file order."""
    frame = read_interactions(out)
    names = pd.read_csv(out / MAPPING_FILE, dtype=str).set_index("ITEM_ID")["SERVICE_NAME"]
    return [
        (user, names[item], event)
        for user, item, event in zip(
            frame["USER_ID"], frame["ITEM_ID"], frame["EVENT_TYPE"], strict=True
        )
    ]


def read_items(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / ITEMS_FILE, dtype=str, keep_default_na=False).set_index("SERVICE_NAME")


def test_a_team_source_is_written_in_the_catalogue_and_vocabulary_terms(
    tmp_path: Path, shipped_catalog: pd.DataFrame
) -> None:
    source = write_source(tmp_path / "team.csv", TEAM_SOURCE)
    result = prepare_dataset(source, tmp_path / "ds", catalog=shipped_catalog)
    assert prepared_rows(tmp_path / "ds") == [
        ("u1", "Amazon EC2", "viewed"),
        ("u1", "Amazon S3", "launched"),
        ("u2", "Amazon S3", "rated"),
        ("u2", "Amazon EC2", "deploy"),
        ("u3", "Amazon S4", "viewed"),
        ("u3", "Amazon EC2", "launched"),
        ("u1", "Amazon EC2", "deploy"),
    ]
    items = read_items(tmp_path / "ds")
    assert sorted(items.index) == ["Amazon EC2", "Amazon S3", "Amazon S4"]
    assert items.loc["Amazon EC2", "CATEGORY"] == "Compute"
    assert items.loc["Amazon S3", "CATEGORY"] == "Storage"
    assert (items.loc["Amazon S4", "CATEGORY"], items.loc["Amazon S4", "DESCRIPTION"]) == (
        "Other",
        "",
    )
    assert result.items == 3

    assert [(e.written, e.canonical, e.rows, e.first_line) for e in result.event_types] == [
        ("view", "viewed", 2, None),
        ("Deploy", None, 1, 8),
        ("Launch", "launched", 1, None),
        ("deploy", None, 1, 5),
        ("launch", "launched", 1, None),
        ("rate", "rated", 1, None),
    ]
    assert [(s.written, s.name, s.rows) for s in result.aliased_services] == [
        ("EC2", "Amazon EC2", 2),
        ("Amazon Simple Storage Service", "Amazon S3", 1),
        ("amazon s3", "Amazon S3", 1),
    ]
    [unknown] = result.unknown_services
    assert (unknown.name, unknown.rows) == ("Amazon S4", 1)
    assert unknown.suggestions[0] == "Amazon S3" and len(unknown.suggestions) == 3
    assert any(
        w.startswith("event type 'deploy' (1 row, first on line 5) is not one SRS knows: kept")
        for w in result.warnings
    )
    assert any(
        w.startswith("service 'Amazon S4' (1 row) is neither in the catalogue nor in --items")
        and "did you mean 'Amazon S3'" in w
        for w in result.warnings
    )


def test_the_event_types_setting_gives_a_team_type_its_meaning(
    tmp_path: Path, shipped_catalog: pd.DataFrame
) -> None:
    source = write_source(tmp_path / "team.csv", TEAM_SOURCE)
    result = prepare_dataset(
        source,
        tmp_path / "ds",
        catalog=shipped_catalog,
        vocabulary=EventVocabulary({"deploy": "launched"}),
    )
    events = [event for _, _, event in prepared_rows(tmp_path / "ds")]
    assert events == ["viewed", "launched", "rated", "launched", "viewed", "launched", "launched"]
    assert all(seen.canonical is not None for seen in result.event_types)
    assert not any("event type" in warning for warning in result.warnings)


def test_strict_refuses_unknown_event_types_and_keeps_previous_outputs(
    tmp_path: Path, out_dir: Path, shipped_catalog: pd.DataFrame
) -> None:
    source = write_source(tmp_path / "team.csv", TEAM_SOURCE + "u3,EC2,ship it,4,1700000700\n")
    before = snapshot(out_dir)
    with pytest.raises(SourceError) as raised:
        prepare_dataset(source, out_dir, catalog=shipped_catalog, strict=True)
    assert str(raised.value) == (
        f"{source}: event types SRS does not know (strict): 'Deploy' (1 row, first on line 8), "
        "'deploy' (1 row, first on line 5), 'ship it' (1 row, first on line 9); say what each "
        "means in the event_types setting (e.g. SRS_EVENT_TYPES=deploy=launched)"
    )
    assert snapshot(out_dir) == before
    vocabulary = EventVocabulary({"deploy": "launched", "ship-it": "launched"})
    strict = prepare_dataset(
        source, out_dir, catalog=shipped_catalog, vocabulary=vocabulary, strict=True
    )
    assert strict.rows == 8


def test_unknown_types_found_in_a_later_block_report_their_file_line(tmp_path: Path) -> None:
    rows = [
        f"u{i % 50},{'Amazon S3' if i % 2 else 'EC2'},View,3,{1700000000 + i}" for i in range(4000)
    ]
    rows[3210] = "u9,AWS Lambda,Purchased,4,1700000000"
    rows[3999] = "u9,AWS Lambda,purchased,4,1700000000"
    source = write_source(tmp_path / "big.csv", HEADER + "\n".join(rows) + "\n")
    result = prepare_dataset(source, tmp_path / "ds", catalog=load_catalog(), block_bytes=4096)
    seen = {e.written: (e.canonical, e.rows, e.first_line) for e in result.event_types}
    assert seen == {
        "View": ("viewed", 3998, None),
        "Purchased": (None, 1, 3212),
        "purchased": (None, 1, 4001),
    }
    assert set(read_interactions(tmp_path / "ds")["EVENT_TYPE"]) == {"viewed", "purchased"}
    assert [(s.written, s.rows) for s in result.aliased_services] == [("EC2", 1999)]


def test_an_alias_keeps_the_item_id_its_catalogue_name_was_given(
    tmp_path: Path, shipped_catalog: pd.DataFrame
) -> None:
    out = tmp_path / "ds"
    first = HEADER + "u1,Amazon EC2,viewed,3,1700000000\nu2,Amazon S3,viewed,3,1700000000\n"
    prepare_dataset(write_source(tmp_path / "a.csv", first), out, catalog=shipped_catalog)
    before = pd.read_csv(out / MAPPING_FILE, dtype=str)
    second = HEADER + "u1,ec2,click,3,1700000000\nu2,S3,Views,3,1700000000\n"
    result = prepare_dataset(write_source(tmp_path / "b.csv", second), out, catalog=shipped_catalog)
    assert result.new_items == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / MAPPING_FILE, dtype=str), before)
    assert prepared_rows(out) == [("u1", "Amazon EC2", "clicked"), ("u2", "Amazon S3", "viewed")]


def test_services_left_from_earlier_runs_without_metadata_are_warned_about(
    tmp_path: Path, shipped_catalog: pd.DataFrame
) -> None:
    out = tmp_path / "ds"
    source = write_source(tmp_path / "team.csv", TEAM_SOURCE)
    prepare_dataset(source, out)
    assert "EC2" in set(pd.read_csv(out / MAPPING_FILE, dtype=str)["SERVICE_NAME"])
    result = prepare_dataset(source, out, catalog=shipped_catalog)
    assert any(
        warning.startswith(f"3 services kept in {MAPPING_FILE} from earlier runs have no")
        and "'EC2'" in warning
        for warning in result.warnings
    )
    assert read_items(out).loc["EC2", "CATEGORY"] == "Other"


ITEMS_FILE_TEXT = (
    "name,category,description\n"
    'Amazon S4,Storage,"Our own store, four times better."\n'
    "S3,Object Storage,Where our buckets live.\n"
    "Acme Queue,Messaging,\n"
)


def test_items_file_describes_services_and_overrides_the_catalogue(
    tmp_path: Path, shipped_catalog: pd.DataFrame
) -> None:
    source = write_source(tmp_path / "team.csv", TEAM_SOURCE.replace("Amazon S4", "amazon s4"))
    items_path = write_source(tmp_path / "items.csv", ITEMS_FILE_TEXT)
    result = prepare_dataset(source, tmp_path / "ds", catalog=shipped_catalog, items=items_path)
    items = read_items(tmp_path / "ds")
    assert sorted(items.index) == ["Acme Queue", "Amazon EC2", "Amazon S3", "Amazon S4"]
    assert items.loc["Amazon S4", "CATEGORY"] == "Storage"
    assert items.loc["Amazon S4", "DESCRIPTION"] == "Our own store, four times better."
    assert items.loc["Amazon S3", "CATEGORY"] == "Object Storage"
    assert items.loc["Amazon EC2", "CATEGORY"] == "Compute"
    assert (items.loc["Acme Queue", "CATEGORY"], items.loc["Acme Queue", "DESCRIPTION"]) == (
        "Messaging",
        "",
    )
    assert result.unknown_services == []
    assert not any("neither in the catalogue" in warning for warning in result.warnings)
    assert ("amazon s4", "Amazon S4", 1) in [
        (s.written, s.name, s.rows) for s in result.aliased_services
    ]
    assert [name for _, name, _ in prepared_rows(tmp_path / "ds")][4] == "Amazon S4"


def test_personalize_items_csv_is_read_with_any_header_case(
    tmp_path: Path, shipped_catalog: pd.DataFrame
) -> None:
    source = write_source(tmp_path / "team.csv", TEAM_SOURCE)
    items_path = write_source(
        tmp_path / "items.csv",
        "\ufeffItem_Id,Service_Name,Category,Description\r\n"
        "svc-9,Amazon S4,Storage,Fourth generation.\r\n",
    )
    prepare_dataset(source, tmp_path / "ds", catalog=shipped_catalog, items=items_path)
    items = read_items(tmp_path / "ds")
    assert items.loc["Amazon S4", "CATEGORY"] == "Storage"
    assert items.loc["Amazon S4", "ITEM_ID"].startswith("svc-0")


BAD_ITEMS = [
    ("missing", None, "items file does not exist"),
    ("empty", "", "items file is empty"),
    ("header_only", "name,category\n", "items file has a header but no rows"),
    (
        "no_category",
        "name,description\nA,B\n",
        "line 1: missing column 'category' (expected name, category and optionally",
    ),
    (
        "personalize_no_category",
        "ITEM_ID,SERVICE_NAME\n1,A\n",
        "line 1: missing column 'category'",
    ),
    (
        "blank_category",
        "name,category\nA,Compute\nB, \n",
        "line 3: field 'category': blank (value ' ')",
    ),
    (
        "blank_personalize_name",
        "ITEM_ID,SERVICE_NAME,CATEGORY\n1,,Compute\n",
        "line 2: field 'SERVICE_NAME': blank (value '')",
    ),
    ("ragged", "name,category\nA,Compute,extra\n", "line 2: expected 2 fields, found 3"),
    (
        "duplicate",
        "name,category\nAcme,Compute\nacme ,Storage\n",
        "line 3: field 'name': names the service of line 2 again (value 'acme')",
    ),
    (
        "one_catalogue_service_twice",
        "name,category\nS3,Storage\nAmazon Simple Storage Service,Storage\n",
        "line 3: field 'name': names 'Amazon S3' again, already described on line 2 "
        "(value 'Amazon Simple Storage Service')",
    ),
    ("not_utf8", "name,category\nKinésis,Analytics\n".encode("latin-1"), "line 2: not valid UTF-8"),
    (
        "nul_in_name",
        "name,category\nAcme,Compute\n\nAc\x00me Queue,Integration\n",
        "line 4: field 'name': contains control character U+0000 (value 'Ac\\x00me Queue')",
    ),
    (
        "escape_in_category",
        "ITEM_ID,SERVICE_NAME,CATEGORY\n1,Acme,Comp\x1bute\n",
        "line 2: field 'CATEGORY': contains control character U+001B (value 'Comp\\x1bute')",
    ),
    (
        "line_break_in_description",
        'name,category,description\nAcme,Compute,"two\nlines"\n',
        "line 2: field 'description': contains control character U+000A (value 'two\\nlines')",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [case[1:] for case in BAD_ITEMS],
    ids=[case[0] for case in BAD_ITEMS],
)
def test_a_bad_items_file_names_the_problem_and_keeps_previous_outputs(
    tmp_path: Path,
    out_dir: Path,
    shipped_catalog: pd.DataFrame,
    text: str | bytes | None,
    expected: str,
) -> None:
    source = write_source(tmp_path / "team.csv", TEAM_SOURCE)
    items_path = tmp_path / "items.csv"
    if text is not None:
        write_source(items_path, text)
    before = snapshot(out_dir)
    with pytest.raises(SourceError) as raised:
        prepare_dataset(source, out_dir, catalog=shipped_catalog, items=items_path)
    message = str(raised.value)
    assert message.startswith(f"{items_path}: ")
    assert expected in message
    assert "\n" not in message
    assert snapshot(out_dir) == before


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "u2,Amazon\x00 S3,viewed,4,1700000000",
            "line 3: field 'AWS Service': contains control character U+0000 "
            "(value 'Amazon\\x00 S3')",
        ),
        (
            "u\x1b2,Amazon S3,viewed,4,1700000000",
            "line 3: field 'User ID': contains control character U+001B (value 'u\\x1b2')",
        ),
        (
            "u2,Amazon S3,vie\x07wed,4,1700000000",
            "line 3: field 'Interaction Type': contains control character U+0007",
        ),
        (
            'u2,"Amazon\nS3",viewed,4,1700000000',
            "line 3: field 'AWS Service': contains control character U+000A",
        ),
    ],
    ids=["nul", "escape", "bell", "newline_inside"],
)
def test_a_control_character_in_a_text_field_is_refused(
    tmp_path: Path, out_dir: Path, row: str, expected: str
) -> None:
    source = write_source(tmp_path / "bad.csv", HEADER + GOOD_ROWS[0] + "\n" + row + "\n")
    before = snapshot(out_dir)
    with pytest.raises(SourceError) as raised:
        prepare_dataset(source, out_dir)
    assert str(raised.value).startswith(f"{source}: {expected}")
    assert snapshot(out_dir) == before


def test_a_control_character_deep_in_a_streamed_file_names_its_line_and_tabs_pass(
    tmp_path: Path, out_dir: Path
) -> None:
    rows = [f"u{i % 50},{'Amazon S3' if i % 2 else 'AWS Lambda'},viewed,4" for i in range(3000)]
    rows[100] = "u7,Amazon\tS3,viewed,4"  # a tab is not refused
    rows[2500] = "u7,Amazon\x00S3,viewed,4"
    text = "User ID,AWS Service,Interaction Type,Rating\n" + "\n".join(rows) + "\n"
    source = write_source(tmp_path / "big.csv", text)
    before = snapshot(out_dir)
    with pytest.raises(SourceError, match=r"line 2502: field 'AWS Service': contains control"):
        prepare_dataset(source, out_dir, block_bytes=4096)
    assert snapshot(out_dir) == before


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "User ID,AWS Service,Interaction Type,Rating,Rating",
            "line 1: column 5 ('Rating') repeats the name of column 4 ('Rating')",
        ),
        (
            "User ID,AWS Service,Interaction Type,Rating, rating ",
            "line 1: column 5 ('rating') repeats the name of column 4 ('Rating')",
        ),
        (
            "USER ID,AWS Service,Interaction Type,Rating,User ID",
            "line 1: column 5 ('User ID') repeats the name of column 1 ('USER ID')",
        ),
    ],
    ids=["exact", "spaces_and_case", "first_differs_in_case"],
)
def test_a_repeated_column_name_names_both_positions(
    tmp_path: Path, out_dir: Path, header: str, expected: str
) -> None:
    source = write_source(tmp_path / "dup.csv", header + "\nu1,Amazon S3,viewed,4,2\n")
    before = snapshot(out_dir)
    with pytest.raises(SourceError) as raised:
        prepare_dataset(source, out_dir)
    assert str(raised.value).startswith(f"{source}: {expected}")
    assert snapshot(out_dir) == before


def test_header_names_with_surrounding_spaces_are_read_as_trimmed(tmp_path: Path) -> None:
    spaced = " User ID , AWS Service ,Interaction Type , Rating,  Timestamp  ,, \n"
    rows = "\n".join(f"{row},x, " for row in GOOD_ROWS) + "\n"
    plain = prepare_dataset(
        write_source(tmp_path / "plain.csv", HEADER + "\n".join(GOOD_ROWS) + "\n"),
        tmp_path / "plain",
    )
    spaces = prepare_dataset(write_source(tmp_path / "spaced.csv", spaced + rows), tmp_path / "sp")
    assert spaces.rows == plain.rows == len(GOOD_ROWS)
    assert snapshot(tmp_path / "sp") == snapshot(tmp_path / "plain")


BLANK_LINES_SOURCE = (
    "User ID,AWS Service,Interaction Type,Rating,Note\n"  # line 1
    "u1,Amazon S3,viewed,4,a\n"  # 2
    "\n"  # 3
    "\r\n"  # 4
    "u1,AWS Lambda,launched,5,b\n"  # 5
    'u2,Amazon S3,viewed,3,"two\n'  # 6
    'lines"\n'  # 7
    "\n"  # 8
    "u2,Amazon EC2,zapped,2,c\n"  # 9
    "{row}\n"  # 10
)


def test_errors_name_the_true_line_after_blank_lines_and_multi_line_values(
    tmp_path: Path, out_dir: Path
) -> None:
    source = write_source(
        tmp_path / "blank.csv", BLANK_LINES_SOURCE.format(row="u3,Amazon EC2,rated,9,d")
    )
    before = snapshot(out_dir)
    with pytest.raises(SourceError) as raised:
        prepare_dataset(source, out_dir, block_bytes=64)
    assert str(raised.value) == f"{source}: line 10: field 'Rating': out of range 1–5 (value '9')"
    assert snapshot(out_dir) == before


def test_unknown_event_types_name_their_true_line_after_blank_lines(tmp_path: Path) -> None:
    source = write_source(
        tmp_path / "blank.csv", BLANK_LINES_SOURCE.format(row="u3,Amazon EC2,viewed,1,d")
    )
    result = prepare_dataset(source, tmp_path / "out", block_bytes=64)
    zapped = next(seen for seen in result.event_types if seen.written == "zapped")
    assert zapped.canonical is None
    assert zapped.first_line == 9


@pytest.mark.parametrize(
    ("row", "field", "value", "rule"),
    [
        (
            "u2,Amazon S3,viewed,4,1700000000000",
            "Timestamp",
            "1700000000000",
            "out of range for Unix seconds (milliseconds?); it is later than",
        ),
        ("u2,Amazon S3,rated,99,1700000000", "Rating", "99", "out of range 1–5"),
        (
            "u2,Amazon S3,viewed,2e9,1700000000",
            "Rating",
            "2e9",
            "must be a finite number from -1e+09 to 1e+09",
        ),
        ("u2,Amazon S3,viewed,4,4000000000", "Timestamp", "4000000000", "later than"),
        ("u2,Amazon S3,viewed,4,900000000", "Timestamp", "900000000", "earlier than 2000-01-01"),
    ],
)
def test_times_and_ratings_follow_the_event_rules_the_api_applies(
    tmp_path: Path, row: str, field: str, value: str, rule: str
) -> None:
    """One rule set: a source row refused here is refused by PutEvents too, and the other way."""
    source = write_source(tmp_path / "bad.csv", HEADER + GOOD_ROWS[0] + "\n" + row + "\n")
    with pytest.raises(SourceError) as raised:
        prepare_dataset(source, tmp_path / "out")
    message = str(raised.value)
    assert message.startswith(f"{source}: line 3: field {field!r}: ")
    assert rule in message
    assert message.endswith(f"(value {value!r})")
    assert "\n" not in message


NEW_ROWS = [*GOOD_ROWS, "u3,Amazon RDS,viewed,4,1700000500", "u4,Amazon RDS,clicked,3,1700000600"]


def read_dataset(data_dir: Path) -> dict[str, bytes]:
    """The dataset as a reader sees it, through the store keys training and serving use."""
    store = LocalStore(data_dir)
    return {name: store.get_bytes(DATASET_PREFIX + name) for name in OUTPUT_FILES}


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so no handler on the way can swallow it."""


@pytest.mark.parametrize("kill_at", range(6))
def test_a_kill_while_publishing_leaves_the_old_or_the_new_dataset_never_a_mix(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch, kill_at: int
) -> None:
    old = read_dataset(tmp_path)
    reference = tmp_path / "reference"
    source = write_source(tmp_path / "new.csv", HEADER + "\n".join(NEW_ROWS) + "\n")
    prepare_dataset(tmp_path / "good.csv", reference / "dataset")
    prepare_dataset(source, reference / "dataset")
    new = read_dataset(reference)
    assert new != old
    calls = {"count": 0}
    real_replace, real_rename = os.replace, os.rename

    def dying(real: Any) -> Any:
        def move(*args: Any, **kwargs: Any) -> None:
            if calls["count"] == kill_at:
                raise Killed
            calls["count"] += 1
            real(*args, **kwargs)

        return move

    monkeypatch.setattr(os, "replace", dying(real_replace))
    monkeypatch.setattr(os, "rename", dying(real_rename))
    with contextlib.suppress(Killed):
        prepare_dataset(source, out_dir)
    monkeypatch.undo()

    assert read_dataset(tmp_path) in (old, new)
    prepare_dataset(source, out_dir)
    assert read_dataset(tmp_path) == new
    assert not list(versions_dir(out_dir).glob(".staging-*"))


def test_a_second_prepare_is_refused_while_one_is_writing(tmp_path: Path, out_dir: Path) -> None:
    from click.testing import CliRunner

    from srs.cli import main

    before = snapshot(out_dir)
    source = write_source(tmp_path / "new.csv", HEADER + "\n".join(NEW_ROWS) + "\n")
    with dataset_lock(out_dir):
        result = CliRunner().invoke(
            main,
            ["--data-dir", str(tmp_path), "prepare", "--source", str(source)],
            catch_exceptions=False,
        )
    assert result.exit_code == 2
    assert f"another srs prepare is writing {out_dir} (pid {os.getpid()})" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert snapshot(out_dir) == before


def test_leftovers_of_killed_runs_are_removed_at_the_next_start(
    tmp_path: Path, out_dir: Path
) -> None:
    partial = out_dir / f".{INTERACTIONS_FILE}.abc123.tmp"
    partial.write_bytes(b"x" * 4096)
    staging = versions_dir(out_dir) / ".staging-abc123"
    staging.mkdir(parents=True)
    (staging / INTERACTIONS_FILE).write_bytes(b"x" * 4096)
    source = write_source(tmp_path / "new.csv", HEADER + "\n".join(NEW_ROWS) + "\n")
    prepare_dataset(source, out_dir)
    assert not partial.exists()
    assert not staging.exists()
    assert sorted(snapshot(out_dir)) == sorted(OUTPUT_FILES)


def test_only_the_two_newest_versions_are_kept(tmp_path: Path) -> None:
    source = write_source(tmp_path / "s.csv", HEADER + "\n".join(GOOD_ROWS) + "\n")
    out = tmp_path / "dataset"
    for _ in range(4):
        prepare_dataset(source, out)
    versions = sorted(versions_dir(out).glob("v-*"))
    assert len(versions) == 2
    assert out.resolve() == versions[-1].resolve()


def test_a_dataset_from_before_versions_is_moved_aside_once(tmp_path: Path) -> None:
    flat = tmp_path / "dataset"
    prepare_dataset(write_source(tmp_path / "s.csv", HEADER + "\n".join(GOOD_ROWS) + "\n"), flat)
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for name in OUTPUT_FILES:
        (legacy / name).write_bytes((flat / name).read_bytes())
    old = read_dataset(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    legacy.rename(other / "dataset")
    source = write_source(tmp_path / "new.csv", HEADER + "\n".join(NEW_ROWS) + "\n")
    result = prepare_dataset(source, other / "dataset")
    assert (other / "dataset").is_symlink()
    assert result.new_items == 1
    assert read_dataset(other) != old
    (stray := tmp_path / "flat2").mkdir()
    (stray / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SourceError, match=r"notes\.txt, which srs prepare did not write"):
        prepare_dataset(source, stray)
    assert (stray / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_play_log_keeps_hours_and_counts_as_event_values(tmp_path: Path) -> None:
    """Only a rating event's value is on the 1–5 scale, as PutEvents has it: a team's log of
    purchases and hours played prepares with its values as they are."""
    rows = [
        "p1,Amazon S3,purchase,1,1700000000",
        "p1,Amazon S3,play,273.5,1700000100",
        "p2,AWS Lambda,play,0.1,1700000200",
        "p2,Amazon S3,rated,4,1700000300",
    ]
    source = write_source(tmp_path / "plays.csv", HEADER + "\n".join(rows) + "\n")
    prepare_dataset(source, tmp_path / "ds")
    frame = read_interactions(tmp_path / "ds")
    assert frame["EVENT_TYPE"].tolist() == ["purchase", "play", "play", "rated"]
    assert frame["EVENT_VALUE"].tolist() == [1.0, 273.5, 0.1, 4.0]
