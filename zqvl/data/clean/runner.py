"""The clean pipeline: scan (per-record filters, stats, dedupe candidates) → decide (set-level checks) → write.

Stage 1 streams chat.json once: every record gets its per-record reasons, its measurements and, when it
passes, its answer and image signatures; meanwhile its output line goes to a spool and, when it passes, its
images are placed (both by the process that examined it). Stage 2 decides what needs the whole set: length
outliers against the set's own distribution, and keep-first near-duplicate removal (only a record that is
finally kept can make a later one a duplicate, so the indexes only ever hold kept records; it runs as stage 1
streams, and zqvl.data.clean.keepfirst makes it exact once the set-level checks are in). Stage 3 copies the
kept records' spool lines to chat.json, writes rejected.jsonl and takes back the images of records stage 2
rejected; everything is built in a staging directory that appears whole, and every input record lands in
exactly one of the two outputs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

from zqvl.data.checks import SeenIds
from zqvl.data.clean.copies import copied_answers
from zqvl.data.clean.decisions import Decision, Scan
from zqvl.data.clean.dedupe import dedupe_indexes
from zqvl.data.clean.examine import examined, few_collections, settle
from zqvl.data.clean.keepfirst import StreamingKeepFirst
from zqvl.data.clean.omission import align_gap
from zqvl.data.clean.registry import Reason
from zqvl.data.clean.reporting import SampleCollector, write_report
from zqvl.data.clean.stats import robust_center
from zqvl.data.io import (
    JsonlWriter,
    RecordListWriter,
    chat_json,
    iter_json_values,
    safe_image_path,
)
from zqvl.data.outdir import claim, staged
from zqvl.errors import UsageError
from zqvl.progress import NULL, Progress

__all__ = ["Decision", "Scan", "scan", "write_outputs", "clean"]

SPOOL = ".records.spool"  # in the staging directory, gone before it is swapped in


def scan(
    data_dir: str | Path,
    config: dict,
    progress: Progress = NULL,
    explain_id: str | None = None,
    workers: int = 1,
    out: Path | None = None,
) -> Scan:
    """Stages 1 and 2: per-record reasons, stats, dedupe signatures (zqvl.data.clean.examine, in `workers`
    processes), then, in input order here, repeated ids and the set-level decisions.

    With `out` (a fresh staging directory) the scan also prepares the output: each record's line goes to a
    spool there, and the images of records that pass the per-record checks are placed in out/images."""
    path = chat_json(data_dir)
    images_dir = path.parent / "images"
    result = Scan(path, images_dir, config)
    progress.stage("scan")
    answers, images = dedupe_indexes(config)
    copies = copied_answers(config)
    seen = SeenIds()
    place_into = None
    if out is not None:
        result.spool, place_into = out / SPOOL, str(out / "images")
    with few_collections():
        deduper = StreamingKeepFirst(result.decisions, answers, images, copies)
        with open(result.spool, "w", encoding="utf-8") if result.spool else nullcontext() as spool:
            for chunk in examined(iter_json_values(path), config, str(images_dir), workers, explain_id, place_into):
                for e in chunk:
                    if spool is not None:
                        spool.write(e.text + "\n")
                    result.decisions.append(_decide(e, result, seen, answers, images, copies))
                    deduper.add(result.decisions[-1])
                settle()
                progress.advance(len(chunk))
        before = [len(d.reasons) for d in result.decisions]
        _length_outliers(result, config["set_checks"]["length_outlier"])
        deduper.finish({d.index: n == 0 for d, n in zip(result.decisions, before) if len(d.reasons) != n})
    return result


def _decide(e, result: Scan, seen: SeenIds, answers, images, copies) -> Decision:
    """The Decision for one examined record, in input order: repeated ids here, and a record kept so far
    goes into the dedupe indexes (StreamingKeepFirst settles it next)."""
    if not e.parsed:
        result.stats.append(None)
        return Decision(e.index, e.id, e.reasons, placed=e.placed)
    decision = Decision(e.index, e.id, images=e.images, reasons=seen.check(e.id, e.index), placed=e.placed)
    decision.reasons += e.reasons
    if e.filter_errors:
        result.filter_errors.update(e.filter_errors)
    result.stats.append(e.stats)
    if decision.kept:
        if answers is not None and e.answer_sig is not None:
            answers.store_signed(e.index, e.answer_numbers, e.answer_sig)
        if copies is not None:
            copies.remember(e.index, e.copy_sig)
        if e.image_problem is not None:
            decision.reasons.append(e.image_problem)
        elif images is not None and e.image_sigs:
            images.remember(e.index, e.images, e.image_sigs)
    if e.record is not None and result.explained is None:
        result.explained = e.record
    return decision


def _length_outliers(result: Scan, params: dict) -> None:
    if not params["enabled"]:
        return
    turns = [(d, i, lr) for d, st in zip(result.decisions, result.stats) if st for i, lr in st.turn_log_ratios]
    flagged: dict[int, list[str]] = {}
    if len(turns) >= params["min_turns"]:
        median, sd = robust_center([lr for _, _, lr in turns])
        log_cut = min(median - params["max_z"] * sd, math.log(params["max_ratio"]))
        result.length_cut = {"median": median, "sd": sd, "log_cut": log_cut, "max_z": params["max_z"]}
        for d, i, lr in turns:
            if lr < log_cut:
                flagged.setdefault(d.index, []).append(
                    f"turn {i}: ratio {math.exp(lr):.2f} (z={(lr - median) / sd:.1f}; set median {math.exp(median):.2f})"
                )
    else:
        median = 0.0  # too few turns for a distribution: translations run ~1 unit per unit (both dev sets: 1.03)
    for d in result.decisions:
        if d.index in flagged and not any(r.startswith("truncation.too_short") for r in d.reasons):
            d.reasons.append(Reason("truncation.length_outlier", "; ".join(flagged[d.index])))
    _sentences_lost(result, median, math.log(params["sentence_drop_ratio"]), params["sentence_align_margin"])


def _sentences_lost(result: Scan, median: float, log_drop: float, align_margin: float) -> None:
    """Fewer sentences than the source and a length well below the set's median, or a source sentence the
    length alignment leaves without a counterpart (omission.py): a sentence is missing."""
    for d, st in zip(result.decisions, result.stats):
        if not st or not st.sentence_drops:
            continue
        ratios, lengths = dict(st.turn_log_ratios), {i: (s, t) for i, s, t in st.sentence_lengths}
        hits = []
        for i, ns, nt in st.sentence_drops:
            if ratios[i] - median < log_drop:
                hits.append(
                    f"turn {i}: {ns} sentences in the source, {nt} here, length {math.exp(ratios[i] - median):.2f} "
                    "of the set's median"
                )
            elif i in lengths and result.length_cut is not None:  # the alignment needs the set's own ratio
                gap = align_gap(*lengths[i], math.exp(median), align_margin)
                if gap is not None:
                    hits.append(
                        f"turn {i}: {ns} sentences in the source, {nt} here, and aligned by length one has no "
                        f"counterpart (about sentence {gap + 1})"
                    )
        if hits:
            d.reasons.append(Reason("omission.sentences", "; ".join(hits)))


def write_outputs(
    result: Scan,
    out_dir: str | Path,
    progress: Progress = NULL,
    sample_hook: Callable[[Decision, str], None] | None = None,
) -> None:
    """Stage 3, from the scan's spool: kept records → chat.json, the rest → rejected.jsonl, and the images
    placed for records rejected after their examination (set-level checks, the judge) taken back out unless
    a kept record shows them too. The lines are the ones examined, so the input may change meanwhile."""
    if result.spool is None:
        raise ValueError("write_outputs needs a scan made for an output (scan(..., out=DIR))")
    out = Path(out_dir)
    progress.stage("write", len(result.decisions))
    taken_back: set[str] = set()
    with (
        open(result.spool, encoding="utf-8") as spool,
        RecordListWriter(out / "chat.json") as kept_w,
        JsonlWriter(out / "rejected.jsonl") as rej_w,
    ):
        for n, (d, line) in enumerate(zip(result.decisions, spool), 1):
            if d.kept:
                kept_w.write_text(line[:-1])
            else:
                codes = list(dict.fromkeys(d.reasons))
                detail = {}
                for r in d.reasons:
                    detail[r] = (detail[r] + "; " + r.detail) if r in detail else r.detail
                rej_w.write({"id": d.id, "reasons": codes, "detail": detail})
                if sample_hook:
                    sample_hook(d, line)
                if d.placed:
                    taken_back.update(d.images)
            if n % 256 == 0:
                progress.advance(256)
        progress.advance(len(result.decisions) % 256)
    if taken_back:
        for d in result.decisions:
            if d.kept:
                taken_back.difference_update(d.images)
        _take_back(str(out / "images"), taken_back)
    result.spool.unlink()


def _take_back(images_root: str, rels: set[str]) -> None:
    """Remove placed images (and the folders that leaves empty) below images_root."""
    for rel in sorted(rels):
        path = safe_image_path(images_root, rel)
        os.unlink(path)
        parent = os.path.dirname(path)
        while parent != images_root and not os.listdir(parent):
            os.rmdir(parent)
            parent = os.path.dirname(parent)


COMMAND = "zqvl-data clean"


def clean(
    data_dir: str | Path,
    out_dir: str | Path,
    config: dict,
    progress: Progress = NULL,
    force: bool = False,
    workers: int = 1,
    judge: Callable[[Scan], None] | None = None,
) -> Scan:
    """The whole command: scan, decide, write DIR2/{chat.json, rejected.jsonl, images/, report.html}.

    DIR2 appears whole or not at all (built beside it, swapped in): a crash or a full disk leaves the previous
    output as it was. A DIR2 holding anything but clean's own output of this input needs `force`."""
    out, source = Path(out_dir), chat_json(data_dir).parent
    if out.exists() and out.resolve() == source.resolve():
        raise UsageError(f"--out {out} is the input directory; clean never overwrites its input")
    claim(out, COMMAND, input_dir=source, force=force)  # before paying for the scan
    with few_collections(), staged(out, COMMAND, source) as tmp:
        result = scan(data_dir, config, progress, workers=workers, out=tmp)
        if judge is not None:  # adds its reasons to records the rules kept (zqvl.data.translate.judge, via the CLI)
            judge(result)
        collector = SampleCollector(result, config["report"]["samples_per_reason"])
        write_outputs(result, tmp, progress, collector)
        write_report(result, tmp, collector)
    return result
