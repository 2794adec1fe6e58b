"""Errors every layer may raise, and the exit codes the CLIs turn them into (one place for both)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1  # the command ran, and found (or left) something the user must look at
EXIT_USAGE = 2  # bad arguments or unreadable input: one line on stderr, nothing written
EXIT_PENDING = 3  # work handed to a remote service (a batch) has not finished: run the same command later
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad arguments or unreadable input: the CLI prints the message on one line and exits EXIT_USAGE."""


def did_you_mean(word: str, choices) -> str:
    """' (did you mean X?)' for the closest of `choices` to a mistyped `word`, or '' when none is close."""
    import difflib

    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def unknown_keys_message(where: str, unknown, known) -> str:
    """'WHERE: unknown option(s) a (did you mean b?), c' — one line for mistyped config keys."""
    return f"{where}: unknown option(s) " + ", ".join(f"{k}{did_you_mean(k, known)}" for k in sorted(unknown))
