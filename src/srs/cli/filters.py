"""``srs filters``: named Personalize filters, selected by ``filterArn`` on every route."""

from __future__ import annotations

import click

from srs.cli.base import settings_of
from srs.named_filters import NamedFilters


def _store(ctx: click.Context) -> NamedFilters:
    return NamedFilters.in_directory(settings_of(ctx).data_dir)


@click.group()
def filters() -> None:
    """Named filters (Personalize syntax): a filterArn ending in filter/NAME selects one."""


@filters.command("create")
@click.argument("name")
@click.argument("expression")
@click.pass_context
def create_filter(ctx: click.Context, name: str, expression: str) -> None:
    """Save EXPRESSION as NAME, once the filter parser accepts it."""
    saved = _store(ctx).create(name, expression)
    click.echo(f"created {saved.name}: {saved.arn()}")


@filters.command("list")
@click.pass_context
def list_filters(ctx: click.Context) -> None:
    """Each saved filter: name, ARN and expression."""
    saved = _store(ctx).list()
    if not saved:
        click.echo("no named filters; add one with 'srs filters create NAME EXPRESSION'")
        return
    for entry in saved:
        click.echo(f"{entry.name}\t{entry.arn()}\t{entry.expression}")


@filters.command("delete")
@click.argument("name")
@click.pass_context
def delete_filter(ctx: click.Context, name: str) -> None:
    """Remove the filter saved as NAME."""
    _store(ctx).delete(name)
    click.echo(f"deleted {name}")
