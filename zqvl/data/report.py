"""A self-contained HTML report: counts per reason, distribution plots as inline SVG, rejected samples.

No JavaScript, no CDN, no network: the file opens anywhere, including an air-gapped cluster. Plots are
histograms drawn as SVG (kept and rejected records stacked), with the thresholds marked. Sample images are
referenced relatively (the runner copies them next to the report). The markup lives in Jinja2 templates
(zqvl/data/templates/, autoescaped); this module computes what they show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

KEPT_COLOUR, REJECTED_COLOUR = "#4c78a8", "#e45756"


@dataclass
class Sample:
    id: str
    reasons: dict[str, str]  # code -> detail
    turns: list[tuple[str, str, str | None]]  # (role, value, source)
    image: str | None = None  # path relative to the report


@dataclass
class Plot:
    title: str
    kept: list[float]
    rejected: list[float]
    lo: float
    hi: float
    log_x: bool = False
    markers: list[tuple[float, str]] = field(default_factory=list)
    note: str = ""


@dataclass
class ReportData:
    title: str
    source: str
    total: int
    kept: int
    counts: list[tuple[str, int, str]]  # (reason code, records, what it means)
    plots: list[Plot]
    samples: dict[str, list[Sample]]
    notes: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def _templates() -> Environment:
    """The package's templates (zqvl/data/templates), HTML-escaped unless marked safe."""
    return Environment(
        loader=PackageLoader("zqvl.data", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def _position(plot: Plot, v):
    """Where a value (or an array of them) sits along the x axis: 0 at lo, 1 at hi, log-spaced for log_x."""
    if plot.log_x:
        lo = math.log10(plot.lo)
        return (np.log10(np.maximum(v, plot.lo)) - lo) / (math.log10(plot.hi) - lo)
    return (np.asarray(v, dtype=np.float64) - plot.lo) / (plot.hi - plot.lo)


def _bin_counts(plot: Plot, values, bins: int) -> list[int]:
    """How many values fall in each of `bins` equal bins over [lo, hi]; values outside count in the first or
    last bin. One array pass: a set has a value per record."""
    where = _position(plot, np.asarray(values, dtype=np.float64))
    bin_of = np.clip(where * bins, 0, bins - 1).astype(np.int64)  # truncates like int(): floor for >= 0
    return np.bincount(bin_of, minlength=bins).tolist()


def histogram_svg(plot: Plot, bins: int = 40, width: int = 560, height: int = 220) -> Markup:
    """Stacked histogram (kept below, rejected on top) with labelled x ticks and threshold markers."""

    def pos(v: float) -> float:
        return float(_position(plot, v))

    kept, rej = _bin_counts(plot, plot.kept, bins), _bin_counts(plot, plot.rejected, bins)
    top = max([k + r for k, r in zip(kept, rej)] + [1])
    left, right, upper, lower = 44, 12, 12, 34
    w, h = width - left - right, height - upper - lower
    bw = w / bins
    bars = []
    for i, (k, r) in enumerate(zip(kept, rej)):
        x = left + i * bw
        hk, hr = h * k / top, h * r / top
        if k:
            bars.append(
                {
                    "kind": "kept",
                    "count": k,
                    "fill": KEPT_COLOUR,
                    "x": f"{x:.1f}",
                    "y": f"{upper + h - hk:.1f}",
                    "width": f"{bw - 1:.1f}",
                    "height": f"{hk:.1f}",
                }
            )
        if r:
            bars.append(
                {
                    "kind": "rejected",
                    "count": r,
                    "fill": REJECTED_COLOUR,
                    "x": f"{x:.1f}",
                    "y": f"{upper + h - hk - hr:.1f}",
                    "width": f"{bw - 1:.1f}",
                    "height": f"{hr:.1f}",
                }
            )
    ticks = (
        [plot.lo * (plot.hi / plot.lo) ** (i / 4) for i in range(5)]
        if plot.log_x
        else [plot.lo + (plot.hi - plot.lo) * i / 4 for i in range(5)]
    )
    markers = [
        {
            "x": f"{left + pos(value) * w:.1f}",
            "text_x": f"{left + pos(value) * w + 3:.1f}",
            "text_y": upper + 12 + 13 * k,
            "label": label,
        }
        for k, (value, label) in enumerate(plot.markers)
        if plot.lo <= value <= plot.hi
    ]
    return Markup(
        _templates()
        .get_template("histogram.svg.j2")
        .render(
            width=width,
            height=height,
            left=left,
            upper=upper,
            w=w,
            h=h,
            axis_y=upper + h,
            top=top,
            bars=bars,
            ticks=[{"x": f"{left + pos(t) * w:.1f}", "label": f"{t:.2g}"} for t in ticks],
            markers=markers,
            title=plot.title,
            title_x=f"{left + w / 2:.1f}",
        )
    )


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC",sans-serif;margin:24px;
color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}
td.n{text-align:right}.plots{display:flex;flex-wrap:wrap;gap:16px}.legend span{display:inline-block;
width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}.sample{border:1px solid #ddd;
margin:12px 0;padding:8px;display:flex;gap:12px}.sample>img,.sample>.noimg{flex:0 0 220px;max-width:220px;
max-height:220px;object-fit:contain;object-position:top}
.turns td{white-space:pre-wrap;word-break:break-word;max-width:420px}.code{font-family:monospace;color:#a33}
.detail{color:#555;font-size:13px}
"""


def render(data: ReportData) -> str:
    """The report page (templates/report.html.j2); every value from the data is HTML-escaped."""
    rejected = data.total - data.kept
    pct = (100.0 * rejected / data.total) if data.total else 0.0
    return (
        _templates()
        .get_template("report.html.j2")
        .render(
            data=data,
            css=Markup(CSS),
            rejected=rejected,
            pct=f"{pct:.1f}",
            generated=f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}",
            kept_colour=KEPT_COLOUR,
            rejected_colour=REJECTED_COLOUR,
            plots=[(histogram_svg(p), p.note) for p in data.plots],
        )
    )
