"""Turns a finished scan into DIR2/report.html, one self-contained file: sampled rejected images are inline
thumbnails, so the report opens anywhere (mailed, copied off the cluster) without a folder beside it."""

from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path

import numpy as np

from zqvl.data.checks import meaning
from zqvl.data.clean.decisions import Decision, Scan
from zqvl.data.imagecheck import open_regular
from zqvl.data.io import ImageRoot, atomic_open
from zqvl.data.report import Plot, ReportData, Sample, render
from zqvl.data.schema import SchemaError, parse_record

MAX_CHARS = 700  # per turn in a sample; the full record is in the input


THUMBNAIL_SIDE = 320
MAX_THUMBNAIL_SOURCE_PIXELS = 50_000_000  # validate's bomb limit: never decode more for a thumbnail


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_CHARS:
        return text
    return text[:MAX_CHARS] + f"… (+{len(text) - MAX_CHARS} chars)"


class SampleCollector:
    """Called for each rejected record while outputs are written; keeps the first few per reason code."""

    def __init__(self, scan: Scan, per_reason: int):
        self.scan, self.per_reason = scan, per_reason
        self.images = ImageRoot(scan.images_dir)  # a rejected record's image may be one that escapes images/
        self.samples: dict[str, list[Sample]] = {}

    def __call__(self, decision: Decision, line: str) -> None:
        """`line`: the record as the scan's spool holds it (JSON text)."""
        need = [c for c in dict.fromkeys(decision.reasons) if len(self.samples.get(c, [])) < self.per_reason]
        if not need:
            return
        value = json.loads(line)
        try:
            record = parse_record(value, decision.index)
            turns = [(t.raw_role or t.role, _clip(t.value), _clip(t.source)) for t in record.turns]
        except SchemaError:
            turns = [("(unparseable)", _clip(str(value)), None)]
        image = None
        if decision.images:
            src, problem = self.images.resolve(decision.images[0])
            if problem is None:
                image = thumbnail_data_uri(src)
        details: dict[str, str] = {}
        for r in decision.reasons:
            details[r] = (details[r] + "; " + r.detail) if r in details else r.detail
        sample = Sample(decision.id, details, turns, image)
        for code in need:
            self.samples.setdefault(code, []).append(sample)


def thumbnail_data_uri(path: str, side: int = THUMBNAIL_SIDE) -> str | None:
    """A small JPEG of the image as a data: URI, or None when it cannot be read (the sample shows no image)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with open_regular(path) as fh, Image.open(fh) as im:
            if im.width * im.height > MAX_THUMBNAIL_SOURCE_PIXELS:
                return None
            im.thumbnail((side, side))
            buffer = io.BytesIO()
            im.convert("RGB").save(buffer, "JPEG", quality=80)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(scan: Scan) -> list[Plot]:
    measured = [(d.kept, st) for d, st in zip(scan.decisions, scan.stats) if st is not None]
    kept = np.fromiter((k for k, _ in measured), dtype=bool, count=len(measured))
    params = scan.config["filters"]["truncation"]
    ratio_markers = [(params["min_ratio"], f"floor {params['min_ratio']:.2f}")]
    if scan.length_cut:
        cut = math.exp(scan.length_cut["log_cut"])
        ratio_markers.append((cut, f"set cut {cut:.2f}"))

    def split(attr, clamp_lo, clamp_hi):
        """(kept, rejected) values of one measurement, clamped into the plot; None (not measured) left out."""
        values = np.array([getattr(st, attr) for _, st in measured], dtype=np.float64)  # None -> NaN
        clamped, known = np.clip(values, clamp_lo, clamp_hi), ~np.isnan(values)
        return clamped[known & kept].tolist(), clamped[known & ~kept].tolist()

    rk, rr = split("length_ratio", 0.1, 10.0)
    lk, lr = split("latin_share", 0.0, 1.0)
    pk, pr = split("repetition", 0.0, 1.0)
    return [
        Plot(
            "length ratio (target / source units, log scale)",
            rk,
            rr,
            0.1,
            10.0,
            log_x=True,
            markers=ratio_markers,
            note="Per record; ~1 for a complete translation. Far left: truncated or refused; far right: padded.",
        ),
        Plot(
            "Latin share of the translation",
            lk,
            lr,
            0.0,
            1.0,
            note="Share of text units in Latin script (code, names and OCR text included).",
        ),
        Plot(
            "repetition score (repeated character 4-grams)",
            pk,
            pr,
            0.0,
            1.0,
            note="Worst turn per record; decoding loops sit far right.",
        ),
    ]


def write_report(scan: Scan, out_dir: Path, collector: SampleCollector) -> Path:
    counts = scan.counts
    notes = []
    if scan.length_cut:
        c = scan.length_cut
        notes.append(
            f"Set length ratio: median {math.exp(c['median']):.2f}, robust SD {c['sd']:.3f} (log scale); "
            f"turns below {math.exp(c['log_cut']):.2f} are outliers (z < -{c['max_z']})."
        )
    if scan.filter_errors:
        notes.append(
            "Filters that raised errors (records kept out, reason error.*): "
            + ", ".join(f"{k} ×{v}" for k, v in scan.filter_errors.items())
        )
    data = ReportData(
        title="zqvl-data clean report",
        source=str(scan.path),
        total=len(scan.decisions),
        kept=scan.n_kept,
        counts=[(code, n, meaning(code)) for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))],
        plots=_plots(scan),
        samples=dict(sorted(collector.samples.items())),
        notes=notes,
    )
    final = out_dir / "report.html"
    with atomic_open(final) as fh:
        fh.write(render(data))
    return final
