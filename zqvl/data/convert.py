"""`zqvl-data convert`: raw sets -> canonical DIR (chat.json + images/).

Each format is a small reader `raw JSON value -> canonical dict` registered in READERS; the driver streams the
input, links (or copies) each image into DIR/images/, and accounts for every record it cannot convert in
DIR/skipped.jsonl. The whole DIR appears atomically: it is built under a temp name and renamed at the end.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zqvl.data.io import FilePlacer, ImageRoot, JsonlWriter, RecordListWriter, iter_json_values, safe_image_path
from zqvl.data.outdir import claim, staged
from zqvl.data.schema import IMAGE_TAG, SchemaError, Unparsable, parse_record
from zqvl.errors import UsageError
from zqvl.progress import NULL, Progress


class Skip(Exception):
    """A record that cannot be converted; the message is its reason (one line)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


# ---- format readers: raw value -> canonical dict (id, image?, conversations) -------------------------------


def _first_key(obj: dict, keys: tuple[str, ...]) -> str | None:
    return next((k for k in keys if k in obj), None)


def _layout_error(fmt: str, obj: Any, need: str) -> UsageError:
    found = ", ".join(sorted(obj)) if isinstance(obj, dict) else type(obj).__name__
    return UsageError(f"--format {fmt}: first record has no {need}; fields found: {found}")


def read_llava(obj: Any, index: int) -> dict:
    """LLaVA chat.json (CC3M-595K, Instruct-150K) and LinkSoul's Chinese sets: already conversation-shaped."""
    if not isinstance(obj, dict):
        raise Skip("not_object", f"record is {type(obj).__name__}")
    if _first_key(obj, ("conversations", "messages")) is None:
        raise (
            _layout_error("llava", obj, "'conversations'")
            if index == 0
            else Skip("missing_conversations", "no 'conversations'")
        )
    rec = dict(obj)
    if "id" not in rec:
        img = rec.get("image")
        rec["id"] = Path(img).stem if isinstance(img, str) and img else f"rec{index:08d}"
    return rec


SHAREGPT_IMAGE_KEYS = ("image", "images", "image_path", "img", "file_name", "filename")


def read_sharegpt4o(obj: Any, index: int) -> dict:
    """ShareGPT-4o: records with an image and conversations (from/value or role/content)."""
    if not isinstance(obj, dict):
        raise Skip("not_object", f"record is {type(obj).__name__}")
    conv_key = _first_key(obj, ("conversations", "messages", "conversation"))
    img_key = _first_key(obj, SHAREGPT_IMAGE_KEYS)
    if conv_key is None:
        raise (
            _layout_error("sharegpt-4o", obj, "conversations")
            if index == 0
            else Skip("missing_conversations", "no conversations")
        )
    rec = {k: v for k, v in obj.items() if k not in (conv_key, img_key)}
    rec["conversations"] = obj[conv_key]
    if img_key is not None:
        rec["image"] = obj[img_key]
    if "id" not in rec:
        img = rec.get("image")
        rec["id"] = Path(img).stem if isinstance(img, str) and img else f"sharegpt4o_{index:08d}"
    return rec


TEXTOCR_IMAGE_KEYS = ("filename", "file_name", "image", "image_id", "image_path", "img")
TEXTOCR_CAPTION_KEYS = ("caption", "gpt4o_caption", "text", "response", "description")
_SECTION = re.compile(r"^\W*(DESCRIPTION|TEXT)\W*:?\W*$", re.IGNORECASE | re.MULTILINE)
TEXTOCR_QUESTION = "<image>\nDescribe this image, then transcribe any text in it and say where it is."


def split_textocr_caption(caption: str) -> tuple[str, str | None]:
    """'DESCRIPTION\\n…\\n\\nTEXT\\n…' -> (description, text section verbatim or None)."""
    heads = list(_SECTION.finditer(caption))
    if not heads:
        return caption.strip(), None
    parts: dict[str, str] = {}
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(caption)
        parts.setdefault(m.group(1).upper(), caption[m.end() : end].strip("\n"))
    description = parts.get("DESCRIPTION", caption[: heads[0].start()]).strip()
    return description, parts.get("TEXT")


