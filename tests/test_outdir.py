"""The output rule (what --out a command may write into) and the staged whole-directory swap."""

from __future__ import annotations

import os

import pytest

from zqvl.data.outdir import NEW, OUTPUT_MARK, REPLACE, RESUME, claim, staged, write_mark
from zqvl.errors import UsageError

CLEAN = "zqvl-data clean"


def test_new_and_empty_outputs(tmp_path):
    assert claim(tmp_path / "missing", CLEAN) == NEW
    (tmp_path / "empty").mkdir()
    assert claim(tmp_path / "empty", CLEAN) == NEW


def test_users_files_are_refused_unless_forced(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    with pytest.raises(
        UsageError,
        match=r"--out .*precious is not empty and not zqvl-data clean output "
        r"\(1 entries, e.g. 'notes.txt'\).*--force",
    ):
        claim(precious, CLEAN)
    assert claim(precious, CLEAN, force=True) == REPLACE
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        claim(tmp_path / "f", CLEAN)


def test_own_output_of_the_same_input_is_resumed_or_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "chat.json").write_text("[]")
    write_mark(out, "zqvl-data translate", tmp_path / "in")
    assert claim(out, "zqvl-data translate", input_dir=tmp_path / "in", resumable=True) == RESUME
    with pytest.raises(UsageError, match=r"holds zqvl-data translate output of .*in, not of .*other"):
        claim(out, "zqvl-data translate", input_dir=tmp_path / "other", resumable=True)
    with pytest.raises(UsageError, match=r"not zqvl-data clean output \(zqvl-data translate output\)"):
        claim(out, CLEAN, input_dir=tmp_path / "in")


def test_a_finished_output_is_replaced_only_when_forced(tmp_path):
    out = tmp_path / "old_clean"
    out.mkdir()
    (out / "chat.json").write_text("[]")
    (out / "rejected.jsonl").write_text("")  # written before the mark existed: known by its files
    with pytest.raises(UsageError, match="holds an earlier zqvl-data clean output; pass --force"):
        claim(out, CLEAN, input_dir=tmp_path / "in")
    assert claim(out, CLEAN, input_dir=tmp_path / "in", force=True) == REPLACE


def test_staged_swap_replaces_whole_or_not_at_all(tmp_path):
    out = tmp_path / "out"
    with staged(out, CLEAN, tmp_path / "in") as tmp:
        (tmp / "chat.json").write_text("first")
    assert (out / "chat.json").read_text() == "first" and (out / OUTPUT_MARK).is_file()
    with pytest.raises(OSError):
        with staged(out, CLEAN, tmp_path / "in") as tmp:
            (tmp / "chat.json").write_text("second, half")
            raise OSError(28, "No space left on device")
    assert (out / "chat.json").read_text() == "first"  # the earlier complete output, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp dir left
    assert oct(os.stat(out).st_mode & 0o777) != oct(0o700)


def test_a_crash_between_the_renames_is_repaired_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    with staged(out, CLEAN) as tmp:
        (tmp / "chat.json").write_text("previous")
    os.replace(out, tmp_path / ".out.old-999999")  # killed after the first rename
    (tmp_path / ".out.tmp-abandoned").mkdir()  # and a temp dir of another killed run
    with pytest.raises(RuntimeError):
        with staged(out, CLEAN):
            assert (out / "chat.json").read_text() == "previous"  # put back before anything else happens
            raise RuntimeError("stop")
    assert (out / "chat.json").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_two_writers_of_one_output_are_refused(tmp_path):
    with staged(tmp_path / "out", CLEAN):
        with pytest.raises(UsageError, match="another zqvl-data clean is writing it"):
            with staged(tmp_path / "out", CLEAN):
                pass
