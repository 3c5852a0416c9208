"""One settings object for every entry point.

Precedence, lowest to highest: built-in defaults, an optional TOML file
(``SRS_CONFIG`` or ``--config``), then ``SRS_*`` environment variables. Keeping
the resolution in one pure function lets tests build settings from a plain dict
instead of patching the process environment.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from srs.errors import SRSError

ENV_PREFIX = "SRS_"
DATASET_PREFIX = "dataset/"


class ConfigError(SRSError):
    """A setting has a value SRS cannot use; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    """Every tunable of SRS, with the defaults of the embedded single-machine set-up."""

    data_dir: Path = field(
        default=Path("data"),
        metadata={"help": "Local directory for source, prepared data, models and events."},
    )
    source_file: str = field(
        default="aws_synthetic_service_recommendation_data.csv",
        metadata={"help": "Name of the source CSV inside the data directory."},
    )
    backend: str = field(
        default="local",
        metadata={
            "help": "What answers requests: 'local' (embedded engine), 'personalize' (the "
            "campaign srs aws setup made) or 'batch' (the last srs aws batch results)."
        },
    )
    store: str = field(
        default="local",
        metadata={"help": "Where prepared data and models live: 'local' or 's3'."},
    )
    s3_bucket: str = field(default="", metadata={"help": "S3 bucket when store = 's3'."})
    s3_prefix: str = field(default="srs/", metadata={"help": "Key prefix inside the bucket."})
    s3_region: str = field(default="us-east-1", metadata={"help": "AWS region for S3."})
    s3_endpoint_url: str = field(
        default="",
        metadata={"help": "Custom S3 endpoint (MinIO, moto); empty means AWS."},
    )
    default_filter: str = field(
        default=(
            "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN "
            '("launched", "configured", "not_interested")'
        ),
        metadata={
            "help": "Filter applied to every recommendation (Personalize syntax); empty for "
            "none. It is also the already-used policy: by default a service the user launched "
            "or configured is not recommended (one only viewed may be, as a nudge)."
        },
    )
    admin_token: str = field(
        default="",
        metadata={"help": "Bearer token for admin actions (POST /admin/retrain); empty: off."},
    )
    secret_key: str = field(
        default="",
        metadata={"help": "Web session key; empty: one generated into DATA_DIR/web_secret_key."},
    )
    max_body_bytes: int = field(
        default=262_144,
        metadata={"help": "Largest request body the web server accepts (413 above)."},
    )
    secure_cookies: bool = field(
        default=False,
        metadata={"help": "Mark the session cookie Secure (HTTPS only); on behind a TLS proxy."},
    )
    workers: int = field(
        default=0,
        metadata={
            "help": "Server worker processes for srs serve; 0 means one per core, at least two."
        },
    )
    seed: int = field(default=42, metadata={"help": "Seed for the synthetic data generator."})
    users: int = field(default=2000, metadata={"help": "Users in the generated demo data."})
    interactions_per_user: int = field(
        default=20, metadata={"help": "Mean interactions per generated user."}
    )
    chunk_bytes: int = field(
        default=4 << 20,
        metadata={"help": "Bytes of source CSV read per block by prepare; bounds its memory."},
    )
    events_retention_days: int = field(
        default=0,
        metadata={
            "help": "Feedback events older than this many days are deleted when srs serve "
            "starts its workers; 0 keeps them forever."
        },
    )
    personalize_access_keys: str = field(
        default="",
        metadata={
            "help": "Access key IDs (comma-separated) allowed to call the Personalize protocol "
            "under /personalize; empty: any credentials, as the server is local."
        },
    )
    personalize_endpoint_url: str = field(
        default="",
        metadata={
            "help": "Endpoint of personalize-runtime and personalize-events for backend = "
            "'personalize', e.g. another srs serve's http://HOST:PORT/personalize; empty "
            "means AWS."
        },
    )
    event_types: Mapping[str, str] = field(
        default_factory=dict,
        hash=False,
        metadata={
            "help": "A team's own interaction types mapped onto SRS's (viewed, clicked, "
            "launched, configured, rated, liked, not_interested), e.g. "
            "deploy=launched,open=viewed; in the TOML file an [event_types] table."
        },
    )

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def source_path(self) -> Path:
        return self.data_dir / self.source_file

    @property
    def ground_truth_path(self) -> Path:
        """The synthetic generator's personas, kept beside the source for evaluation."""
        return self.data_dir / "ground_truth.csv"

    @property
    def events_path(self) -> Path:
        """The EventStore's SQLite file; local even when the store is S3 (it needs a disk)."""
        return self.data_dir / "events.sqlite"

    @property
    def aws_state_path(self) -> Path:
        """Where ``srs aws setup`` records the ARNs of what it created."""
        return self.data_dir / "aws-state.json"

    @property
    def model_cache_dir(self) -> Path:
        """Local copies of models kept in S3 (memory-mapped from here)."""
        return self.data_dir / "model-cache"

    @property
    def dataset_dir(self) -> Path:
        """Local working directory of ``srs prepare``; published to the store as ``dataset/``."""
        return self.data_dir / DATASET_PREFIX.rstrip("/")


