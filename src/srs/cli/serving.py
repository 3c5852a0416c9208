"""``srs serve``."""

from __future__ import annotations

import click

from srs.cli.base import settings_of
from srs.errors import SRSError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes (default: the workers setting, else one per core, at least two).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Python threads per worker; more overlap fsync waits of event writes.",
)
@click.option("--dev", is_flag=True, help="Flask's development server with the reloader.")
@click.pass_context
def serve(
    ctx: click.Context, host: str, port: int, workers: int | None, threads: int, dev: bool
) -> None:
    """Serve the web interface and the REST API (granian) until stopped."""
    from srs.web.serve import ensure_port_free
    from srs.web.serve import serve as run_server

    settings = settings_of(ctx)
    if not (settings.dataset_dir / "items.csv").exists() and settings.store == "local":
        raise SRSError(f"{settings.dataset_dir}: no prepared dataset; run 'srs prepare' first")
    ensure_port_free(host, port)
    click.echo(f"serving on http://{host}:{port}/ (Ctrl+C to stop)", err=True)
    status = run_server(
        settings,
        host=host,
        port=port,
        workers=workers or settings.workers or None,
        dev=dev,
        threads=threads,
    )
    ctx.exit(status)
