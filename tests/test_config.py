"""Settings resolution: defaults < TOML file < SRS_* environment < explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from srs.config import ConfigError, Settings, load_settings, settings_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults_need_no_environment() -> None:
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.source_path == Path("data/aws_synthetic_service_recommendation_data.csv")
    assert settings.dataset_dir == Path("data/dataset")


def test_precedence_file_then_environment_then_overrides(tmp_path: Path) -> None:
    config = tmp_path / "srs.toml"
    config.write_text('[srs]\nseed = 7\nusers = 300\ndata_dir = "/srv/srs"\n')
    env = {"SRS_CONFIG": str(config), "SRS_USERS": "400"}
    settings = load_settings(environ=env, overrides={"data_dir": Path("/tmp/x"), "seed": None})
    assert settings.seed == 7
    assert settings.users == 400
    assert settings.data_dir == Path("/tmp/x")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SRS_USERS": "many"}, "setting 'SRS_USERS': 'many' is not a valid int"),
        ({"SRS_USERS": "0"}, "setting 'users': must be at least 1, got 0"),
        ({"SRS_STORE": "ftp"}, "setting 'store': 'ftp' is not 'local' or 's3'"),
        ({"SRS_STORE": "s3"}, "setting 's3_bucket' is required when store = 's3'"),
        (
            {"SRS_CONFIG": "/nonexistent/srs.toml"},
            "config file /nonexistent/srs.toml does not exist",
        ),
    ],
)
def test_bad_settings_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ=env)
    assert str(raised.value) == message


def test_unknown_and_malformed_file_settings_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "srs.toml"
    config.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings(environ={}, config_file=config)
    config.write_text("seed = \n")
    with pytest.raises(ConfigError, match=r"srs\.toml: "):
        load_settings(environ={}, config_file=config)


def test_readme_lists_every_setting_with_its_default() -> None:
    readme = README.read_text(encoding="utf-8")
    for env_name, default, _ in settings_table():
        assert f"| `{env_name}` | `{default}` |" in readme, env_name


def test_event_types_come_from_a_toml_table_under_srs_or_at_top_level(tmp_path: Path) -> None:
    config = tmp_path / "srs.toml"
    config.write_text('[srs.event_types]\ndeploy = "launched"\n"Open Page" = "viewed"\n')
    settings = load_settings(environ={}, config_file=config)
    assert settings.event_types == {"deploy": "launched", "Open Page": "viewed"}
    config.write_text('seed = 3\n[event_types]\nship = "launched"\n')
    assert load_settings(environ={}, config_file=config).event_types == {"ship": "launched"}


def test_event_types_from_the_environment_override_the_file(tmp_path: Path) -> None:
    config = tmp_path / "srs.toml"
    config.write_text('[event_types]\nship = "launched"\n')
    env = {"SRS_CONFIG": str(config), "SRS_EVENT_TYPES": " deploy = launched ,open=viewed,"}
    settings = load_settings(environ=env)
    assert settings.event_types == {"deploy": "launched", "open": "viewed"}
    assert load_settings(environ={}).event_types == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SRS_EVENT_TYPES": "deploy"},
            "setting 'SRS_EVENT_TYPES': 'deploy' is not NAME=VALUE "
            "(expected e.g. deploy=launched,open=viewed)",
        ),
        (
            {"SRS_EVENT_TYPES": "=launched"},
            "setting 'SRS_EVENT_TYPES': '' = 'launched' has a blank side",
        ),
        (
            {"SRS_EVENT_TYPES": "deploy=shipped"},
            "setting 'event_types': 'deploy' = 'shipped': 'shipped' is not a canonical event "
            "type (viewed, clicked, launched, configured, rated, liked, not_interested)",
        ),
    ],
)
def test_bad_event_types_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ=env)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("event_types = 3\n", "setting 'event_types': 3 is not a table of NAME = VALUE"),
        ('event_types = "deploy"\n', "setting 'event_types': 'deploy' is not NAME=VALUE"),
        ("[event_types]\ndeploy = 3\n", "setting 'event_types': value of 'deploy' is 3, not text"),
        ("[seed]\nvalue = 3\n", "setting 'seed': {'value': 3} is not a valid int"),
        ('source_file = ["a", "b"]\n', "setting 'source_file': ['a', 'b'] is not a valid str"),
    ],
)
def test_a_table_where_a_value_belongs_and_back_is_a_config_error(
    tmp_path: Path, toml: str, message: str
) -> None:
    config = tmp_path / "srs.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={}, config_file=config)
    assert str(raised.value).startswith(message)


def test_settings_table_shows_an_empty_mapping_as_empty() -> None:
    rows = {name: default for name, default, _ in settings_table()}
    assert rows["SRS_EVENT_TYPES"] == "(empty)"
    assert rows["SRS_CHUNK_BYTES"] == "4194304"


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("false", False)])
def test_secure_cookies_come_from_the_environment(raw: str, expected: bool) -> None:
    assert Settings().secure_cookies is False
    assert load_settings(environ={"SRS_SECURE_COOKIES": raw}).secure_cookies is expected
