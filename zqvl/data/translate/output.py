"""Second pass: stream the input again and write DIR2 from the cache.

Every record ends in exactly one place: DIR2/chat.json (every turn translated, the English kept under
`source`) or DIR2/failed.jsonl (`{id, index, reasons, problems: [{turn, reason, detail}]}`), in input order.
Images are hard-linked (copied across filesystems) into DIR2/images before chat.json appears; each file and
chat.json itself appear atomically under their final names, so a reader never sees a half-written DIR2.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from zqvl.data.io import FilePlacer, ImageRoot, JsonlWriter, RecordListWriter, iter_json_values, safe_image_path
from zqvl.data.schema import Record, SchemaError, Turn, parse_record
from zqvl.data.translate.cache import TranslationCache, cache_key
from zqvl.data.translate.plan import Plan, VariantCounter, wants_translation
from zqvl.data.translate.stats import Stats
from zqvl.data.translate.translator import Outcome


class ImageLinker:
    """Carries each record's images into DIR2/images, each file once; missing ones are counted, not judged.
    A path that escapes images/ (as a string or through a symbolic link) or names no regular file fails
    the record: nothing outside images/ is ever linked into DIR2."""

    def __init__(self, src_dir: Path, dst_dir: Path, stats: Stats):
        self.src_dir, self.dst_dir, self.stats = src_dir, dst_dir, stats
        self._root = ImageRoot(src_dir)
        self._placer = FilePlacer()
        self._done: set[str] = set()

    def unsafe(self, record: Record) -> list[dict]:
        """The failed.jsonl problems of the record's image paths (none for a merely missing image)."""
        problems = []
        for rel in record.images:
            _, problem = self._root.resolve(rel)
            if problem and problem[0] != "image.missing":
                reason = "unsafe_image_path" if problem[0] == "image.unsafe_path" else "image_not_a_file"
                detail = f"{rel!r} escapes images/" if safe_image_path(self.src_dir, rel) is None else problem[1]
                problems.append({"turn": None, "reason": reason, "detail": detail})
        return problems

    def link(self, rel: str) -> None:
        if rel in self._done:
            return
        self._done.add(rel)
        src, problem = self._root.resolve(rel)
        if problem:  # missing: an unsafe path or a non-file failed the record
            self.stats.images_missing += 1  # validate/clean judge images; translate only carries them
            return
        self.stats.images_linked += 1
        self._placer.place(src, safe_image_path(self.dst_dir, rel))  # kept as is when an earlier run placed it


def _schema_failure(index: int, obj: object, error: SchemaError) -> dict:
    rid = obj.get("id") if isinstance(obj, dict) else None
    reason = f"schema_{error.code}"
    return {
        "id": rid if isinstance(rid, (str, int)) and not isinstance(rid, bool) else None,
        "index": index,
        "reasons": [reason],
        "problems": [{"turn": None, "reason": reason, "detail": str(error)}],
    }


def write_outputs(
    chat_path: Path,
    in_dir: Path,
    out_dir: Path,
    plan: Plan,
    cache: TranslationCache,
    failures: dict[str, Outcome],
    model: str,
    prompt_version: str,
    stats: Stats,
    limit: int | None = None,
) -> None:
    lookup = lru_cache(maxsize=1 << 16)(cache.get)  # repeated strings under --dedupe hit memory, not sqlite
    variants = VariantCounter(plan.dedupe)
    linker = ImageLinker(in_dir / "images", out_dir / "images", stats)
    with RecordListWriter(out_dir / "chat.json") as chat, JsonlWriter(out_dir / "failed.jsonl") as failed:
        for index, obj in enumerate(iter_json_values(chat_path)):
            if limit is not None and index >= limit:
                break
            try:
                record = parse_record(obj, index)
            except SchemaError as e:
                failed.write(_schema_failure(index, obj, e))
                stats.records_failed += 1
                continue
            problems, turns = [], []
            for i, turn in enumerate(record.turns):
                if not wants_translation(turn):
                    turns.append(turn)
                    continue
                source = turn.value
                if source in plan.passthrough:
                    value = source
                else:
                    key = cache_key(model, prompt_version, source, variants.next(source))
                    value = lookup(key)
                    if value is None:
                        why = failures.get(key) or Outcome(None, "not_translated", "no answer was obtained")
                        problems.append({"turn": i, "reason": why.reason, "detail": why.detail})
                turns.append(Turn(turn.role, value, source=source, extra=turn.extra, raw_role=turn.raw_role))
            problems += linker.unsafe(record)
            if problems:
                failed.write(
                    {
                        "id": record.id,
                        "index": record.index,
                        "reasons": sorted({p["reason"] for p in problems}),
                        "problems": problems,
                    }
                )
                stats.records_failed += 1
                continue
            for rel in record.images:
                linker.link(rel)
            record.turns = turns
            chat.write(record)
            stats.records_written += 1
    stats.records_in = stats.records_written + stats.records_failed
