"""`hf_quiet`: silence transformers' progress bars and chatter around a load we report on ourselves.

Its own module because both build and the towers it builds use it (a shared piece below both, not a cycle).
"""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def hf_quiet(errors_only: bool = True):
    """No transformers progress bars (ours is the rich one); with errors_only, no info/warning chatter either."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    if errors_only:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
