"""The canonical record (design.md) as typed objects, parsed tolerantly from what real data sets contain.

Tolerated in the wild: `image` as a string, a list or absent (also `images`); roles `human/gpt` or
`user/assistant`; keys `from/value` or `role/content`; extra keys anywhere (kept and written back).
Anything that cannot be read as a record raises SchemaError with a code and a one-line message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

IMAGE_TAG = "<image>"
HUMAN, GPT = "human", "gpt"
ROLE_ALIASES = {"human": HUMAN, "user": HUMAN, "gpt": GPT, "assistant": GPT}


class SchemaError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class Turn:
    role: str  # canonical "human"/"gpt", or the raw role string if unknown
    value: str
    source: str | None = None  # the English original on translated records
    extra: dict[str, Any] = field(default_factory=dict)
    raw_role: str | None = None  # as written, when it differed from the canonical name

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"from": self.role, "value": self.value}
        if self.source is not None:
            d["source"] = self.source
        d.update(self.extra)
        return d


@dataclass
class Record:
    id: str
    images: list[str]
    turns: list[Turn]
    extra: dict[str, Any] = field(default_factory=dict)
    image_is_list: bool = False  # keep the input's form when writing back
    index: int = -1  # position in the input file, for messages

    @property
    def label(self) -> str:
        return self.id if self.id else f"#{self.index}"

    @property
    def has_source(self) -> bool:
        return any(t.source is not None for t in self.turns)

    def image_tag_count(self) -> int:
        return sum(t.value.count(IMAGE_TAG) for t in self.turns)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id}
        if self.images:
            d["image"] = list(self.images) if (self.image_is_list or len(self.images) > 1) else self.images[0]
        d["conversations"] = [t.to_json() for t in self.turns]
        d.update(self.extra)
        return d


def _parse_turn(obj: Any, record_label: str, i: int) -> Turn:
    if not isinstance(obj, dict):
        raise SchemaError("bad_turn", f"{record_label}: turn {i} is {type(obj).__name__}, expected an object")
    obj = dict(obj)
    raw_role = obj.pop("from", None) if "from" in obj else obj.pop("role", None)
    value = obj.pop("value", None) if "value" in obj else obj.pop("content", None)
    if not isinstance(raw_role, str):
        raise SchemaError("bad_turn", f"{record_label}: turn {i} has no string 'from'/'role'")
    if not isinstance(value, str):
        raise SchemaError("bad_turn", f"{record_label}: turn {i} 'value' is {type(value).__name__}, expected a string")
    source = obj.pop("source", None)
    if source is not None and not isinstance(source, str):
        raise SchemaError("bad_turn", f"{record_label}: turn {i} 'source' is not a string")
    role = ROLE_ALIASES.get(raw_role.strip().lower(), raw_role)
    return Turn(role=role, value=value, source=source, extra=obj, raw_role=raw_role if raw_role != role else None)


@dataclass(frozen=True)
class Unparsable:
    """A chat.json element that is JSON but cannot be a record (io.iter_json_values says why): parse_record
    raises SchemaError('bad_json') for it, so every record loop skips and names it like any bad record."""

    problem: str


def printable_id(rid: str) -> str:
    """An id as it may appear in a one-line message: itself, or its repr when it holds newlines or controls."""
    return rid if rid.isprintable() else repr(rid)


def record_label(obj: Any, index: int) -> str:
    """How messages name a raw record: its id when it has a usable one, else `#index` (its position)."""
    rid = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(rid, int) and not isinstance(rid, bool):
        rid = str(rid)
    return printable_id(rid) if isinstance(rid, str) and rid.strip() else f"#{index}"


def parse_record(obj: Any, index: int = -1) -> Record:
    """One JSON value -> Record, or SchemaError naming the record and the problem."""
    if isinstance(obj, Unparsable):
        raise SchemaError("bad_json", f"#{index}: {obj.problem}")
    if not isinstance(obj, dict):
        raise SchemaError("not_object", f"#{index}: record is {type(obj).__name__}, expected an object")
    obj = dict(obj)
    rid = obj.pop("id", None)
    if isinstance(rid, int) and not isinstance(rid, bool):
        rid = str(rid)
    if not isinstance(rid, str) or not rid.strip():
        raise SchemaError("missing_id", f"#{index}: record has no usable 'id' (got {rid!r:.40})")
    label = printable_id(rid)
    image_is_list = False
    images_raw = obj.pop("image", None) if "image" in obj else obj.pop("images", None)
    if images_raw is None:
        images: list[str] = []
    elif isinstance(images_raw, str):
        images = [images_raw] if images_raw else []
    elif isinstance(images_raw, list) and all(isinstance(p, str) for p in images_raw):
        images, image_is_list = list(images_raw), True
    else:
        raise SchemaError("bad_image_field", f"{label}: 'image' must be a string or a list of strings")
    convs = obj.pop("conversations", None)
    if convs is None:
        convs = obj.pop("messages", None)
    if not isinstance(convs, list) or not convs:
        raise SchemaError("missing_conversations", f"{label}: 'conversations' missing, empty or not a list")
    turns = [_parse_turn(t, label, i) for i, t in enumerate(convs)]
    return Record(id=rid, images=images, turns=turns, extra=obj, image_is_list=image_is_list, index=index)
