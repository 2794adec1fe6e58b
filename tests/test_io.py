"""Streaming reader and atomic writers."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zqvl.data import io as zio
from zqvl.data.schema import SchemaError, parse_record
from zqvl.errors import UsageError


def test_stream_list_across_chunk_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(zio, "CHUNK", 7)  # force every value to straddle chunk boundaries
    values = [{"id": f"r{i}", "v": "数据" * i, "n": 10**i} for i in range(30)] + [12345, "str", None, [1, [2]]]
    p = tmp_path / "c.json"
    p.write_text(json.dumps(values, ensure_ascii=False, indent=1), encoding="utf-8")
    assert list(zio.iter_json_values(p)) == values


def test_stream_jsonl(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
    assert list(zio.iter_json_values(p)) == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty file"),
        ('[{"a": 1}, {"a": 2}', "never closed"),
        ('[{"a": 1} {"a": 2}]', "expected ','"),
        ('[{"a": 1},, ]', "invalid JSON in record #1"),
        ('[{"a": 1}] trailing', "after the closing"),
        ('[{"a": tru}]', "invalid JSON in record #0"),
    ],
)
def test_malformed_json_is_one_line_usage_error(tmp_path, text, fragment):
    p = tmp_path / "c.json"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=fragment) as e:
        list(zio.iter_json_values(p))
    assert "\n" not in str(e.value)


def test_not_utf8(tmp_path):
    p = tmp_path / "c.json"
    p.write_bytes(b'[{"a": "\xff\xfe"}]')
    with pytest.raises(UsageError, match="not UTF-8"):
        list(zio.iter_json_values(p))


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
        max_leaves=12,
    )
)
def test_any_json_value_parses_or_raises_schema_error(value):
    """parse_record never raises anything but SchemaError, whatever JSON it is given."""
    for candidate in (
        value,
        {"id": "x", "conversations": value},
        {"id": "x", "image": value, "conversations": [{"from": "human", "value": "hi"}]},
        {"id": value, "conversations": [value]},
    ):
        try:
            rec = parse_record(candidate, 0)
        except SchemaError as e:
            assert e.code and "\n" not in str(e)
        else:
            assert rec.turns and rec.id


def test_tolerant_variants_and_round_trip():
    raw = {
        "id": 7,
        "images": ["a.jpg", "b.png"],
        "conversations": [
            {"role": "user", "content": "比较<image>和<image>", "lang": "zh"},
            {"role": "assistant", "content": "不同。"},
        ],
        "meta": {"k": 1},
    }
    rec = parse_record(raw, 0)
    assert rec.id == "7" and rec.images == ["a.jpg", "b.png"] and rec.image_tag_count() == 2
    assert [t.role for t in rec.turns] == ["human", "gpt"]
    out = rec.to_json()
    assert out["image"] == ["a.jpg", "b.png"] and out["meta"] == {"k": 1}
    assert out["conversations"][0] == {"from": "human", "value": "比较<image>和<image>", "lang": "zh"}
    single = parse_record({"id": "s", "image": ["x.jpg"], "conversations": [{"from": "human", "value": "q"}]})
    assert single.to_json()["image"] == ["x.jpg"]  # a one-element list stays a list
    assert "image" not in parse_record({"id": "t", "conversations": [{"from": "gpt", "value": "a"}]}).to_json()


def test_record_list_writer_is_atomic(tmp_path):
    final = tmp_path / "out" / "chat.json"
    with pytest.raises(RuntimeError):
        with zio.RecordListWriter(final) as w:
            w.write({"id": "a"})
            raise RuntimeError("crash mid-write")
    assert not final.exists() and list((tmp_path / "out").iterdir()) == []
    with zio.RecordListWriter(final) as w:
        w.write({"id": "a"})
        w.write({"id": "b"})
    assert json.loads(final.read_text()) == [{"id": "a"}, {"id": "b"}]
    assert (final.stat().st_mode & 0o777) != 0o600


@pytest.mark.parametrize(
    "rel, ok",
    [
        ("a.jpg", True),
        ("sub/a.jpg", True),
        ("../a.jpg", False),
        ("sub/../../a.jpg", False),
        ("/etc/passwd", False),
        ("C:/x.jpg", False),
        ("", False),
        ("..\\a.jpg", False),
    ],
)
def test_safe_image_path(tmp_path, rel, ok):
    assert (zio.safe_image_path(tmp_path, rel) is not None) is ok


def test_safe_image_path_is_one_string_rule(tmp_path):
    assert zio.safe_image_path(tmp_path, "sub\\./a.jpg") == str(tmp_path / "sub" / "a.jpg")
    assert zio.safe_image_path(str(tmp_path), "./a.jpg") == str(tmp_path / "a.jpg")
    assert zio.safe_image_path(tmp_path, "./") is None


def test_file_placer_links_copies_and_keeps_what_is_there(tmp_path):
    src = tmp_path / "src.jpg"
    src.write_bytes(b"image")
    linked, copied = tmp_path / "out" / "a" / "x.jpg", tmp_path / "copy" / "x.jpg"
    zio.FilePlacer().place(src, linked)
    zio.FilePlacer(copy=True).place(src, copied)
    assert linked.samefile(src) and copied.read_bytes() == b"image" and not copied.samefile(src)
    stale = tmp_path / "out" / "a" / "y.jpg"
    stale.write_bytes(b"another picture")
    placer = zio.FilePlacer()
    placer.place(src, stale)  # a different file under the name: replaced
    placer.place(src, linked)  # the same file: left alone
    assert stale.samefile(src) and linked.samefile(src)
    assert sorted(p.name for p in (tmp_path / "out" / "a").iterdir()) == ["x.jpg", "y.jpg"]


def test_file_placer_never_leaves_a_half_file(tmp_path, monkeypatch):
    src = tmp_path / "src.jpg"
    src.write_bytes(b"image" * 1000)

    def broken_copy(a, b):
        with open(b, "wb") as fh:
            fh.write(b"imag")  # half written, then the disk fills
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zio.shutil, "copyfile", broken_copy)
    with pytest.raises(OSError, match="No space"):
        zio.FilePlacer(copy=True).place(src, tmp_path / "out" / "x.jpg")
    assert list((tmp_path / "out").iterdir()) == []  # neither x.jpg nor its temporary