def read_textocr_gpt4o(obj: Any, index: int) -> dict:
    """TextOCR-GPT4o train.jsonl: image filename + a DESCRIPTION/TEXT caption -> one question/answer pair."""
    if not isinstance(obj, dict):
        raise Skip("not_object", f"record is {type(obj).__name__}")
    img_key, cap_key = _first_key(obj, TEXTOCR_IMAGE_KEYS), _first_key(obj, TEXTOCR_CAPTION_KEYS)
    if img_key is None or cap_key is None:
        need = "image filename" if img_key is None else "caption"
        raise _layout_error("textocr-gpt4o", obj, need) if index == 0 else Skip("bad_layout", f"no {need}")
    image, caption = obj[img_key], obj[cap_key]
    if not isinstance(image, str) or not image:
        raise Skip("bad_image_field", f"'{img_key}' is not a file name")
    if not isinstance(caption, str) or not caption.strip():
        raise Skip("empty_value", f"'{cap_key}' is empty")
    if "." not in Path(image).name:
        image += ".jpg"  # TextOCR image ids name .jpg files
    description, text = split_textocr_caption(caption)
    # The transcription is kept verbatim: it is what the image says, and later steps must not translate it.
    answer = description if text is None else f"{description}\n\nText in the image:\n{text}"
    extra = {k: v for k, v in obj.items() if k not in (img_key, cap_key, "id")}
    return {
        "id": str(obj.get("id") or Path(image).stem),
        "image": image,
        **extra,
        "conversations": [{"from": "human", "value": TEXTOCR_QUESTION}, {"from": "gpt", "value": answer}],
    }


READERS: dict[str, Callable[[Any, int], dict]] = {
    "llava": read_llava,
    "linksoul": read_llava,
    "sharegpt-4o": read_sharegpt4o,
    "textocr-gpt4o": read_textocr_gpt4o,
}


# ---- driver ---------------------------------------------------------------------------------------------------


@dataclass
class ConvertStats:
    read: int = 0
    written: int = 0
    images: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def default_image_root(src: Path) -> Path:
    """Where raw image paths are relative to: IN/images, IN's dir/images, or IN's dir."""
    base = src if src.is_dir() else src.parent
    return base / "images" if (base / "images").is_dir() else base


def find_input(src: Path, fmt: str) -> Path:
    if src.is_file():
        return src
    if src.is_dir():
        names = {"textocr-gpt4o": ["train.jsonl"]}.get(fmt, []) + ["chat.json", "train.json", "train.jsonl"]
        names += sorted(p.name for p in src.glob("*.json*"))
        for n in names:
            if (src / n).is_file():
                return src / n
    raise UsageError(f"{src}: no input file found for --format {fmt}")


COMMAND = "zqvl-data convert"


def convert(
    fmt: str,
    src: str | Path,
    out: str | Path,
    *,
    image_root: str | Path | None = None,
    copy: bool = False,
    overwrite: bool = False,
    progress: Progress = NULL,
) -> ConvertStats:
    if fmt not in READERS:
        raise UsageError(f"unknown --format {fmt!r}; choose from {', '.join(READERS)}")
    src, out = Path(src), Path(out)
    path = find_input(src, fmt)
    claim(out, COMMAND, input_dir=path, force=overwrite)
    root = Path(image_root) if image_root else default_image_root(src)
    if not root.is_dir():
        raise UsageError(f"--images {root}: no such directory (the dir raw image paths are relative to)")
    reader, stats = READERS[fmt], ConvertStats()
    with staged(out, COMMAND, path) as tmp:
        images, placer, sources = tmp / "images", FilePlacer(copy), ImageRoot(root)
        with RecordListWriter(tmp / "chat.json") as records, JsonlWriter(tmp / "skipped.jsonl") as skipped:
            for index, raw in enumerate(iter_json_values(path)):
                stats.read += 1
                try:
                    record = parse_record(raw if isinstance(raw, Unparsable) else reader(raw, index), index)
                    for rel in record.images:
                        # The real file, inside the image root: a link out of it is never linked into DIR.
                        source_path, problem = sources.resolve(rel)
                        if problem:
                            raise Skip(*problem)
                        placer.place(source_path, safe_image_path(images, rel))
                    if (
                        IMAGE_TAG not in "".join(t.value for t in record.turns)
                        and len(record.images) == 1
                        and record.dialogue
                    ):
                        first = record.dialogue[0]  # the question, after a leading system turn
                        first.value = f"{IMAGE_TAG}\n{first.value}"  # CC3M-style: tag implied
                    records.write(record)
                    stats.written += 1
                except (Skip, SchemaError) as e:
                    rid = raw.get("id") if isinstance(raw, dict) else None
                    code = e.code if "." in e.code else f"structure.{e.code}"  # the one code vocabulary
                    skipped.write({"index": index, "id": rid, "code": code, "message": str(e)})
                    stats.skipped[code] = stats.skipped.get(code, 0) + 1
                progress.advance()
        stats.images = sum(1 for p in images.rglob("*") if p.is_file()) if images.exists() else 0
        images.mkdir(exist_ok=True)
    return stats
