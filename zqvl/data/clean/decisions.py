"""What a clean scan learned about a set: one Decision per input record, and the Scan that holds them.

Its own module so that the runner (which makes them) and the report (which reads them) both import it,
and neither imports the other's way back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from zqvl.data.clean.registry import Reason
from zqvl.data.clean.stats import RecordStats
from zqvl.data.schema import Record, printable_id


@dataclass(slots=True)
class Decision:
    index: int
    id: str  # the record's id, or "#index" when it has no usable one
    reasons: list[Reason] = field(default_factory=list)
    images: tuple[str, ...] = ()
    placed: bool = False  # its images are in the output already (placed while it was examined)

    @property
    def kept(self) -> bool:
        return not self.reasons

    @property
    def label(self) -> str:
        """The id as schema.record_label names the raw record (ids with newlines or controls as their repr)."""
        return printable_id(self.id)


@dataclass
class Scan:
    """Everything stage 1 and 2 learned about a set; the runner writes from it, --explain reads it."""

    path: Path
    images_dir: Path
    config: dict
    decisions: list[Decision] = field(default_factory=list)
    stats: list[RecordStats | None] = field(default_factory=list)
    length_cut: dict | None = None  # {"median", "sd", "log_cut", "max_ratio"} when the set had enough turns
    filter_errors: Counter = field(default_factory=Counter)
    explained: Record | None = None  # the record asked about with --explain
    spool: Path | None = None  # one line per record, as the output writes it (a scan made for an output)

    @property
    def counts(self) -> Counter:
        return Counter(r for d in self.decisions for r in dict.fromkeys(d.reasons))

    @property
    def n_kept(self) -> int:
        return sum(d.kept for d in self.decisions)
