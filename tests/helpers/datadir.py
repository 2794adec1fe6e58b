"""Build small canonical data dirs for tests: real JPEG/PNG files made with Pillow."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image


def jpeg_bytes(size=(64, 48), colour=(200, 30, 30), quality=90) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png_bytes(size=(64, 48), colour=(30, 200, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def qa(question="这是什么？", answer="一个红色的方块。", image=True) -> list[dict]:
    return [{"from": "human", "value": ("<image>\n" if image else "") + question}, {"from": "gpt", "value": answer}]


def record(rid: str, image: str | list | None = "a.jpg", conversations=None) -> dict:
    r = {"id": rid}
    if image is not None:
        r["image"] = image
    r["conversations"] = conversations if conversations is not None else qa(image=image is not None)
    return r


def make_dir(root: Path, records: list, images: dict[str, bytes] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    for name, data in (images or {}).items():
        p = root / "images" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (root / "chat.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return root
