"""`zqvl-data attach-source`: give an already-translated set its English `source`, turn by turn, by record id.

Sets such as LinkSoul's Chinese LLaVA data were machine-translated elsewhere and arrive without their English,
so clean can run only its monolingual checks on them. Their ids are LLaVA's, so the English record is found by
id (the k-th record with an id in DIR matches the k-th with that id in EN). Within a record, turns are grouped
into rounds (a question and its answers); a translation may keep only some rounds of a conversation (LinkSoul's
Instruct set does), so the translated rounds are aligned to an in-order subset of the English ones by what
survives translation: `<image>` tags, digits, Latin words (names, OCR text, units) and a plausible length ratio.

Every record of DIR is written to DIR2/chat.json in input order; one whose English cannot be lined up (no such
id, more rounds than the English, roles or `<image>` tags that differ) keeps no source and is listed in
DIR2/mismatches.jsonl `{id, index, reason, detail}` (exit 1), so nothing is lost and nothing is guessed.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from zqvl.data.io import FilePlacer, ImageRoot, JsonlWriter, RecordListWriter, chat_json, iter_records, safe_image_path
from zqvl.data.outdir import claim, staged
from zqvl.data.schema import HUMAN, IMAGE_TAG, SYSTEM, Record, SchemaError, Turn
from zqvl.errors import UsageError
from zqvl.progress import NULL, Progress

COMMAND = "zqvl-data attach-source"
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_LATIN = re.compile(r"[A-Za-z][A-Za-z'\-]+")
ZH_PER_EN_CHAR = 0.45  # Chinese characters per English character, typical of translated chat data


@dataclass
class AttachStats:
    records: int = 0
    attached: int = 0  # every turn has its source
    partial: int = 0  # the translation kept a subset of the English rounds; those got their source
    turns: int = 0  # turns given a source
    listed: Counter = field(default_factory=Counter)  # reason -> records left without source


def rounds(turns: list[Turn]) -> list[list[Turn]]:
    """A leading system turn alone, then each human turn with the answers that follow it."""
    out: list[list[Turn]] = []
    for turn in turns:
        if turn.role in (HUMAN, SYSTEM) or not out or out[-1][0].role == SYSTEM:
            out.append([turn])
        else:
            out[-1].append(turn)
    return out


def _cues(text: str) -> tuple[Counter, set[str], int]:
    return Counter(_DIGITS.findall(text)), {w.lower() for w in _LATIN.findall(text)}, len(text)


def turn_score(zh: Turn, en: Turn) -> float | None:
    """How well a translated turn matches an English one; None when they cannot be the same turn."""
    if zh.role != en.role or zh.value.count(IMAGE_TAG) != en.value.count(IMAGE_TAG):
        return None
    (zd, zw, zn), (ed, ew, en_len) = _cues(zh.value), _cues(en.value)
    shared = sum((zd & ed).values()) + len(zw & ew)
    missing = sum((zd - ed).values()) + len(zw - ew)  # digits and words the English does not have
    ratio = max(zn, 1) / max(en_len * ZH_PER_EN_CHAR, 1)
    return 2.0 * shared - 1.0 * missing - abs(math.log(ratio))


def round_score(zh: list[Turn], en: list[Turn]) -> float | None:
    if len(zh) != len(en):
        return None
    total = 0.0
    for a, b in zip(zh, en):
        s = turn_score(a, b)
        if s is None:
            return None
        total += s
    return total


def align(zh: list[list[Turn]], en: list[list[Turn]]) -> list[int] | None:
    """Indices of the English rounds the translated ones came from (increasing), best total score; None when
    no in-order assignment fits. Equal scores prefer earlier English rounds (a kept prefix is the usual case)."""
    n, m = len(zh), len(en)
    if n > m:
        return None
    neg = -math.inf
    # best[i][j]: best score of zh[:i] placed within en[:j]
    best = [[neg] * (m + 1) for _ in range(n + 1)]
    took = [[False] * (m + 1) for _ in range(n + 1)]
    best[0] = [0.0] * (m + 1)
    for i in range(1, n + 1):
        for j in range(i, m + 1):
            skip = best[i][j - 1]
            s = round_score(zh[i - 1], en[j - 1])
            use = best[i - 1][j - 1] + s if s is not None and best[i - 1][j - 1] > neg else neg
            best[i][j], took[i][j] = (use, True) if use > skip else (skip, False)
    if best[n][m] == neg:
        return None
    picked, i, j = [], n, m
    while i > 0:
        if took[i][j]:
            picked.append(j - 1)
            i -= 1
        j -= 1
    return picked[::-1]


def attach(zh: Record, en: Record) -> tuple[list[Turn] | None, str, str]:
    """(turns with source, "", "") or (None, reason, detail)."""
    zr, er = rounds(zh.turns), rounds(en.turns)
    if len(zr) > len(er):
        return None, "turns.more_than_english", f"{len(zr)} rounds here, {len(er)} in the English"
    picked = align(zr, er)
    if picked is None:
        tags = [t.value.count(IMAGE_TAG) for t in zh.turns], [t.value.count(IMAGE_TAG) for t in en.turns]
        if sum(tags[0]) != sum(tags[1]):
            return None, "image_tags.differ", f"{sum(tags[0])} <image> tag(s) here, {sum(tags[1])} in the English"
        return None, "turns.differ", "no in-order match of roles, turn counts and <image> tags with the English"
    turns = []
    for zround, j in zip(zr, picked):
        for z, e in zip(zround, er[j]):
            turns.append(Turn(z.role, z.value, source=z.source or e.value, extra=z.extra, raw_role=z.raw_role))
    return turns, "", ""


def load_english(path: Path) -> dict[str, list[Record]]:
    by_id: dict[str, list[Record]] = defaultdict(list)
    errors: list[tuple[int, SchemaError]] = []
    for record in iter_records(path, errors):
        by_id[str(record.id)].append(record)
    if errors and not by_id:
        raise UsageError(f"--english {path}: no readable record ({errors[0][1]})")
    return by_id


def attach_source(
    data_dir: str | Path,
    english: str | Path,
    out_dir: str | Path,
    progress: Progress = NULL,
    force: bool = False,
) -> AttachStats:
    chat, out = chat_json(data_dir), Path(out_dir)
    source_dir = chat.parent
    if out.exists() and out.resolve() == source_dir.resolve():
        raise UsageError(f"--out {out} is the input directory; attach-source never writes over its input")
    try:
        en_chat = chat_json(english)
    except UsageError as e:
        raise UsageError(f"--english {e}") from None
    claim(out, COMMAND, input_dir=source_dir, force=force)
    en = load_english(en_chat)
    stats, seen = AttachStats(), Counter()
    errors: list[tuple[int, SchemaError]] = []
    progress.stage("attach", None)
    with staged(out, COMMAND, source_dir) as tmp:
        (tmp / "images").mkdir()
        root, placer = ImageRoot(source_dir / "images"), FilePlacer()
        with RecordListWriter(tmp / "chat.json") as kept, JsonlWriter(tmp / "mismatches.jsonl") as listed:
            for record in iter_records(chat, errors):
                stats.records += 1
                rid = str(record.id)
                k, seen[rid] = seen[rid], seen[rid] + 1
                matches = en.get(rid, [])
                if k >= len(matches):
                    turns, reason = None, "id.not_in_english"
                    detail = f"no English record with id {rid!r}" + (f" (only {len(matches)})" if matches else "")
                else:
                    turns, reason, detail = attach(record, matches[k])
                if turns is None:
                    listed.write({"id": record.id, "index": record.index, "reason": reason, "detail": detail})
                    stats.listed[reason] += 1
                else:
                    with_source = sum(t.source is not None for t in turns)
                    stats.turns += with_source
                    if len(rounds(turns)) < len(rounds(matches[k].turns)):
                        stats.partial += 1
                    else:
                        stats.attached += 1
                    record.turns = turns
                kept.write(record)
                for rel in record.images:  # images travel with their record; validate judges missing ones
                    src, problem = root.resolve(rel)
                    if problem is None:
                        placer.place(src, safe_image_path(str(tmp / "images"), rel))
                progress.advance()
        if errors:
            index, error = errors[0]
            raise UsageError(f"{chat}: record #{index} is not a valid record ({error}); validate it first")
    return stats
