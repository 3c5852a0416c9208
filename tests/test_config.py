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
