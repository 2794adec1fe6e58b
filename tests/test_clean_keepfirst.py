"""Keep-first while the scan streams gives exactly what keep-first after the set-level checks gives."""

from __future__ import annotations

import random

import numpy as np

from zqvl.data.clean.config import load_config
from zqvl.data.clean.copies import copied_answers
from zqvl.data.clean.decisions import Decision
from zqvl.data.clean.dedupe import dedupe_indexes
from zqvl.data.clean.keepfirst import StreamingKeepFirst, keep_first
from zqvl.data.clean.registry import Reason

CONFIG = load_config()
BASES = [
    "黄昏时分热闹的街头集市，一串串暖黄色的灯泡照亮了四周，两旁的摊位出售水果和烤串。",
    "一位穿红色外套的女人站在公交车站旁，手里拿着一把透明的雨伞，身后是一排高楼。",
    "厨房的木桌上放着一碗拉面，上面有溏心蛋、葱花和两片叉烧，旁边是一双筷子。",
]
ENGLISH = ["a busy street market at dusk", "a woman waits at a bus stop", "a bowl of ramen on a table"]


def _record(rng: random.Random) -> dict:
    """One record's index inputs: answers that nearly repeat, repeat exactly or differ; images from a few
    pictures (with a bit flipped now and then); the same Chinese under the same or other English."""
    base = rng.randrange(len(BASES))
    answer = BASES[base]
    if rng.random() < 0.4:
        answer = answer.replace("，", "。", 1) + rng.choice(["", "画面很清晰。", "远处有山。"])
    elif rng.random() < 0.3:
        answer = f"第{rng.randrange(3)}张：" + answer  # other numbers: never a duplicate
    picture = rng.randrange(4)
    h = (0x0123456789ABCDEF * (picture + 1)) & (2**64 - 1)
    if rng.random() < 0.3:
        h ^= 1 << rng.randrange(64)
    colour = np.full((4, 4, 3), 40.0 * picture, dtype=np.float32)
    english = ENGLISH[base] if rng.random() < 0.6 else rng.choice(ENGLISH)
    return {"answer": answer, "image": (f"{rng.randrange(30)}.jpg",), "sig": (h, colour), "copy": (english,)}


def _indexes():
    answers, images = dedupe_indexes(CONFIG)
    return answers, images, copied_answers(CONFIG)


def _offer(i, rec, answers, images, copies):
    """What the runner's _decide gives the indexes for a record that passed everything so far."""
    answers.store([i], [rec["answer"]])
    images.remember(i, rec["image"], [rec["sig"]])
    key = rec["answer"].encode()[:8]  # stands in for the hash of the normalised answer
    copies.remember(i, (key, rec["copy"][0]))


def _outcome(decisions):
    return [[(r, r.detail) for r in d.reasons] for d in decisions]


def _late(d: Decision) -> None:
    d.reasons.append(Reason("truncation.length_outlier", "turn 1: ratio 0.30"))


def test_streaming_keep_first_equals_keep_first_after_the_set_level_checks():
    reran = kept_as_is = 0
    found: set[str] = set()
    for seed in range(60):
        rng = random.Random(seed)
        records = [_record(rng) for _ in range(40)]
        failed = {i for i in range(40) if rng.random() < 0.1}  # per-record reasons: never offered
        late = {i for i in range(40) if i not in failed and rng.random() < 0.15}  # rejected by set-level checks

        reference = [Decision(i, f"r{i}", [Reason("junk.markup", "x")] if i in failed else []) for i in range(40)]
        answers, images, copies = _indexes()
        for i, rec in enumerate(records):
            if i not in failed:
                _offer(i, rec, answers, images, copies)
        for i in late:
            _late(reference[i])
        keep_first(reference, answers, images, copies)

        streamed = [Decision(i, f"r{i}", [Reason("junk.markup", "x")] if i in failed else []) for i in range(40)]
        answers, images, copies = _indexes()
        deduper = StreamingKeepFirst(streamed, answers, images, copies)
        for i, rec in enumerate(records):
            if i not in failed:
                _offer(i, rec, answers, images, copies)
            deduper.add(streamed[i])
        was_kept = {i: streamed[i].kept for i in late}
        for i in late:
            _late(streamed[i])
        deduper.finish(was_kept)

        assert _outcome(streamed) == _outcome(reference), seed
        found.update(r for d in reference for r in d.reasons)
        reran += deduper.reran
        kept_as_is += not deduper.reran
    assert reran >= 10 and kept_as_is >= 10  # both ways of finishing were taken
    assert {"dedupe.answer", "dedupe.image", "dedupe.copied_answer"} <= found


