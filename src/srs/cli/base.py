"""What every command shares: the error contract, settings, progress bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from srs.config import Settings
from srs.errors import SRSError

USER_ERROR_EXIT = 2


class SRSGroup(click.Group):
    """Turns a user error anywhere below into one line on stderr and exit code 2.

    Operating-system errors (a full disk, a read-only directory) are the user's to fix too,
    so they get the same one line rather than a traceback.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SRSError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(USER_ERROR_EXIT)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(USER_ERROR_EXIT)


def settings_of(ctx: click.Context) -> Settings:
    """The settings ``main`` resolved for this invocation."""
    settings: Settings = ctx.obj
    return settings


@contextmanager
def progress_bar(
    description: str, total: int | None, unit_bytes: bool
) -> Iterator[Callable[[int], None]]:
    """A rich bar on stderr; yields the callback that advances it."""
    counter = DownloadColumn() if unit_bytes else MofNCompleteColumn()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        counter,
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda advance: progress.advance(task, advance)
