"""A self-contained HTML report: counts per reason, distribution plots as inline SVG, rejected samples.

No JavaScript, no CDN, no network: the file opens anywhere, including an air-gapped cluster. Plots are
histograms drawn here as SVG (kept and rejected records stacked), with the thresholds marked. Sample
images are referenced relatively (the runner copies them next to the report).
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

KEPT_COLOUR, REJECTED_COLOUR = "#4c78a8", "#e45756"


@dataclass
class Sample:
    id: str
    reasons: dict[str, str]                       # code -> detail
    turns: list[tuple[str, str, str | None]]      # (role, value, source)
    image: str | None = None                      # path relative to the report


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
    counts: list[tuple[str, int, str]]            # (reason code, records, what it means)
    plots: list[Plot]
    samples: dict[str, list[Sample]]
    notes: list[str] = field(default_factory=list)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def histogram_svg(plot: Plot, bins: int = 40, width: int = 560, height: int = 220) -> str:
    """Stacked histogram (kept below, rejected on top) with labelled x ticks and threshold markers."""
    def pos(v: float) -> float:
        if plot.log_x:
            v = math.log10(max(v, plot.lo))
            return (v - math.log10(plot.lo)) / (math.log10(plot.hi) - math.log10(plot.lo))
        return (v - plot.lo) / (plot.hi - plot.lo)

    def bucket(v: float) -> int:
        return min(bins - 1, max(0, int(pos(v) * bins)))

    kept, rej = [0] * bins, [0] * bins
    for v in plot.kept:
        kept[bucket(v)] += 1
    for v in plot.rejected:
        rej[bucket(v)] += 1
    top = max([k + r for k, r in zip(kept, rej)] + [1])
    left, right, upper, lower = 44, 12, 12, 34
    w, h = width - left - right, height - upper - lower
    bw = w / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(plot.title)}">',
             f'<rect x="{left}" y="{upper}" width="{w}" height="{h}" fill="#fafafa" stroke="#ccc"/>']
    for i, (k, r) in enumerate(zip(kept, rej)):
        x = left + i * bw
        hk, hr = h * k / top, h * r / top
        if k:
            parts.append(f'<rect class="bar-kept" x="{x:.1f}" y="{upper + h - hk:.1f}" width="{bw - 1:.1f}" '
                         f'height="{hk:.1f}" fill="{KEPT_COLOUR}"><title>{k} kept</title></rect>')
        if r:
            parts.append(f'<rect class="bar-rejected" x="{x:.1f}" y="{upper + h - hk - hr:.1f}" '
                         f'width="{bw - 1:.1f}" height="{hr:.1f}" fill="{REJECTED_COLOUR}">'
                         f'<title>{r} rejected</title></rect>')
    ticks = ([plot.lo * (plot.hi / plot.lo) ** (i / 4) for i in range(5)] if plot.log_x
             else [plot.lo + (plot.hi - plot.lo) * i / 4 for i in range(5)])
    for t in ticks:
        x = left + pos(t) * w
        parts.append(f'<line x1="{x:.1f}" y1="{upper + h}" x2="{x:.1f}" y2="{upper + h + 4}" stroke="#333"/>'
                     f'<text x="{x:.1f}" y="{upper + h + 16}" font-size="11" text-anchor="middle">{t:.2g}</text>')
    parts.append(f'<text x="{left - 6}" y="{upper + 10}" font-size="11" text-anchor="end">{top}</text>'
                 f'<text x="{left - 6}" y="{upper + h}" font-size="11" text-anchor="end">0</text>')
    for k, (value, label) in enumerate(plot.markers):
        if plot.lo <= value <= plot.hi:
            x = left + pos(value) * w
            parts.append(f'<line class="marker" x1="{x:.1f}" y1="{upper}" x2="{x:.1f}" y2="{upper + h}" '
                         f'stroke="#222" stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{upper + 12 + 13 * k}" '
                         f'font-size="11">{_e(label)}</text>')
    parts.append(f'<text x="{left + w / 2:.1f}" y="{height - 4}" font-size="12" text-anchor="middle">'
                 f'{_e(plot.title)}</text></svg>')
    return "".join(parts)


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
    rejected = data.total - data.kept
    pct = (100.0 * rejected / data.total) if data.total else 0.0
    out = ['<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(data.title)}</title><style>{CSS}</style></head><body>",
           f"<h1>{_e(data.title)}</h1>",
           f"<p>Input <code>{_e(data.source)}</code>: <b>{data.total}</b> records, <b>{data.kept}</b> kept, "
           f"<b>{rejected}</b> rejected ({pct:.1f}%). Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.</p>"]
    out += [f"<p class='detail'>{_e(n)}</p>" for n in data.notes]
    out.append("<h2>Rejections per reason</h2><table><tr><th>reason</th><th>records</th><th>meaning</th></tr>")
    for code, n, meaning in data.counts:
        anchor = f"<a href='#r-{_e(code)}'>{_e(code)}</a>" if code in data.samples else _e(code)
        out.append(f"<tr><td class='code'>{anchor}</td><td class='n'>{n}</td><td>{_e(meaning)}</td></tr>")
    out.append("</table>")
    out.append("<h2>Distributions</h2><p class='legend'>records:<span style='background:%s'></span>kept"
               "<span style='background:%s'></span>rejected</p><div class='plots'>" % (KEPT_COLOUR, REJECTED_COLOUR))
    for plot in data.plots:
        out.append(f"<figure>{histogram_svg(plot)}<figcaption class='detail'>{_e(plot.note)}</figcaption></figure>")
    out.append("</div><h2>Rejected samples</h2>")
    for code, samples in data.samples.items():
        out.append(f"<h3 id='r-{_e(code)}'><span class='code'>{_e(code)}</span> ({len(samples)} shown)</h3>")
        for s in samples:
            img = (f"<img src='{_e(s.image)}' alt='image of {_e(s.id)}' loading='lazy'>" if s.image
                   else "<div class='detail noimg'>(no image)</div>")
            reasons = "".join(f"<div><span class='code'>{_e(c)}</span> <span class='detail'>{_e(d)}</span></div>"
                              for c, d in s.reasons.items())
            rows = "".join(f"<tr><td>{_e(role)}</td><td>{_e(value)}</td><td>{_e(source or '')}</td></tr>"
                           for role, value, source in s.turns)
            out.append(f"<div class='sample'>{img}<div><b>{_e(s.id)}</b>{reasons}<table class='turns'>"
                       f"<tr><th>role</th><th>translation</th><th>source</th></tr>{rows}</table></div></div>")
    out.append("</body></html>\n")
    return "".join(out)
