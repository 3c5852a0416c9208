"""The ``srs`` command: a thin layer that turns arguments into calls and results into text.

User errors (:class:`srs.errors.SRSError`) print one line on stderr and exit 2;
``--verbose`` turns on logging for the curious. The commands live by area in this
package's modules and are attached to ``main`` here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click
from rich.console import Console
from rich.logging import RichHandler

from srs.cli.base import USER_ERROR_EXIT, SRSGroup, settings_of
from srs.config import load_settings
from srs.errors import SRSError

log = logging.getLogger("srs")


@click.group(cls=SRSGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML settings file (else $SRS_CONFIG).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory (else $SRS_DATA_DIR, default ./data).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what SRS does.")
@click.version_option(package_name="srs")
@click.pass_context
def main(
    ctx: click.Context, config_file: Path | None, data_dir: Path | None, verbose: bool
) -> None:
    """SRS, the Service Recommendation System: recommends AWS services to your users."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False)],
    )
    try:
        ctx.obj = load_settings(config_file=config_file, overrides={"data_dir": data_dir})
    except SRSError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(USER_ERROR_EXIT)
    log.debug("settings: %s", ctx.obj)


def _register() -> None:
    from srs.cli import aws, cost, data, filters, model, serving

    for command in (
        data.generate,
        data.prepare,
        data.history,
        data.events,
        filters.filters,
        model.train,
        model.recommend,
        model.similar,
        model.evaluate,
        serving.serve,
        cost.cost,
        aws.aws_group,
    ):
        main.add_command(command)


_register()

__all__ = ["USER_ERROR_EXIT", "main", "settings_of"]
