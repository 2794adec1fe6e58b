"""`make demo`: the whole zqvl flow on the bundled sample with tiny models, under runs/demo/.

Each step runs the real command-line tool a user would type (printed before it runs), so the demo doubles as
a walkthrough of the README.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "zqvl" / "assets" / "sample"
RUN = REPO / "runs" / "demo"
BIN = Path(sys.executable).parent
console = Console(highlight=False)


def step(title: str, *argv: str, ok_codes=(0,)) -> int:
    console.rule(f"[bold]{title}")
    shown = " ".join(shlex.quote(os.path.relpath(a, REPO) if a.startswith(str(REPO)) else a) for a in argv)
    console.print(f"[dim]$ {shown}[/]")
    t = time.perf_counter()
    code = subprocess.call([str(BIN / argv[0]), *argv[1:]], cwd=REPO)
    console.print(f"[dim]exit {code}, {time.perf_counter() - t:.1f} s[/]")
    if code not in ok_codes:
        console.print(f"[bold red]demo stopped: {argv[0]} exited {code}[/]")
        sys.exit(code)
    return code


def main() -> None:
    if RUN.exists():
        shutil.rmtree(RUN)
    RUN.mkdir(parents=True)
    started = time.perf_counter()
    # The sample carries a few records broken on purpose: validate exits 1 and names each one.
    step("1. validate the bundled sample (broken records are planted on purpose)",
         "zqvl-data", "validate", str(SAMPLE), "--report", str(RUN / "validate.jsonl"), "--max-len", "2048",
         "--image-tokens", "16", ok_codes=(0, 1))
    console.rule()
    console.print(f"[bold green]demo finished in {time.perf_counter() - started:.0f} s[/]; outputs under "
                  f"{RUN.relative_to(REPO)}/")


if __name__ == "__main__":
    main()
