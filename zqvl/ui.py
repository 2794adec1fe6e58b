"""Console output for the commands: summary tables on stdout, one-line warnings and errors on stderr.

User text (ids, paths, answers) may contain rich markup such as `[/]`: every message is escaped before rich
renders it, so data can never break the error path. Progress lives in `zqvl.progress`.
"""

from __future__ import annotations

import os

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from zqvl.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError

# Results go to stdout; progress, warnings and errors to stderr so stdout stays pipeable.
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def error(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


def table(title: str, columns: list[str], rows: list[list[object]]) -> Table:
    """Title and cells are data (paths, ids, answers), never markup: `[/]` in a file name prints as itself."""
    t = Table(title=escape(title), title_justify="left")
    for i, name in enumerate(columns):
        numeric = bool(rows) and all(isinstance(r[i], (int, float)) for r in rows)
        t.add_column(name, justify="right" if numeric else "left")
    for row in rows:
        t.add_row(*[escape(str(v)) for v in row])
    return t


def run_cli(fn, argv=None) -> int:
    """Run a command's main; turn UsageError and stray exceptions into a one-line error, never a traceback."""
    try:
        return fn(argv)
    except UsageError as e:
        error(str(e))
        return EXIT_USAGE
    except KeyboardInterrupt:
        error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:  # last resort: a bug, but the user still gets one clear line
        error(f"{type(e).__name__}: {e} (set ZQVL_DEBUG=1 for a traceback)")
        if os.environ.get("ZQVL_DEBUG"):
            raise
        return EXIT_USAGE
