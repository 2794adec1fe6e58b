"""report.html: self-contained (no scripts, no network), opens in headless Chromium without console messages,
and shows the three distribution plots and rejected samples with their images."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from test_clean_runner import build_set

from zqvl.data.clean.config import load_config
from zqvl.data.clean.runner import clean
from zqvl.data.report import KEPT_COLOUR, REJECTED_COLOUR, Plot, histogram_svg

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    build_set(root / "in")
    clean(root / "in", root / "out", load_config())
    return root / "out" / "report.html"


def test_report_is_self_contained(report):
    html = report.read_text(encoding="utf-8")
    assert "<script" not in html
    assert not re.search(r"""(?:src|href)=['"]https?:""", html)
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="plot"') == 3
    images = re.findall(r"<img src='([^']+)'", html)
    assert images and all(src.startswith("data:image/jpeg;base64,") for src in images)  # inline: one file
    assert sorted(p.name for p in report.parent.iterdir() if p.name.startswith("report")) == ["report.html"]
    assert "dedupe.image" in html and "numbers.missing" in html  # counts and sample sections
    assert "img-b" in html  # a rejected sample next to its image


def test_histogram_marks_thresholds_and_counts():
    svg = histogram_svg(Plot("ratio", [1.0] * 9, [0.2], 0.1, 10.0, log_x=True, markers=[(0.45, "floor")]))
    assert svg.count('class="bar-kept"') == 1 and svg.count('class="bar-rejected"') == 1
    assert "<title>9 kept</title>" in svg and "floor" in svg and 'class="marker"' in svg


@pytest.mark.parametrize("log_x, lo, hi", [(True, 0.1, 10.0), (False, 0.0, 1.0)])
def test_bins_count_every_value_where_its_position_puts_it(log_x, lo, hi):
    import math
    import random

    from zqvl.data.report import _bin_counts

    rng = random.Random(7)
    plot = Plot("p", [], [], lo, hi, log_x=log_x)
    edges = [lo * (hi / lo) ** (i / 40) for i in range(41)] if log_x else [lo + (hi - lo) * i / 40 for i in range(41)]
    values = [rng.uniform(lo / 2 if log_x else lo - 0.5, hi * 2 if log_x else hi + 0.5) for _ in range(2000)]
    values += edges + [lo, hi, lo / 100 if log_x else lo - 10, hi * 100]  # edges, and far outside either end

    def position(v):  # the scalar rule the bars were drawn with before: int() of the position, clamped
        if log_x:
            return (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
        return (v - lo) / (hi - lo)

    expected = [0] * 40
    for v in values:
        expected[min(39, max(0, int(position(v) * 40)))] += 1
    assert _bin_counts(plot, values, 40) == expected and sum(expected) == len(values)


def _chromium(report: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args, report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it)")
@pytest.mark.slow
def test_report_renders_in_headless_chromium(report, tmp_path):
    dom = _chromium(report, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "CONSOLE" not in dom.stderr, [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln]
    assert len(re.findall(r'<svg[^>]*class="plot"', dom.stdout)) == 3
    assert dom.stdout.count('class="bar-kept"') >= 3 and 'class="bar-rejected"' in dom.stdout
    shot = tmp_path / "shot.png"
    run = _chromium(report, tmp_path, f"--screenshot={shot}", "--window-size=1280,4000", "--hide-scrollbars")
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    with Image.open(shot) as im:
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    counts = {rgb: n for n, rgb in colours}
    hexes = {f"#{r:02x}{g:02x}{b:02x}": n for (r, g, b), n in counts.items()}
    assert hexes.get(KEPT_COLOUR, 0) > 500 and hexes.get(REJECTED_COLOUR, 0) > 50  # bars are drawn
    # Chinese in the screenshot is drawn with a CJK font (make test installs fonts-noto-cjk), not tofu boxes.
    match = subprocess.run(["fc-match", "-f", "%{family}", "sans-serif:lang=zh-cn"], capture_output=True, text=True)
    assert "CJK" in match.stdout or "Hei" in match.stdout, f"no CJK font for the report: {match.stdout!r}"


def test_report_escapes_what_the_data_says():
    """The template autoescapes: a record's id, reasons and text never become markup."""
    from zqvl.data.report import ReportData, Sample, render

    evil = "<script>alert('x')</script>"
    data = ReportData(
        "t",
        "/in/&",
        2,
        1,
        [("a.b", 1, "m")],
        [Plot("p", [0.5], [], 0.0, 1.0, markers=[(0.5, evil)])],
        {"a.b": [Sample(evil, {"a.b": evil}, [("gpt", evil, evil)], "report_files/0.jpg")]},
        [evil],
    )
    page = render(data)
    assert "<script" not in page and page.count("&lt;script&gt;") == 7
    assert "Input <code>/in/&amp;</code>: <b>2</b> records, <b>1</b> kept, <b>1</b> rejected (50.0%)" in page


def test_templates_ship_as_package_data():
    from importlib import resources

    templates = resources.files("zqvl.data").joinpath("templates")
    assert {p.name for p in templates.iterdir()} >= {"report.html.j2", "histogram.svg.j2"}
