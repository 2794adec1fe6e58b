"""Console output shared by every command: rich progress, summary tables, one-line errors on stderr."""
from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

# Results go to stdout; progress, warnings and errors to stderr so stdout stays pipeable.
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class UsageError(Exception):
    """Bad arguments or unreadable input: the CLI prints the message on one line and exits 2."""


def error(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {message}", soft_wrap=True)


@contextmanager
def progress(description: str, total: int | None, *extra_fields: str, disable: bool = False):
    """A rich progress bar on stderr; yields (progress, task_id). extra_fields are shown as `name=value`."""
    # Compact on purpose: with many fields a wide bar and an ETA squeeze everything into "…" at 80 columns.
    columns = [TextColumn("[bold]{task.description}"), BarColumn(bar_width=20 if extra_fields else None),
               MofNCompleteColumn(), TimeElapsedColumn()]
    if extra_fields:
        columns.append(TextColumn(" ".join(f"{name}={{task.fields[{name}]}}" for name in extra_fields)))
    else:
        columns.append(TimeRemainingColumn())
    with Progress(*columns, console=err, transient=False, disable=disable) as bar:
        task = bar.add_task(description, total=total, **{name: "" for name in extra_fields})
        yield bar, task


@contextmanager
def staged_progress(command: str):
    """One bar reused across a command's stages; yields track(stage, advance, total) for library callbacks."""
    with progress(command, None, disable=not err.is_terminal) as (bar, task):
        current = {"stage": None}

        def track(stage: str, advance: int, total: int | None) -> None:
            if stage != current["stage"]:
                current["stage"] = stage
                bar.reset(task, total=total, description=f"{command}: {stage}")
            bar.advance(task, advance)
        yield track


def table(title: str, columns: list[str], rows: list[list[object]]) -> Table:
    t = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        numeric = bool(rows) and all(isinstance(r[i], (int, float)) for r in rows)
        t.add_column(name, justify="right" if numeric else "left")
    for row in rows:
        t.add_row(*[str(v) for v in row])
    return t


def run_cli(fn, argv=None) -> int:
    """Run a command's main; turn UsageError and stray exceptions into a one-line error, never a traceback."""
    try:
        return fn(argv)
    except UsageError as e:
        error(str(e))
        return 2
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # last resort: a bug, but the user still gets one clear line
        error(f"{type(e).__name__}: {e} (set ZQVL_DEBUG=1 for a traceback)")
        import os
        if os.environ.get("ZQVL_DEBUG"):
            raise
        return 2


