"""One output rule for every writing command, and whole-directory atomic outputs.

The rule (`claim`): a command writes only into a new or empty --out, or resumes its own earlier output of the
same input (translate, shard); anything else — the user's own files, another command's output, its own output of a
different input, a finished output of a command that cannot resume — is refused with one line unless `--force`. Every output carries OUTPUT_MARK, naming the
command and its input, so the rule can tell.

The swap (`staged`): a command that rebuilds its whole output writes it into a temp dir beside --out and swaps
it in with renames at the end. A crash, a full disk or Ctrl-C leaves the previous output as it was; a crash
between the two renames is repaired by the next run (the previous output is put back), and leftovers of killed
runs are removed then. A lock beside --out makes that repair safe: one writer at a time.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zqvl.data.io import make_temp_dir
from zqvl.data.lock import LOCK_NAME, exclusive_file
from zqvl.errors import UsageError

OUTPUT_MARK = ".zqvl-output.json"
NEW, RESUME, REPLACE = "new", "resume", "replace"
# outputs written before OUTPUT_MARK existed are recognised by files only that command writes
LEGACY_SIGNATURES = {
    "zqvl-data clean": ("rejected.jsonl",),
    "zqvl-data translate": ("translate_summary.json", "translate-cache.sqlite"),
    "zqvl-data convert": ("skipped.jsonl",),
    "zqvl-data shard": ("manifest.json",),
}


def _mark(out: Path) -> dict | None:
    try:
        return json.loads((out / OUTPUT_MARK).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_mark(out: Path, command: str, input_dir: str | Path | None) -> None:
    data = {"command": command, "input": str(Path(input_dir).resolve()) if input_dir else None}
    (out / OUTPUT_MARK).write_text(json.dumps(data) + "\n", encoding="utf-8")


def claim(
    out: str | Path, command: str, *, input_dir: str | Path | None = None, resumable: bool = False, force: bool = False
) -> str:
    """NEW, RESUME (resumable command, own output of the same input) or REPLACE (`force`); UsageError otherwise."""
    out = Path(out)
    if not out.exists():
        return NEW
    if not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory")
    entries = [p.name for p in out.iterdir() if p.name not in (LOCK_NAME, OUTPUT_MARK)]
    if not entries:
        return NEW
    if force:
        return REPLACE
    mark = _mark(out)
    if mark is None and any((out / f).exists() for f in LEGACY_SIGNATURES.get(command, ())):
        mark = {"command": command, "input": None}
    if mark is None or mark.get("command") != command:
        what = f"{mark['command']} output" if mark else f"{len(entries)} entries, e.g. {sorted(entries)[0]!r}"
        raise UsageError(
            f"--out {out} is not empty and not {command} output ({what}); choose a new or empty "
            "--out, or pass --force to replace it"
        )
    wanted = str(Path(input_dir).resolve()) if input_dir else None
    if mark.get("input") and wanted and mark["input"] != wanted:
        raise UsageError(
            f"--out {out} holds {command} output of {mark['input']}, not of {wanted}; choose another "
            "--out, or pass --force to replace it"
        )
    if not resumable:
        raise UsageError(
            f"--out {out} holds an earlier {command} output; pass --force to replace it "
            "(it is swapped out only once the new one is complete)"
        )
    return RESUME


def _leftovers(final: Path, kind: str) -> list[Path]:
    return sorted(final.parent.glob(f".{final.name}.{kind}-*"))


def _repair(final: Path) -> None:
    """Undo what killed runs left beside `final` (we hold the lock, so no live run owns any of it)."""
    olds = _leftovers(final, "old")
    if olds and not final.exists():
        os.replace(olds.pop(), final)  # killed between the two renames: the previous output goes back
    for path in olds + _leftovers(final, "tmp"):
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def staged(final: str | Path, command: str, input_dir: str | Path | None = None) -> Iterator[Path]:
    """Yield a temp dir beside `final`; on success it becomes `final` (marked as this command's output)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_file(
        final.parent / f".{final.name}.{LOCK_NAME.lstrip('.')}",
        f"--out {final}: another {command} is writing it; wait for it to finish",
        remove=True,
    ):
        _repair(final)
        tmp = make_temp_dir(final)
        try:
            yield tmp
            write_mark(tmp, command, input_dir)
            swap_in(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def swap_in(tmp: Path, final: Path) -> None:
    """Renames only: the old output steps aside, the new one takes its name, the old one is removed."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
