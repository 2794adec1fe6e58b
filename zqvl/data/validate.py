"""`zqvl-data validate`: every check on a canonical DIR, one pass over chat.json, images in a worker pool.

The checks and their codes are zqvl.data.checks (CODES gives each code's level): errors make the run exit 1;
warnings are reported only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from zqvl.data.checks import CODES, ERROR, SeenIds, record_checks, schema_reason
from zqvl.data.imagecheck import ImageLimits, check_images
from zqvl.data.io import ImageRoot, chat_json, iter_json_values
from zqvl.data.schema import GPT, IMAGE_TAG, Record, SchemaError, parse_record
from zqvl.progress import NULL, Progress


@dataclass
class Issue:
    id: str
    level: str
    code: str
    message: str
    index: int  # the record's position in chat.json: ids can repeat (structure.duplicate_id)


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

    def add(self, rid: str, index: int, code: str, message: str) -> None:
        self.issues.append(Issue(rid, CODES[code].level, code, message, index))

    @property
    def counts(self) -> Counter:
        return Counter(i.code for i in self.issues)

    @property
    def errors(self) -> int:
        return sum(1 for i in self.issues if i.level == ERROR)

    def bad_records(self) -> int:
        return len({i.index for i in self.issues if i.level == ERROR})

    def to_jsonl_rows(self):
        return (asdict(i) for i in self.issues)


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
            return f"{total} tokens > max-len {budget.max_len}; the cut falls in turn {seg.turn} ({role})" + (
                ": an answer would be truncated" if role == GPT else ""
            )
    return None


def _pair(reason) -> tuple[str, str]:
    return str(reason), reason.detail


def validate_dir(
    data_dir: str | Path,
    *,
    workers: int = 1,
    limits: ImageLimits = ImageLimits(),
    budget: TokenBudget | None = None,
    progress: Progress = NULL,
) -> ValidationResult:
    """Run every check on DIR, reporting to `progress` by stage (records, images)."""
    data_dir = Path(data_dir)
    path = chat_json(data_dir)
    images_dir = (data_dir if data_dir.is_dir() else data_dir.parent) / "images"
    root = ImageRoot(images_dir)
    result = ValidationResult()
    seen_ids = SeenIds()
    refs: dict[str, list[tuple[str, int]]] = defaultdict(list)  # image file (real path) -> (id, index) using it
    names: dict[str, str] = {}  # image file -> the first image path naming it

    progress.stage("records")
    for index, value in enumerate(iter_json_values(path)):
        result.records += 1
        progress.advance()
        try:
            rec = parse_record(value, index)
        except SchemaError as e:
            rid = value.get("id") if isinstance(value, dict) and isinstance(value.get("id"), str) else f"#{index}"
            result.add(rid or f"#{index}", index, *_pair(schema_reason(e)))
            continue
        rid = rec.id
        for reason in seen_ids.check(rid, index) + record_checks(rec):
            result.add(rid, index, *_pair(reason))
        for rel in rec.images:
            path, problem = root.resolve(rel)
            if problem:
                code, message = problem
                result.add(rid, index, code, f"image {rel!r}: file not found" if code == "image.missing" else message)
            else:
                names.setdefault(path, rel)
                refs[path].append((rid, index))
        if budget is not None:
            msg = token_overflow(rec, budget)
            if msg:
                result.add(rid, index, "tokens.too_long", msg)

    result.images = len(refs)
    by_digest: dict[str, str] = {}
    checked = []
    progress.stage("images", len(refs))
    for res in check_images(list(refs), limits, workers):
        progress.advance()
        checked.append(res)
    for res in sorted(checked, key=lambda r: r.path):  # sorted: the first of duplicate files is stable
        rel = names[res.path]
        if res.code:
            for rid, index in refs[res.path]:
                result.add(rid, index, res.code, f"image {rel!r}: {res.message}")
            continue
        first = by_digest.setdefault(res.digest, res.path)
        if first != res.path:
            for rid, index in refs[res.path]:
                result.add(rid, index, "image.same_bytes", f"image {rel!r} has the same bytes as {names[first]!r}")
    return result