def test_a_late_rejected_record_that_made_another_a_duplicate_gives_way_to_it():
    answers, images, copies = _indexes()
    decisions = [Decision(0, "a"), Decision(1, "b"), Decision(2, "c")]
    deduper = StreamingKeepFirst(decisions, answers, None, None)
    for i, text in enumerate([BASES[0], BASES[0] + "画面很清晰。", BASES[1]]):
        answers.store([i], [text])
        deduper.add(decisions[i])
    assert decisions[1].reasons == ["dedupe.answer"]  # while streaming, a counts as kept
    _late(decisions[0])
    deduper.finish({0: True})
    assert deduper.reran and decisions[0].reasons == ["truncation.length_outlier"]
    assert decisions[1].kept and decisions[2].kept


def test_a_late_rejected_duplicate_loses_its_dedupe_reason_without_a_rerun():
    answers, _, _ = _indexes()
    decisions = [Decision(0, "a"), Decision(1, "b")]
    deduper = StreamingKeepFirst(decisions, answers, None, None)
    for i in range(2):
        answers.store([i], [BASES[2]])
        deduper.add(decisions[i])
    _late(decisions[1])
    deduper.finish({1: False})
    assert not deduper.reran and decisions[0].kept and decisions[1].reasons == ["truncation.length_outlier"]


def _stream_copies(ids: str, englishes: list[str]) -> tuple[list[Decision], StreamingKeepFirst]:
    """Records with the same Chinese answer under these English sources, streamed; the first is then rejected late."""
    _, _, copies = _indexes()
    decisions = [Decision(i, rid) for i, rid in enumerate(ids)]
    deduper = StreamingKeepFirst(decisions, None, None, copies)
    for i, english in enumerate(englishes):
        copies.remember(i, (b"same-zh", english))
        deduper.add(decisions[i])
    return decisions, deduper


def _reject_first_late(decisions: list[Decision], deduper: StreamingKeepFirst) -> None:
    _late(decisions[0])
    deduper.finish({0: True})


def test_a_late_rejected_copy_entry_hands_its_place_to_the_next_kept_answer():
    """a holds the entry for its Chinese; b (same English) is no copy and is not stored; c (other English) is a
    copy of a while streaming. With a rejected late, b holds the entry and c is b's copy."""
    decisions, deduper = _stream_copies("abc", ["a bowl of ramen", "a bowl of ramen", "a plate of sushi rolls"])
    assert "kept record 'a'" in decisions[2].reasons[0].detail
    _reject_first_late(decisions, deduper)
    assert deduper.reran and decisions[1].kept
    assert decisions[2].reasons == ["dedupe.copied_answer"] and "kept record 'b'" in decisions[2].reasons[0].detail


def test_an_entry_that_only_hid_a_later_answer_counts_as_deciding():
    """x and y are no copies of a (their English is close to a's), but y is a copy of x: once a is rejected
    late, x holds the entry that y is compared with."""
    decisions, deduper = _stream_copies("axy", ["red bowl ramen egg", "red bowl ramen onion", "red bowl egg noodles"])
    assert all(d.kept for d in decisions)
    _reject_first_late(decisions, deduper)
    assert deduper.reran and decisions[1].kept
    assert decisions[2].reasons == ["dedupe.copied_answer"] and "kept record 'x'" in decisions[2].reasons[0].detail
