"""The deployment's state file: every name and ARN SRS created on AWS, written as it goes.

Set-up records each resource the moment it exists, so a run that crashes half-way leaves a file
that the next run resumes from and that clean-up can act on. The file is JSON, small and
human-readable, and replaced atomically so a crash never leaves it half-written.

The file is one deployment's: the name and region it records rule every later command
(clean-up, batch, serving), so none of them can act on another region than the one that bills.
An option that contradicts them is an error, not a quiet override.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from srs.data.store import atomic_file
from srs.errors import SRSError

STATE_VERSION = 1


class StateFileError(SRSError):
    """The state file exists but cannot be read as SRS's deployment state."""


class DeploymentMismatchError(SRSError):
    """An option names another deployment (region or name) than the state file records."""


class DeploymentState:
    """Resource names and ARNs by key (``bucket``, ``role_arn``, ``campaign_arn`` …)."""

    def __init__(self, path: Path, resources: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        self._resources: dict[str, str] = dict(resources or {})

    @classmethod
    def load(cls, path: Path) -> DeploymentState:
        """The recorded state, or an empty one when no set-up has run yet."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise StateFileError(f"{path}: cannot read the state file: {exc.strerror}") from exc
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateFileError(
                f"{path}: line {exc.lineno}: not valid JSON ({exc.msg}); "
                "fix or remove the file (clean-up then finds resources by name only)"
            ) from exc
        resources = document.get("resources") if isinstance(document, dict) else None
        if not isinstance(resources, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in resources.items()
        ):
            raise StateFileError(f"{path}: 'resources' must map names to strings")
        return cls(path, resources)

    def get(self, key: str) -> str | None:
        return self._resources.get(key)

    def items(self) -> list[tuple[str, str]]:
        return sorted(self._resources.items())

    def record(self, key: str, value: str) -> None:
        """Remember a resource and write the file at once (crash-safe resume)."""
        if self._resources.get(key) == value:
            return
        self._resources[key] = value
        self._save()

    def forget(self, key: str) -> None:
        if self._resources.pop(key, None) is not None:
            self._save()

    def _save(self) -> None:
        document = {"version": STATE_VERSION, "resources": dict(sorted(self._resources.items()))}
        with atomic_file(self.path, str(self.path)) as stream:
            stream.write((json.dumps(document, indent=2) + "\n").encode("utf-8"))

    def deployment(
        self, name: str | None, region: str | None, default_region: str
    ) -> tuple[str, str]:
        """(name, region): the recorded ones; the options or defaults when none is recorded."""
        recorded_name, recorded_region = self.get("name"), self.get("region")
        for option, given, recorded in (
            ("--region", region, recorded_region),
            ("--name", name, recorded_name),
        ):
            if given and recorded and given != recorded:
                raise DeploymentMismatchError(
                    f"{self.path} records deployment {recorded_name or 'srs'!r} in "
                    f"{recorded_region or default_region}, but {option} {given} was given; "
                    "leave it out to act on the recorded deployment, or pass --state-file "
                    "for another deployment"
                )
        return (
            recorded_name or name or "srs",
            recorded_region or region or default_region,
        )
