"""Test data for the shard and stream tests: a canonical DIR with real (small, noisy) JPEGs and PNGs, every
record shape (single image, PNG, multi-image, text-only, nested path, ids with '.' and '/'), and optionally
records that cannot be sharded, each with the reason `zqvl-data shard` must give."""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from pathlib import Path

from PIL import Image

from zqvl.data.schema import parse_record


def noise_image(rng: random.Random, fmt: str, size: tuple[int, int]) -> bytes:
    im = Image.effect_noise(size, 60).convert("RGB")
    im.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)), (0, 0, size[0] // 3, size[1] // 3))
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A structurally valid PNG (correct CRCs) that claims a huge canvas: a decompression bomb's header."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small, complete JPEG whose frame header (SOF0) claims width x height."""
    raw = bytearray(noise_image(random.Random(0), "JPEG", (16, 16)))
    sof = raw.index(b"\xff\xc0")
    raw[sof + 5 : sof + 9] = struct.pack(">HH", height, width)  # marker, length(2), precision(1), then H, W
    return bytes(raw)


def _turns(rng: random.Random, tags: int) -> list[dict]:
    q = "<image>\n" * tags + rng.choice(["这张图片展示了什么？", "图中有几个人？", "请描述一下。"])
    return [
        {"from": "human", "value": q, "source": "<image>\n" * tags + "What is shown?"},
        {"from": "gpt", "value": "一只猫坐在窗台上。" * rng.randint(1, 3), "source": "A cat sits on a sill."},
    ]


def make_dataset(
    root: Path,
    n: int = 40,
    *,
    seed: int = 0,
    broken: bool = True,
    jpeg_only: bool = False,
    size: tuple[int, int] = (40, 30),
) -> dict:
    """Write root/chat.json + root/images/. Returns {"good": {id: canonical json}, "bad": {id: reason},
    "files": {rel path: bytes}}."""
    rng = random.Random(seed)
    images = root / "images"
    (images / "sub").mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}

    def image(rel: str, fmt: str) -> str:
        w, h = size[0] + rng.randrange(8), size[1] + rng.randrange(8)
        files[rel] = noise_image(rng, fmt, (w, h))
        (images / rel).write_bytes(files[rel])
        return rel

    values = []
    for i in range(n):
        kind = "jpg" if jpeg_only else ["jpg", "jpg", "png", "multi", "text", "nested", "jpg"][i % 7]
        rid = f"rec.{i:04d}/x" if i % 5 == 1 else f"rec_{i:04d}"
        if kind == "jpg":
            value = {"id": rid, "image": image(f"{i:04d}.jpg", "JPEG"), "conversations": _turns(rng, 1)}
        elif kind == "png":
            value = {"id": rid, "image": image(f"{i:04d}.png", "PNG"), "conversations": _turns(rng, 1)}
        elif kind == "multi":
            value = {
                "id": rid,
                "image": [image(f"{i:04d}a.jpg", "JPEG"), image(f"{i:04d}b.png", "PNG")],
                "conversations": _turns(rng, 2),
            }
        elif kind == "nested":
            value = {
                "id": rid,
                "image": image(f"sub/{i:04d}.jpg", "JPEG"),
                "conversations": _turns(rng, 1),
                "meta": {"origin": "nested"},
            }
        else:
            value = {"id": rid, "conversations": _turns(rng, 0)}
        values.append(value)
    bad: dict[str, str] = {}
    if broken:
        ok = image("fine.jpg", "JPEG")
        truncated = files[ok][: len(files[ok]) // 2]
        (images / "truncated.jpg").write_bytes(truncated)
        (images / "empty.jpg").write_bytes(b"")
        (images / "notes.jpg").write_bytes(b"<html>not an image</html>")
        cases = [
            ({"id": "bad_missing", "image": "nope.jpg", "conversations": _turns(rng, 1)}, "image.missing"),
            ({"id": "bad_truncated", "image": "truncated.jpg", "conversations": _turns(rng, 1)}, "image.unreadable"),
            ({"id": "bad_html", "image": "notes.jpg", "conversations": _turns(rng, 1)}, "image.unreadable"),
            ({"id": "bad_empty", "image": "empty.jpg", "conversations": _turns(rng, 1)}, "image.empty"),
            ({"id": "bad_escape", "image": "../chat.json", "conversations": _turns(rng, 1)}, "image.unsafe_path"),
            ({"id": "bad_tags", "image": ok, "conversations": _turns(rng, 2)}, "placeholder.count"),
            ({"id": "bad_schema", "image": ok}, "structure.missing_conversations"),
        ]
        for k, (value, reason) in enumerate(cases):
            values.insert(3 + k * (len(values) // len(cases)), value)
            bad[value["id"]] = reason
    with open(root / "chat.json", "w", encoding="utf-8") as fh:
        json.dump(values, fh, ensure_ascii=False, indent=1)
    good = {v["id"]: parse_record(v).to_json() for v in values if v["id"] not in bad}
    return {"good": good, "bad": bad, "files": files}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (hidden ones included) -> its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
