"""zqvl-data validate: each code has a case that triggers it and a near-miss that does not."""

import json
import struct
import zlib

import pytest
from helpers.datadir import jpeg_bytes, make_dir, png_bytes, qa, record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zqvl.cli.data import _main as data_main
from zqvl.data.imagecheck import ImageLimits, check_image
from zqvl.data.validate import TokenBudget, validate_dir
from zqvl.ui import run_cli

GOOD = {"a.jpg": jpeg_bytes(), "b.png": png_bytes()}


def codes(tmp_path, records, images=GOOD, **kw):
    d = make_dir(tmp_path / "d", records, images)
    return {(i.id, i.code) for i in validate_dir(d, **kw).issues}


def png_header_only(width: int, height: int) -> bytes:
    """A structurally valid PNG (correct CRCs) that claims a huge canvas: a decompression bomb's header."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_clean_dir_has_no_findings(tmp_path):
    recs = [
        record("r1"),
        record("r2", "b.png", qa("再问一次？", "好的。") + qa("第二轮？", "第二个回答。", image=False)),
        record("t1", None),
        record("m1", ["a.jpg", "b.png"], qa("<image>比较两张图。", "不同。")),
    ]
    assert codes(tmp_path, recs) == set()


@pytest.mark.parametrize(
    "rec, code",
    [
        ([1, 2], "structure.not_object"),
        ({"conversations": qa()}, "structure.missing_id"),
        ({"id": "x", "image": 5, "conversations": qa()}, "structure.bad_image_field"),
        ({"id": "x", "image": "a.jpg"}, "structure.missing_conversations"),
        ({"id": "x", "image": "a.jpg", "conversations": [{"from": "human"}]}, "structure.bad_turn"),
        (
            record("x", conversations=[{"from": "用户", "value": "<image>hi"}, {"from": "gpt", "value": "a"}]),
            "structure.role_name",
        ),
        (
            record("x", conversations=[{"from": "gpt", "value": "<image>a"}, {"from": "human", "value": "q"}]),
            "structure.order",
        ),
        (record("x", conversations=qa() + [{"from": "human", "value": "还有吗？"}]), "structure.ends_on_human"),
        (record("x", conversations=qa(answer="   ")), "structure.empty_turn"),
        (record("x", conversations=qa(question="<image>两个标签")), "placeholder.count"),
        (record("x", conversations=qa(image=False)), "placeholder.count"),
        (record("x", conversations=qa(answer="见<image>")), "placeholder.in_answer"),
        (record("x", conversations=qa(answer="图中<图像>是猫。")), "placeholder.mangled"),
        (record("x", conversations=qa(answer="图中 < image > 是猫。")), "placeholder.mangled"),
        (record("x", "../a.jpg"), "image.unsafe_path"),
        (record("x", "/etc/passwd"), "image.unsafe_path"),
        (record("x", "nope.jpg"), "image.missing"),
    ],
)
def test_record_codes(tmp_path, rec, code):
    found = codes(tmp_path, [rec])
    assert code in {c for _, c in found}


def test_near_misses_are_not_flagged(tmp_path):
    recs = [
        record("ok1", conversations=qa(question="图片中的文字？\n<image>", image=False)),  # tag after text
        record("ok3", "sub/c.jpg"),  # nested dir inside images/
        record("ok4", conversations=[{"from": "user", "value": "<image>\n问"}, {"from": "assistant", "value": "答"}]),
    ]
    assert codes(tmp_path, recs, {**GOOD, "sub/c.jpg": jpeg_bytes(colour=(1, 2, 3))}) == set()


def test_look_alikes_are_warnings_with_clean_s_broader_pattern(tmp_path):
    # One look-alike regex for validate and clean (clean's, the broader): `<img>` in prose is reported too,
    # as a warning, so the run still passes.
    d = make_dir(tmp_path / "d", [record("w", conversations=qa(answer="HTML 里的 <img> 标签和【图片】。"))], GOOD)
    result = validate_dir(d)
    assert [(i.code, i.level, i.message) for i in result.issues] == [
        ("placeholder.mangled", "warning", "turn 1: '<img>'; turn 1: '【图片】'")
    ]
    assert result.errors == 0


@pytest.mark.parametrize(
    "name, data, code",
    [
        ("empty.jpg", b"", "image.empty"),
        ("trunc.jpg", jpeg_bytes((256, 256), quality=95)[:900], "image.unreadable"),
        ("text.jpg", b"this is not an image at all", "image.unreadable"),
        ("bomb.png", png_header_only(40_000, 40_000), "image.bomb"),
        ("tiny.png", png_bytes((12, 200)), "image.tiny"),
    ],
)
def test_image_codes(tmp_path, name, data, code):
    assert codes(tmp_path, [record("x", name)], {name: data}) == {("x", code)}


def test_truncated_jpeg_passes_verify_but_not_decode(tmp_path):
    p = tmp_path / "t.jpg"
    p.write_bytes(jpeg_bytes((256, 256), quality=95)[:900])
    assert check_image(str(p), ImageLimits(decode=False)).code is None  # why decode is on by default
    assert check_image(str(p)).code == "image.unreadable"


def test_duplicates(tmp_path):
    recs = [record("r1"), record("r1", "b.png"), record("r2", "copy.jpg"), record("r3", "a.jpg")]
    found = codes(tmp_path, recs, {**GOOD, "copy.jpg": GOOD["a.jpg"]})
    # Same id twice is an error; same bytes under another name is a warning; reusing one file is fine.
    assert found == {("r1", "structure.duplicate_id"), ("r2", "image.same_bytes")}


def test_two_workers_same_findings(tmp_path):
    recs = [record(f"r{i}", f"i{i}.jpg") for i in range(40)] + [record("bad", "e.jpg")]
    images = {f"i{i}.jpg": jpeg_bytes(colour=(i * 6, 255 - i * 6, (i * 37) % 256)) for i in range(40)} | {"e.jpg": b""}
    d = make_dir(tmp_path / "d", recs, images)
    one, two = validate_dir(d, workers=1), validate_dir(d, workers=2)
    assert [(i.id, i.code) for i in one.issues] == [(i.id, i.code) for i in two.issues] == [("bad", "image.empty")]


def test_token_budget_names_the_turn_with_the_real_tokenizer(tmp_path, qwen_tokenizer):
    conv = qa("图里有什么？", "一只猫坐在窗台上。") + qa(
        "它是什么颜色的？", "它是一只橘色的猫，尾巴很长。", image=False
    )
    recs = [record("long", conversations=conv)]
    d = make_dir(tmp_path / "d", recs, GOOD)
    k = 64
    # Independent count: the tokenizer's own chat template, plus K-1 extra tokens for the one <image> token.
    msgs = [{"role": "user" if t["from"] == "human" else "assistant", "content": t["value"]} for t in conv]
    upto = lambda n: len(qwen_tokenizer.apply_chat_template(msgs[:n], tokenize=True)["input_ids"]) + k - 1  # noqa
    total, before_last_answer = upto(4), upto(3)
    assert before_last_answer < total

    def finding(max_len):
        res = validate_dir(d, budget=TokenBudget(qwen_tokenizer, max_len, k))
        return [i.message for i in res.issues if i.code == "tokens.too_long"]

    assert finding(total) == []
    assert finding(total + 5) == []
    msg = finding(total - 3)
    assert len(msg) == 1 and "turn 3 (gpt)" in msg[0] and "answer would be truncated" in msg[0]
    assert f"{total} tokens" in msg[0]
    assert "turn 2 (human)" in finding(before_last_answer - 10)[0]


def cli(argv, capsys):
    code = run_cli(data_main, argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_exit_codes_and_report(tmp_path, capsys):
    d = make_dir(tmp_path / "d", [record("r1"), record("bad", "missing.jpg")], GOOD)
    report = tmp_path / "rep.jsonl"
    code, out, _ = cli(["validate", str(d), "--report", str(report), "--workers", "1"], capsys)
    assert code == 1 and "image.missing" in out
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert rows == [
        {
            "id": "bad",
            "level": "error",
            "code": "image.missing",
            "message": "image 'missing.jpg': file not found",
            "index": 1,
        }
    ]
    clean = make_dir(tmp_path / "c", [record("r1")], GOOD)
    assert cli(["validate", str(clean)], capsys)[0] == 0
    code, _, err = cli(["validate", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "no chat.json" in err


def test_repeated_ids_count_as_separate_bad_records(tmp_path, capsys):
    d = make_dir(tmp_path / "d", [record("s1"), record("s1"), record("s1", "b.png")], GOOD)
    code, out, _ = cli(["validate", str(d), "--workers", "1"], capsys)
    assert code == 1 and "1 of 3 records pass; 2 have errors" in " ".join(out.split())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda c: (
                st.lists(c, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["id", "image", "conversations", "from", "value", "source", "x"]), c, max_size=4
                )
            ),
            max_leaves=15,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_fuzz_never_a_traceback(tmp_path_factory, capsys, payload):
    d = tmp_path_factory.mktemp("fuzz")
    (d / "images").mkdir()
    (d / "chat.json").write_bytes(payload)
    code, out, err = cli(["validate", str(d), "--workers", "1"], capsys)
    assert "Traceback" not in out + err
    assert code in (0, 1, 2)
    if code == 2:  # unreadable input: exactly one clear error line
        assert err.strip().startswith("error:") and len(err.strip().splitlines()) == 1
