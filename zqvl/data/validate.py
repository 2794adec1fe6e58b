"""`zqvl-data validate`: every check on a canonical DIR, one pass over chat.json, images in a worker pool.

Codes are data (CODES below): each has a level. Errors make the run exit 1; warnings are reported only.
"""
from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from zqvl.data.imagecheck import ImageLimits, check_images
from zqvl.data.io import chat_json, iter_json_values, safe_image_path
from zqvl.data.schema import GPT, HUMAN, IMAGE_TAG, Record, SchemaError, parse_record
from zqvl.progress import NULL, Progress

ERROR, WARNING = "error", "warning"
CODES: dict[str, tuple[str, str]] = {
    "not_object": (ERROR, "record is not a JSON object"),
    "missing_id": (ERROR, "record has no usable id"),
    "bad_image_field": (ERROR, "'image' is not a string or list of strings"),
    "missing_conversations": (ERROR, "no conversations list"),
    "bad_turn": (ERROR, "a turn is not {from, value} with string values"),
    "unknown_role": (ERROR, "role other than human/gpt (user/assistant)"),
    "role_order": (ERROR, "roles do not alternate human, gpt, ... ending with gpt"),
    "empty_value": (ERROR, "a turn has an empty value"),
    "image_tag_count": (ERROR, "number of <image> tags differs from number of images"),
    "image_tag_in_answer": (ERROR, "<image> tag inside an assistant turn"),
    "image_tag_mangled": (WARNING, "something that looks like a broken <image> tag"),
    "path_escape": (ERROR, "image path is absolute or leaves DIR/images"),
    "image_missing": (ERROR, "image file does not exist"),
    "image_empty": (ERROR, "image file is 0 bytes"),
    "image_corrupt": (ERROR, "image cannot be decoded (corrupt or truncated)"),
    "image_bomb": (ERROR, "image has too many pixels (decompression bomb)"),
    "image_tiny": (ERROR, "image is too small to be useful"),
    "duplicate_id": (ERROR, "id used by an earlier record"),
    "duplicate_image": (WARNING, "image file has the same bytes as another record's image"),
    "too_long": (ERROR, "tokenized conversation exceeds --max-len: answers would be cut"),
}
# Near-misses of <image> that break the placeholder silently (the exact tag itself is skipped).
MANGLED_TAG = re.compile(r"<\s*/?\s*(?:image|图像|图片|影像)\s*>|&lt;image&gt;|\[image\]", re.IGNORECASE)


@dataclass
class Issue:
    id: str
    level: str
    code: str
    message: str


@dataclass
class TokenBudget:
    tokenizer: object
    max_len: int
    image_tokens: int
    system: str | None = None


@dataclass
class ValidationResult:
    records: int = 0
    images: int = 0
    issues: list[Issue] = field(default_factory=list)

    def add(self, rid: str, code: str, message: str) -> None:
        self.issues.append(Issue(rid, CODES[code][0], code, message))

    @property
    def counts(self) -> Counter:
        return Counter(i.code for i in self.issues)

    @property
    def errors(self) -> int:
        return sum(1 for i in self.issues if i.level == ERROR)

    def bad_records(self) -> int:
        return len({i.id for i in self.issues if i.level == ERROR})

    def to_jsonl_rows(self):
        return (asdict(i) for i in self.issues)


def check_record(rec: Record) -> list[tuple[str, str]]:
    """Structure checks that need only the record: list of (code, message)."""
    found: list[tuple[str, str]] = []
    for i, t in enumerate(rec.turns):
        if t.role not in (HUMAN, GPT):
            found.append(("unknown_role", f"turn {i} has role {t.role!r}"))
    roles = [t.role for t in rec.turns]
    expected = [HUMAN if i % 2 == 0 else GPT for i in range(len(roles))]
    if not found and (roles != expected or roles[-1] != GPT):
        where = next((i for i, (a, b) in enumerate(zip(roles, expected)) if a != b), None)
        why = (f"turn {where} is {roles[where]}, expected {expected[where]}" if where is not None
               else "last turn is human: the question has no answer")
        found.append(("role_order", why))
    for i, t in enumerate(rec.turns):
        if not t.value.replace(IMAGE_TAG, "").strip() and not (t.role == HUMAN and IMAGE_TAG in t.value):
            found.append(("empty_value", f"turn {i} ({t.role}) is empty"))
        if t.role == GPT and IMAGE_TAG in t.value:
            found.append(("image_tag_in_answer", f"turn {i} (gpt) contains {IMAGE_TAG}"))
        mangled = [m for m in MANGLED_TAG.findall(t.value) if m != IMAGE_TAG]
        if mangled:
            found.append(("image_tag_mangled", f"turn {i} contains {mangled[0]!r}"))
    tags = rec.image_tag_count()
    if tags != len(rec.images):
        found.append(("image_tag_count", f"{tags} {IMAGE_TAG} tag(s) but {len(rec.images)} image(s)"))
    return found


