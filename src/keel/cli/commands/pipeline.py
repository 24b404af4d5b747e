"""`keel pipeline run FILE`: run a pipeline file here, showing each step as it is recorded.

A pipeline file is a Python script that records itself with the SDK (`keel.run(...)`); the
same file runs unchanged under Airflow, Prefect, Dagster or CI. Here it runs in this
process, against this workspace, with a line per recorded step.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape

from keel.cli import context
from keel.cli.context import console, err_console
from keel.errors import KeelError, UsageError

app = typer.Typer(
    help="Run pipeline files locally (Keel records, it does not orchestrate).", no_args_is_help=True
)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    file: Path = typer.Argument(
        ..., metavar="FILE", help="The pipeline script (Python, using keel.run)."
    ),
    as_user: str | None = context.AS_OPTION,
) -> None:
    """Run FILE [ARGS...] with this workspace; exit 1 if the pipeline fails."""
    from keel.pipeline import sdk

    if not file.is_file():
        raise UsageError(f"{file}: no such file")
    settings = context.state(ctx).settings()
    start = time.perf_counter()

    def show(line: str) -> None:
        console.print(f"  [dim]{time.perf_counter() - start:6.1f}s[/] {escape(line)}")

    stop = sdk.on_progress(show)
    console.print(f"running {escape(str(file))}")
    try:
        sdk.run_file(file, ctx.args, home=settings.home, user=as_user or settings.user)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            err_console.print(f"pipeline exited with {exc.code}")
            raise typer.Exit(1) from None
    except KeelError:
        raise
    except Exception as exc:  # the pipeline's own failure: the run is already recorded as failed
        err_console.print(f"[red]pipeline failed:[/] {type(exc).__name__}: {escape(str(exc))}")
        raise typer.Exit(1) from None
    finally:
        stop()
    console.print(f"done in {time.perf_counter() - start:.1f}s")
