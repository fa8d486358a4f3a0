"""The ``dummy-service`` Typer app."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Run the dummy-service worker and send it debug commands.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def run(ctx: typer.Context) -> None:
    """Start the worker; takes the same flags as `python -m dummyservice` (see --help)."""
    from dummyservice.__main__ import main as run_worker

    run_worker(ctx.args, prog="dummy-service run")


def main() -> None:
    app()