def token_overflow(rec: Record, budget: TokenBudget) -> str | None:
    """Message naming the turn where a --max-len cut would fall, or None when the record fits."""
    from zqvl.data.template import DEFAULT_SYSTEM, segments

    segs = segments(rec, budget.system if budget.system is not None else DEFAULT_SYSTEM)
    # <image> is one special token: text on either side of it is tokenized separately, as in training.
    pieces = [seg.text.split(IMAGE_TAG) for seg in segs]
    flat = [p for parts in pieces for p in parts]
    lengths = iter(len(ids) for ids in budget.tokenizer(flat, add_special_tokens=False)["input_ids"])
    costs = [sum(next(lengths) for _ in parts) + (len(parts) - 1) * budget.image_tokens for parts in pieces]
    total = sum(costs)
    if total <= budget.max_len:
        return None
    running = 0
    for seg, cost in zip(segs, costs):
        running += cost
        if running > budget.max_len:
            role = rec.turns[seg.turn].role if seg.turn >= 0 else "system"
            return (f"{total} tokens > max-len {budget.max_len}; the cut falls in turn {seg.turn} ({role})"
                    + (": an answer would be truncated" if role == GPT else ""))
    return None


def validate_dir(data_dir: str | Path, *, workers: int = 1, limits: ImageLimits = ImageLimits(),
                 budget: TokenBudget | None = None, progress: Progress = NULL) -> ValidationResult:
    """Run every check on DIR, reporting to `progress` by stage (records, images)."""
    data_dir = Path(data_dir)
    path = chat_json(data_dir)
    images_dir = (data_dir if data_dir.is_dir() else data_dir.parent) / "images"
    images_prefix = str(images_dir) + os.sep
    result = ValidationResult()
    seen_ids: set[str] = set()
    refs: dict[str, list[str]] = defaultdict(list)   # image file -> ids of records using it

    progress.stage("records")
    for index, value in enumerate(iter_json_values(path)):
        result.records += 1
        progress.advance()
        try:
            rec = parse_record(value, index)
        except SchemaError as e:
            rid = value.get("id") if isinstance(value, dict) and isinstance(value.get("id"), str) else f"#{index}"
            result.add(rid or f"#{index}", e.code, str(e))
            continue
        rid = rec.id
        if rid in seen_ids:
            result.add(rid, "duplicate_id", f"id {rid!r} repeats (record #{index})")
        seen_ids.add(rid)
        for code, message in check_record(rec):
            result.add(rid, code, message)
        for rel in rec.images:
            path = safe_image_path(images_prefix, rel)
            if path is None:
                result.add(rid, "path_escape", f"image path {rel!r} is absolute or contains '..'")
            else:
                refs[path].append(rid)
        if budget is not None:
            msg = token_overflow(rec, budget)
            if msg:
                result.add(rid, "too_long", msg)

    result.images = len(refs)
    by_digest: dict[str, str] = {}
    checked = []
    progress.stage("images", len(refs))
    for res in check_images(list(refs), limits, workers):
        progress.advance()
        checked.append(res)
    for res in sorted(checked, key=lambda r: r.path):  # sorted: the first of duplicate files is stable
        rel = os.path.relpath(res.path, images_dir)
        if res.code:
            for rid in refs[res.path]:
                result.add(rid, res.code, f"image {rel!r}: {res.message}")
            continue
        first = by_digest.setdefault(res.digest, res.path)
        if first != res.path:
            for rid in refs[res.path]:
                result.add(rid, "duplicate_image",
                           f"image {rel!r} has the same bytes as {os.path.relpath(first, images_dir)!r}")
    return result
