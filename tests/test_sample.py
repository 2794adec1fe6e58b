"""The bundled sample is what tools/make_sample.py generates, and validate catches exactly its broken records."""

import filecmp
import subprocess
import sys

from zqvl.data.validate import validate_dir

SAMPLE_BROKEN = {
    "bad_missing_image": "image.missing",
    "bad_path_escape": "image.unsafe_path",
    "bad_tag_count": "placeholder.count",
    "bad_role_order": "structure.order",
    "bad_empty_answer": "structure.empty_turn",
    "bad_truncated_jpeg": "image.unreadable",
    "bad_tiny_image": "image.tiny",
    "sample_000": "structure.duplicate_id",
}


def test_generator_is_deterministic_and_matches_bundled_copy(repo, tmp_path):
    out = tmp_path / "sample"
    subprocess.run(
        [sys.executable, str(repo / "tools" / "make_sample.py"), "--out", str(out)], check=True, capture_output=True
    )
    bundled = repo / "zqvl" / "assets" / "sample"
    assert (out / "chat.json").read_bytes() == (bundled / "chat.json").read_bytes()
    cmp = filecmp.dircmp(out / "images", bundled / "images")
    assert not cmp.left_only and not cmp.right_only
    assert all(filecmp.cmp(out / "images" / n, bundled / "images" / n, shallow=False) for n in cmp.common_files)
    size = sum(p.stat().st_size for p in bundled.rglob("*") if p.is_file())
    assert size < 2_000_000


def test_validate_catches_the_planted_breakage(repo):
    result = validate_dir(repo / "zqvl" / "assets" / "sample")
    errors = {}
    for issue in result.issues:
        if issue.level == "error":
            errors.setdefault(issue.id, set()).add(issue.code)
    assert {rid: codes for rid, codes in errors.items()} == {
        rid: {code} | ({"placeholder.in_answer"} if rid == "bad_role_order" else set())
        for rid, code in SAMPLE_BROKEN.items()
    }
