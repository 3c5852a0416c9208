"""The ``srs`` command as a person uses it: help everywhere, one-line errors, exit 2."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from srs.cli import USER_ERROR_EXIT, main
from srs.events.event import Event
from srs.events.store import EventStore


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("command", [[], ["generate"], ["prepare"], ["history"]])
def test_every_command_has_help(runner: CliRunner, command: list[str]) -> None:
    result = invoke(runner, *command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert "--help" in result.output


def test_missing_source_is_one_line_on_stderr_and_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, "--data-dir", str(tmp_path), "prepare")
    assert result.exit_code == USER_ERROR_EXIT
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "aws_synthetic_service_recommendation_data.csv: source file does not exist" in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_setting_is_one_line_and_exit_2(runner: CliRunner) -> None:
    result = invoke(runner, "prepare", env={"SRS_USERS": "lots"})
    assert result.exit_code == USER_ERROR_EXIT
    assert result.stderr.strip() == "error: setting 'SRS_USERS': 'lots' is not a valid int"


SOURCE = (
    "User ID,AWS Service,Interaction Type,Rating,Timestamp\n"
    "007,Amazon S3,viewed,4,1700000000\n"
    "007,AWS Lambda,launched,5,1700000600\n"
    "u2,Amazon S3,viewed,3,1700000200\n"
)


def test_prepare_then_history_on_the_local_store(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "aws_synthetic_service_recommendation_data.csv").write_text(SOURCE)
    prepared = invoke(runner, "--data-dir", str(tmp_path), "prepare")
    assert prepared.exit_code == 0, prepared.stderr
    assert "prepared 3 interactions, 2 users, 2 services (2 new IDs)" in prepared.stdout
    assert str(tmp_path / "dataset" / "interactions.csv") in prepared.stdout
    assert "warning: 3 interactions: Amazon Personalize needs at least 1000" in prepared.stderr

    shown = invoke(runner, "--data-dir", str(tmp_path), "history", "007")
    assert shown.exit_code == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if "Amazon S3" in line or "Lambda" in line]
    assert "AWS Lambda" in lines[0] and "launched" in lines[0]
    assert "Amazon S3" in lines[1] and "viewed" in lines[1]

    unknown = invoke(runner, "--data-dir", str(tmp_path), "history", "7")
    assert unknown.exit_code == USER_ERROR_EXIT
    assert unknown.stderr.startswith("error: user '7' has no interactions")


def test_prepare_publishes_to_s3_and_history_reads_it_back(
    runner: CliRunner, tmp_path: Path, moto_endpoint: str, s3_bucket: str, s3_client: Any
) -> None:
    (tmp_path / "aws_synthetic_service_recommendation_data.csv").write_text(SOURCE)
    env = {
        "SRS_STORE": "s3",
        "SRS_S3_BUCKET": s3_bucket,
        "SRS_S3_PREFIX": "team-a/",
        "SRS_S3_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    prepared = invoke(runner, "--data-dir", str(tmp_path), "prepare", env=env)
    assert prepared.exit_code == 0, prepared.stderr
    version = (tmp_path / "dataset").resolve().name
    assert f"s3://{s3_bucket}/team-a/dataset/{version}/interactions.csv" in prepared.stdout
    current = s3_client.get_object(Bucket=s3_bucket, Key="team-a/dataset/CURRENT")
    assert current["Body"].read().decode().strip() == version

    for name in ("interactions.csv", "items.csv"):
        (tmp_path / "dataset" / name).unlink()
    shown = invoke(runner, "--data-dir", str(tmp_path), "history", "u2", env=env)
    assert shown.exit_code == 0, shown.stderr
    assert "Amazon S3" in shown.stdout


def test_events_export_writes_interactions_csv(runner: CliRunner, tmp_path: Path) -> None:
    missing = invoke(runner, "--data-dir", str(tmp_path), "events", "export")
    assert missing.exit_code == USER_ERROR_EXIT
    assert "no events have been recorded yet" in missing.stderr

    EventStore(tmp_path / "events.sqlite").put_events(
        "u1", "s1", [Event("liked", "svc-0001", 1_760_000_000)]
    )
    exported = invoke(runner, "--data-dir", str(tmp_path), "events", "export")
    assert exported.exit_code == 0, exported.stderr
    lines = (tmp_path / "events_export.csv").read_text().splitlines()
    assert lines[1] == '"u1","svc-0001","liked",3,1760000000'


def test_train_recommend_similar_and_evaluate(runner: CliRunner, data_dir: Path) -> None:
    base = ["--data-dir", str(data_dir)]
    trained = invoke(runner, *base, "train", "--no-tune")
    assert trained.exit_code == 0, trained.stderr
    assert trained.stdout.startswith("activated ")
    assert "normalized_discounted_cumulative_gain_at_10" in trained.stdout

    recommended = invoke(runner, *base, "recommend", "user_000001", "--num", "3")
    assert recommended.exit_code == 0, recommended.stderr
    assert recommended.stdout.count("because you use") == 3

    storage = invoke(
        runner,
        *base,
        "recommend",
        "user_000001",
        "--filter",
        "INCLUDE ItemID WHERE Items.CATEGORY IN ($C)",
        "--value",
        'C="Storage"',
    )
    assert storage.exit_code == 0, storage.stderr
    rows = [line for line in storage.stdout.splitlines() if line.startswith("│ ")]
    assert rows and all("Storage" in line for line in rows if line[2].isdigit())

    bad = invoke(runner, *base, "recommend", "user_000001", "--num", "501")
    assert bad.exit_code == USER_ERROR_EXIT
    assert bad.stderr == "error: numResults must be between 1 and 500, got 501\n"

    similar = invoke(runner, *base, "similar", "amazon ec2", "--num", "2")
    assert similar.exit_code == 0, similar.stderr
    assert similar.stdout.count("often used with") == 2
    unknown = invoke(runner, *base, "similar", "Amazon Teleport")
    assert unknown.exit_code == USER_ERROR_EXIT

    evaluated = invoke(runner, *base, "evaluate", "--no-tune")
    assert evaluated.exit_code == 0, evaluated.stderr
    for name in ("popularity-count", "user-personalization", "mean_reciprocal_rank_at_25"):
        assert name in evaluated.stdout


def test_recommend_without_a_model_says_to_train(runner: CliRunner, data_dir: Path) -> None:
    result = invoke(runner, "--data-dir", str(data_dir), "recommend", "user_000001")
    assert result.exit_code == USER_ERROR_EXIT
    assert "run 'srs train'" in result.stderr


def test_an_unwritable_output_is_one_line_not_a_traceback(
    runner: CliRunner, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    result = invoke(runner, "generate", "--users", "5", "--output", str(blocker / "source.csv"))
    assert result.exit_code == USER_ERROR_EXIT
    assert result.stderr.startswith("error: ") and "not-a-directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_train_with_a_blend_says_whether_it_was_kept(runner: CliRunner, data_dir: Path) -> None:
    trained = invoke(runner, "--data-dir", str(data_dir), "train", "--no-tune", "--blend")
    assert trained.exit_code == 0, trained.stderr
    verdict = next(line for line in trained.stdout.splitlines() if line.startswith("blend "))
    assert re.fullmatch(
        r"blend (kept: it beat the item-item order by [+-]\d\.\d{4} ± \d\.\d{4} nDCG@10 on "
        r"folds it was not learnt on|not kept: its gain [+-]\d\.\d{4} ± \d\.\d{4} nDCG@10 is "
        r"within the folds' spread)",
        verdict,
    ), verdict
    no_blend = invoke(runner, "--data-dir", str(data_dir), "train", "--no-tune", "--no-blend")
    assert not any(line.startswith("blend ") for line in no_blend.stdout.splitlines())


def test_train_prints_what_tuning_chose_and_why(runner: CliRunner, data_dir: Path) -> None:
    trained = invoke(runner, "--data-dir", str(data_dir), "train", "--no-blend")
    assert trained.exit_code == 0, trained.stderr
    lines = trained.stdout.splitlines()
    assert any(line.startswith("parameters: ") and "negative_feedback=" in line for line in lines)
    assert any(
        re.fullmatch(
            r"validation \(3 folds, nDCG@10\): defaults 0\.\d{4}, chosen 0\.\d{4}, "
            r"popularity 0\.\d{4}",
            line,
        )
        for line in lines
    )
    assert any(line.startswith("why: ") for line in lines)


TEAM_SOURCE = (
    "User ID,AWS Service,Interaction Type,Rating,Timestamp\n"
    "u1,EC2,view,3,1700000000\n"
    "u1,amazon s3,Launch ,5,1700000100\n"
    "u2,Amazon Simple Storage Service,rate,4,1700000200\n"
    "u2,Amazon EC2,deploy,5,1700000300\n"
    "u3,Amazon S4,view,2,1700000400\n"
)


def table_row(output: str, *cells: str) -> bool:
    """Whether a rich table row holds exactly these cells, in this order."""
    for line in output.splitlines():
        found = [cell.strip() for cell in line.strip("│ ").split("│")]
        if found == list(cells):
            return True
    return False


def team_data_dir(tmp_path: Path) -> Path:
    (tmp_path / "aws_synthetic_service_recommendation_data.csv").write_text(TEAM_SOURCE)
    return tmp_path


def test_prepare_writes_a_team_source_in_srs_terms_and_says_what_it_mapped(
    runner: CliRunner, tmp_path: Path
) -> None:
    data_dir = team_data_dir(tmp_path)
    result = invoke(runner, "--data-dir", str(data_dir), "prepare")
    assert result.exit_code == 0, result.stderr
    assert table_row(result.stdout, "view", "viewed", "2")
    assert table_row(result.stdout, "Launch", "launched", "1")
    assert table_row(result.stdout, "deploy", "deploy (unknown; line 5)", "1")
    assert table_row(result.stdout, "EC2", "Amazon EC2", "1")
    assert table_row(result.stdout, "Amazon Simple Storage Service", "Amazon S3", "1")
    assert table_row(result.stdout, "amazon s3", "Amazon S3", "1")
    assert table_row(result.stdout, "Amazon S4", "1", "Amazon S3, Amazon EBS, Amazon ECS")
    assert (
        "warning: event type 'deploy' (1 row, first on line 5) is not one SRS knows"
        in result.stderr
    )
    assert "warning: service 'Amazon S4' (1 row) is neither in the catalogue" in result.stderr
    interactions = (data_dir / "dataset" / "interactions.csv").read_text().splitlines()
    assert [line.split(",")[2] for line in interactions[1:]] == [
        '"viewed"',
        '"launched"',
        '"rated"',
        '"deploy"',
        '"viewed"',
    ]
    items = (data_dir / "dataset" / "items.csv").read_text()
    assert ",Amazon EC2,Compute," in items and ",Amazon S3,Storage," in items
    assert "svc-0003,Amazon S4,Other,\n" in items
    assert "EC2," not in items.replace("Amazon EC2,", "")


def test_prepare_takes_event_types_from_settings_and_metadata_from_items(
    runner: CliRunner, tmp_path: Path
) -> None:
    data_dir = team_data_dir(tmp_path)
    items = tmp_path / "our_items.csv"
    items.write_text("ITEM_ID,SERVICE_NAME,CATEGORY,DESCRIPTION\nx1,Amazon S4,Storage,Ours.\n")
    result = invoke(
        runner,
        "--data-dir",
        str(data_dir),
        "prepare",
        "--items",
        str(items),
        "--strict",
        env={"SRS_EVENT_TYPES": "deploy=launched"},
    )
    assert result.exit_code == 0, result.stderr
    assert table_row(result.stdout, "deploy", "launched", "1")
    assert "neither in the catalogue" not in result.stdout + result.stderr
    assert "unknown" not in result.stdout
    interactions = (data_dir / "dataset" / "interactions.csv").read_text().splitlines()
    assert interactions[4].split(",")[2] == '"launched"'
    assert "svc-0003,Amazon S4,Storage,Ours.\n" in (data_dir / "dataset" / "items.csv").read_text()


def test_prepare_strict_refuses_unknown_event_types_in_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    data_dir = team_data_dir(tmp_path)
    result = invoke(runner, "--data-dir", str(data_dir), "prepare", "--strict")
    assert result.exit_code == USER_ERROR_EXIT
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {data_dir / 'aws_synthetic_service_recommendation_data.csv'}: event types SRS "
        "does not know (strict): 'deploy' (1 row, first on line 5); say what each means in the "
        "event_types setting (e.g. SRS_EVENT_TYPES=deploy=launched)"
    )
    assert not (data_dir / "dataset" / "interactions.csv").exists()


def test_prepare_with_a_bad_items_file_or_event_types_is_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path
) -> None:
    data_dir = team_data_dir(tmp_path)
    items = tmp_path / "our_items.csv"
    items.write_text("name,category\nAmazon S4,\n")
    bad_items = invoke(runner, "--data-dir", str(data_dir), "prepare", "--items", str(items))
    assert bad_items.exit_code == USER_ERROR_EXIT
    assert bad_items.stderr.strip() == f"error: {items}: line 2: field 'category': blank (value '')"

    bad_setting = invoke(
        runner, "--data-dir", str(data_dir), "prepare", env={"SRS_EVENT_TYPES": "deploy=ship"}
    )
    assert bad_setting.exit_code == USER_ERROR_EXIT
    assert bad_setting.stderr.startswith(
        "error: setting 'event_types': 'deploy' = 'ship': 'ship' is not a canonical event type"
    )
    assert len(bad_setting.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command", [["recommend", "u1"], ["train", "--no-tune"], ["history", "u1"]]
)
def test_commands_on_an_empty_data_directory_say_to_run_prepare(
    runner: CliRunner, tmp_path: Path, command: list[str]
) -> None:
    result = invoke(runner, "--data-dir", str(tmp_path), *command)
    assert result.exit_code == USER_ERROR_EXIT
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert lines[0].endswith("run 'srs prepare' first")
    assert "Traceback" not in result.stderr


def test_history_includes_recorded_feedback_newest_first(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "aws_synthetic_service_recommendation_data.csv").write_text(SOURCE)
    assert invoke(runner, "--data-dir", str(tmp_path), "prepare").exit_code == 0
    mapping = (tmp_path / "dataset" / "service_mapping.csv").read_text().splitlines()
    ids = {
        name.strip('"'): item.strip('"')
        for item, name in (row.split(",", 1) for row in mapping[1:])
    }
    events = EventStore(tmp_path / "events.sqlite")
    events.put_events("007", "s1", [Event("liked", ids["Amazon S3"], 1_760_000_000)])
    events.put_events("007", "s1", [Event("rated", ids["AWS Lambda"], 1_760_000_060, 2.0)])
    events.close()

    shown = invoke(runner, "--data-dir", str(tmp_path), "history", "007")
    assert shown.exit_code == 0, shown.stderr
    assert "007: 4 interactions" in shown.stdout
    rows = [line for line in shown.stdout.splitlines() if "Amazon S3" in line or "Lambda" in line]
    assert "AWS Lambda" in rows[0] and "rated" in rows[0] and "│ 2 " in rows[0]
    assert "Amazon S3" in rows[1] and "liked" in rows[1]
    assert "AWS Lambda" in rows[2] and "launched" in rows[2]

    newest = invoke(runner, "--data-dir", str(tmp_path), "history", "007", "--limit", "1")
    assert "AWS Lambda" in newest.stdout and "rated" in newest.stdout
    assert "liked" not in newest.stdout


HOSTILE_HEADER = "User ID,AWS Service,Interaction Type,Rating,Timestamp\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            HOSTILE_HEADER + "007,Amazon S3,viewed,4,1700000000\nu2,Amazon\x00 S3,viewed,3,1\n",
            "line 3: field 'AWS Service': contains control character U+0000 "
            "(value 'Amazon\\x00 S3')",
        ),
        (
            "User ID,AWS Service,Interaction Type,Rating,RATING\n007,Amazon S3,viewed,4,5\n",
            "line 1: column 5 ('RATING') repeats the name of column 4 ('Rating'); "
            "give each column its own name",
        ),
        (
            HOSTILE_HEADER + "007,Amazon S3,viewed,4,1700000000\n\n\nu2,Amazon S3,rated,0,1\n",
            "line 5: field 'Rating': out of range 1–5 (value '0')",
        ),
    ],
    ids=["nul", "repeated_column", "after_blank_lines"],
)
def test_hostile_source_is_one_line_and_exit_2_keeping_the_dataset(
    runner: CliRunner, tmp_path: Path, text: str, expected: str
) -> None:
    (tmp_path / "aws_synthetic_service_recommendation_data.csv").write_text(SOURCE)
    assert invoke(runner, "--data-dir", str(tmp_path), "prepare").exit_code == 0
    dataset = tmp_path / "dataset"
    before = {path.name: path.read_bytes() for path in dataset.iterdir()}
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    result = invoke(runner, "--data-dir", str(tmp_path), "prepare", "--source", str(bad))
    assert result.exit_code == USER_ERROR_EXIT
    assert result.stderr.strip() == f"error: {bad}: {expected}"
    assert {path.name: path.read_bytes() for path in dataset.iterdir()} == before


def test_prepare_accepts_a_header_with_spaces_around_names(
    runner: CliRunner, tmp_path: Path
) -> None:
    spaced = SOURCE.replace("User ID,AWS Service", " User ID , AWS Service ", 1)
    (tmp_path / "spaced.csv").write_text(spaced)
    result = invoke(
        runner, "--data-dir", str(tmp_path), "prepare", "--source", str(tmp_path / "spaced.csv")
    )
    assert result.exit_code == 0, result.stderr
    assert "prepared 3 interactions, 2 users" in result.stderr + result.stdout


def test_recommend_from_a_corrupt_active_version_says_which_it_fell_back_to(
    runner: CliRunner, data_dir: Path
) -> None:
    import os
    import shutil

    base = ["--data-dir", str(data_dir)]
    assert invoke(runner, *base, "train", "--no-tune").exit_code == 0
    models = data_dir / "models"
    previous = (models / "ACTIVE").read_text().strip()
    newer = "20991231T000000Z-copy0000"
    shutil.copytree(models / previous, models / newer)
    (models / "ACTIVE").write_text(newer + "\n")
    os.truncate(max((models / newer).glob("*.npy"), key=lambda p: p.stat().st_size), 1000)

    result = invoke(runner, *base, "recommend", "user_000001", "--num", "3")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("because you use") == 3
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("warning: ") and f"fell back to {previous}" in result.stderr
    assert "Traceback" not in result.stderr


def test_events_compact_removes_old_events_and_says_how_many(
    runner: CliRunner, tmp_path: Path
) -> None:
    import time

    store = EventStore(tmp_path / "events.sqlite")
    now = int(time.time())
    store.put_events("u1", "s1", [Event("clicked", "old", now - 40 * 86_400)])
    store.put_events("u1", "s1", [Event("clicked", "new", now - 86_400)])
    result = invoke(
        runner, "events", "compact", "--older-than", "30", env={"SRS_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 0, result.output
    assert "removed 1 events older than 30 days" in result.output
    assert [e.item_id for e in EventStore(tmp_path / "events.sqlite").recent("u1")] == ["new"]


def test_events_retention_days_setting_parses() -> None:
    from srs.config import load_settings

    assert load_settings(environ={}).events_retention_days == 0
    settings = load_settings(environ={"SRS_EVENTS_RETENTION_DAYS": "90"})
    assert settings.events_retention_days == 90
