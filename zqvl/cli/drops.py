"""The CLI end of the drop guard: one option, one line printed, one exit code (zqvl.data.dropguard decides)."""

from __future__ import annotations

from zqvl.data.dropguard import DEFAULT_MAX_DROP, Drops, max_drop_value
from zqvl.errors import EXIT_FINDINGS, EXIT_OK
from zqvl.ui import error, out, warn


def add_max_drop_argument(parser) -> None:
    parser.add_argument(
        "--max-drop",
        type=max_drop_value,
        default=DEFAULT_MAX_DROP,
        metavar="SHARE",
        help=f"exit 1 when more than this share of the records is dropped (default "
        f"{DEFAULT_MAX_DROP}); past 0.2 a warning says why",
    )


def guard(drops: Drops, max_drop: float) -> int:
    """Print the verdict; EXIT_FINDINGS when the command dropped too much, else EXIT_OK."""
    level, line = drops.verdict(max_drop)
    if level == "fail":
        error(line)
        return EXIT_FINDINGS
    if level == "warn":
        warn(line)
    elif line:
        out.print(line, soft_wrap=True, markup=False)
    return EXIT_OK
