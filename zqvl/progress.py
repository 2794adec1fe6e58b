"""One progress interface for every long job.

Libraries take a `Progress` and call `stage(name, total)`, `advance(n, **fields)` or `update(done, **fields)`;
they never know how it is shown. The CLI opens one with `open_progress`: a rich bar on a terminal, a plain
line every few seconds when the stream is a file (cluster logs read those; a bar there is one line cut at 80
columns), nothing when disabled. `NULL` is the default for library callers and tests.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO


class Progress:
    """The interface, and the silent implementation."""

    def stage(self, name: str, total: int | None = None) -> None:
        """Start (or switch to) a named stage; `total` units if known."""

    def advance(self, n: int = 1, **fields: object) -> None:
        """n more units done; `fields` (name=value) are shown beside the count."""

    def update(self, done: int | None = None, total: int | None = None, **fields: object) -> None:
        """Set the absolute count (and total, fields)."""


NULL = Progress()


class _Counter(Progress):
    """Keeps the counts that both visible kinds show."""

    def __init__(self, command: str, total: int | None, fields: tuple[str, ...]):
        self.command, self.total, self.names = command, total, fields
        self.stage_name: str | None = None
        self.done = 0
        self.fields: dict[str, object] = {name: "" for name in fields}
        self.started = time.monotonic()

    def stage(self, name: str, total: int | None = None) -> None:
        if name != self.stage_name:
            self.stage_name, self.total, self.done, self.started = name, total, 0, time.monotonic()
        elif total is not None:
            self.total = total
        self._show(force=True)

    def advance(self, n: int = 1, **fields: object) -> None:
        self.done += n
        self.fields.update(fields)
        self._show()

    def update(self, done: int | None = None, total: int | None = None, **fields: object) -> None:
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        self.fields.update(fields)
        self._show()

    @property
    def title(self) -> str:
        return f"{self.command}: {self.stage_name}" if self.stage_name else self.command

    def _show(self, force: bool = False) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class LineProgress(_Counter):
    """`title done/total (pct) rate/s ETA fields`, at most one line every `every` seconds, and a last one.

    A job shorter than `every` prints nothing: its summary table says it all, and its stderr stays the one
    line of an error when it fails."""

    def __init__(self, command, total, fields, stream: IO[str], every: float):
        super().__init__(command, total, fields)
        self.stream, self.every = stream, every
        self.last = time.monotonic()
        self.printed = False

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.done and now - self.last >= self.every:
            self.last = now
            self.printed = True
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        parts = [self.title, f"{self.done}/{self.total}" if self.total else str(self.done)]
        if self.total:
            parts.append(f"({100 * self.done / self.total:.0f}%)")
        parts.append(f"{rate:.1f}/s")
        if self.total and rate > 0 and self.done < self.total:
            parts.append(f"ETA {_clock((self.total - self.done) / rate)}")
        parts += [f"{k}={v}" for k, v in self.fields.items() if v != ""]
        return " ".join(parts)

    def close(self) -> None:
        if self.printed:
            self.stream.write(self.line(time.monotonic()) + " done\n")
            self.stream.flush()


class RichProgress(_Counter):
    """A compact rich bar: with many fields a wide bar and an ETA squeeze everything into '…' at 80 columns."""

    def __init__(self, command, total, fields, stream: IO[str]):
        super().__init__(command, total, fields)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        columns = [
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=20 if fields else None),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ]
        if fields:
            columns.append(TextColumn(" ".join(f"{n}={{task.fields[{n}]}}" for n in fields)))
        else:
            columns.append(TimeRemainingColumn())
        self.bar = Bar(*columns, console=Console(file=stream, highlight=False), transient=False)
        self.bar.start()
        self.task = self.bar.add_task(_escape(command), total=total, **{n: "" for n in fields})

    def stage(self, name: str, total: int | None = None) -> None:
        if name != self.stage_name:
            self.bar.reset(self.task, total=total, description=_escape(f"{self.command}: {name}"))
        super().stage(name, total)

    def _show(self, force: bool = False) -> None:
        fields = {k: _escape(str(v)) for k, v in self.fields.items()}
        self.bar.update(self.task, completed=self.done, total=self.total, **fields)

    def close(self) -> None:
        self.bar.stop()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@contextmanager
def open_progress(
    command: str,
    total: int | None = None,
    *fields: str,
    enabled: bool = True,
    stream: IO[str] | None = None,
    every: float | None = None,
) -> Iterator[Progress]:
    """The right Progress for `stream` (default stderr): a bar on a terminal, lines otherwise.

    `every` is the seconds between lines (default $ZQVL_PROGRESS_EVERY or 30)."""
    if not enabled:
        yield NULL
        return
    stream = stream or sys.stderr
    if stream.isatty():
        shown: _Counter = RichProgress(command, total, fields, stream)
    else:
        every = every if every is not None else float(os.environ.get("ZQVL_PROGRESS_EVERY", "30"))
        shown = LineProgress(command, total, fields, stream, every)
    try:
        yield shown
    finally:
        shown.close()