def _coerce_mapping(name: str, raw: Any) -> dict[str, str]:
    """A TOML table, or ``NAME=VALUE,NAME=VALUE`` text from the environment, or a JSON
    object there (how ``srs serve`` hands settings to its workers, whatever the names hold)."""
    if isinstance(raw, str) and raw.lstrip().startswith("{"):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"setting {name!r}: not a JSON object: {exc}") from None
    if isinstance(raw, str):
        pairs: list[tuple[str, Any]] = []
        for entry in (part.strip() for part in raw.split(",")):
            if not entry:
                continue
            key, equals, value = entry.partition("=")
            if not equals:
                raise ConfigError(
                    f"setting {name!r}: {entry!r} is not NAME=VALUE "
                    "(expected e.g. deploy=launched,open=viewed)"
                )
            pairs.append((key, value))
    elif isinstance(raw, Mapping):
        pairs = list(raw.items())
    else:
        raise ConfigError(f"setting {name!r}: {raw!r} is not a table of NAME = VALUE")
    mapping: dict[str, str] = {}
    for key, value in pairs:
        if not isinstance(value, str):
            raise ConfigError(f"setting {name!r}: value of {key!r} is {value!r}, not text")
        if not key.strip() or not value.strip():
            raise ConfigError(f"setting {name!r}: {key!r} = {value!r} has a blank side")
        mapping[key.strip()] = value.strip()
    return mapping


def _coerce(name: str, raw: Any, target: Any) -> Any:
    """Turn a TOML or environment value into the type of the field's default."""
    kind = type(target)
    if isinstance(target, Mapping):
        return _coerce_mapping(name, raw)
    try:
        if isinstance(raw, Mapping | list):
            raise ValueError(raw)
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind is int:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return int(raw)
        if issubclass(kind, Path):
            return Path(str(raw))
        return str(raw)
    except ValueError:
        raise ConfigError(f"setting {name!r}: {raw!r} is not a valid {kind.__name__}") from None


def _check_event_types(event_types: Mapping[str, str]) -> None:
    """Refuse a mapping onto a type SRS does not know now, not halfway through prepare."""
    if not event_types:
        return
    from srs.data.vocabulary import EventVocabulary, EventVocabularyError

    try:
        EventVocabulary(event_types)
    except EventVocabularyError as exc:
        raise ConfigError(f"setting 'event_types': {exc}") from None


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve settings from defaults, a TOML file, the environment and explicit overrides."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    known = {f.name: getattr(defaults, f.name) for f in fields(Settings)}
    values: dict[str, Any] = {}

    path = config_file or (
        Path(env[ENV_PREFIX + "CONFIG"]) if env.get(ENV_PREFIX + "CONFIG") else None
    )
    if path is not None:
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        table = table.get("srs", table)
        for key, raw in table.items():
            if key not in known:
                raise ConfigError(f"config file {path}: unknown setting {key!r}")
            values[key] = _coerce(key, raw, known[key])

    for name, default in known.items():
        env_name = ENV_PREFIX + name.upper()
        if env_name in env:
            values[name] = _coerce(env_name, env[env_name], default)

    for key, raw in (overrides or {}).items():
        if raw is not None:
            values[key] = _coerce(key, raw, known[key])

    settings = Settings(**values)
    for name in ("users", "interactions_per_user", "chunk_bytes", "max_body_bytes"):
        if getattr(settings, name) < 1:
            raise ConfigError(
                f"setting {name!r}: must be at least 1, got {getattr(settings, name)}"
            )
    if settings.workers < 0:
        raise ConfigError(
            f"setting 'workers': must be 0 (automatic) or more, got {settings.workers}"
        )
    if settings.backend not in {"local", "personalize", "batch"}:
        raise ConfigError(
            f"setting 'backend': {settings.backend!r} is not 'local', 'personalize' or 'batch'"
        )
    if settings.store not in {"local", "s3"}:
        raise ConfigError(f"setting 'store': {settings.store!r} is not 'local' or 's3'")
    if settings.store == "s3" and not settings.s3_bucket:
        raise ConfigError("setting 's3_bucket' is required when store = 's3'")
    _check_event_types(settings.event_types)
    return settings


def _shown_default(value: Any) -> str:
    if isinstance(value, Mapping):
        value = ",".join(f"{key}={target}" for key, target in value.items())
    return str(value) if value != "" else "(empty)"


def settings_table() -> list[tuple[str, str, str]]:
    """(environment variable, default, help) for every setting, for the README and --help."""
    defaults = Settings()
    return [
        (
            ENV_PREFIX + f.name.upper(),
            _shown_default(getattr(defaults, f.name)),
            str(f.metadata.get("help", "")),
        )
        for f in fields(Settings)
    ]
