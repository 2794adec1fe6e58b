"""Errors every layer may raise, and the exit codes the CLIs turn them into (one place for both)."""
from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1     # the command ran, and found (or left) something the user must look at
EXIT_USAGE = 2        # bad arguments or unreadable input: one line on stderr, nothing written
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad arguments or unreadable input: the CLI prints the message on one line and exits EXIT_USAGE."""
