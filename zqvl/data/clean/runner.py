"""The clean pipeline: scan (per-record filters, stats, dedupe candidates) → decide (set-level checks) → write.

Stage 1 streams chat.json once: every record gets its per-record reasons, its measurements and, when it
passes, its answer and image signatures. Stage 2 decides what needs the whole set: length outliers against
the set's own distribution, then keep-first near-duplicate removal (only a record that is finally kept can
make a later one a duplicate, so the indexes only ever hold kept records). Stage 3 streams chat.json again and writes
kept records, rejected.jsonl and images; every file appears atomically, and every input record lands in
exactly one of the two outputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from zqvl.data.checks import SeenIds
from zqvl.data.clean.copies import CopiedAnswers, copied_answers
from zqvl.data.clean.decisions import Decision, Scan
from zqvl.data.clean.dedupe import AnswerIndex, ImageIndex, dedupe_indexes
from zqvl.data.clean.examine import examined
from zqvl.data.clean.registry import Reason
from zqvl.data.clean.reporting import SampleCollector, write_report
from zqvl.data.clean.stats import robust_center
from zqvl.data.io import (
    FilePlacer,
    ImageRoot,
    JsonlWriter,
    RecordListWriter,
    chat_json,
    iter_json_values,
    safe_image_path,
)
from zqvl.data.outdir import claim, staged
from zqvl.data.schema import record_label
from zqvl.errors import UsageError
from zqvl.progress import NULL, Progress

__all__ = ["Decision", "Scan", "scan", "write_outputs", "clean"]


def scan(
    data_dir: str | Path,
    config: dict,
    progress: Progress = NULL,
    explain_id: str | None = None,
    workers: int = 1,
) -> Scan:
    """Stages 1 and 2: per-record reasons, stats, dedupe signatures (zqvl.data.clean.examine, in `workers`
    processes), then, in input order here, repeated ids and the set-level decisions."""
    path = chat_json(data_dir)
    images_dir = path.parent / "images"
    result = Scan(path, images_dir, config)
    progress.stage("scan")
    answers, images = dedupe_indexes(config)
    copies = copied_answers(config)
    seen = SeenIds()
    for chunk in examined(iter_json_values(path), config, str(images_dir), workers, explain_id):
        for e in chunk:
            if not e.parsed:
                result.decisions.append(Decision(e.index, e.id, e.reasons))
                result.stats.append(None)
                continue
            decision = Decision(e.index, e.id, images=e.images, reasons=seen.check(e.id, e.index))
            decision.reasons += e.reasons
            result.filter_errors.update(e.filter_errors)
            result.stats.append(e.stats)
            if decision.kept:
                if answers is not None and e.answer_sig is not None:
                    answers.store_signed(e.index, e.answer, e.answer_sig)
                if copies is not None:
                    copies.remember(e.index, e.copy_sig)
                if e.image_problem is not None:
                    decision.reasons.append(e.image_problem)
                elif images is not None and e.image_sigs:
                    images.remember(e.index, e.images, e.image_sigs)
            if e.record is not None and result.explained is None:
                result.explained = e.record
            result.decisions.append(decision)
        progress.advance(len(chunk))
    _length_outliers(result, config["set_checks"]["length_outlier"])
    keep_first(result.decisions, answers, images, copies)
    return result


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
    _sentences_lost(result, median, math.log(params["sentence_drop_ratio"]))


def _sentences_lost(result: Scan, median: float, log_drop: float) -> None:
    """Fewer sentences than the source and a length well below the set's median: a sentence is missing."""
    for d, st in zip(result.decisions, result.stats):
        if not st or not st.sentence_drops:
            continue
        ratios = dict(st.turn_log_ratios)
        hits = [
            f"turn {i}: {ns} sentences in the source, {nt} here, length {math.exp(ratios[i] - median):.2f} of the "
            f"set's median"
            for i, ns, nt in st.sentence_drops
            if ratios[i] - median < log_drop
        ]
        if hits:
            d.reasons.append(Reason("omission.sentences", "; ".join(hits)))


def keep_first(
    decisions: list[Decision],
    answers: AnswerIndex | None,
    images: ImageIndex | None,
    copies: CopiedAnswers | None = None,
) -> None:
    """Keep the first of each near-duplicate group among the records that are kept otherwise: in input
    order, a record that nearly duplicates a record already kept is dropped, and one that does not is
    kept and joins the indexes (only kept records are ever compared with, so memory stays linear)."""
    for d in decisions:
        if not d.kept:
            if images is not None:
                images.discard(d.index)
            if copies is not None:
                copies.discard(d.index)
            continue
        hits = answers.duplicates(d.index) if answers is not None else []
        if hits:
            i, j = hits[0]
            d.reasons.append(Reason("dedupe.answer", f"answer ~{j:.2f} similar to kept record {decisions[i].id!r}"))
        copied = copies.duplicate(d.index) if copies is not None and not hits else None
        if copied is not None:
            d.reasons.append(
                Reason(
                    "dedupe.copied_answer",
                    f"the same answer as kept record {decisions[copied].id!r}, whose English says something else",
                )
            )
        img = images.duplicates(d.index) if images is not None else []
        if img:
            d.reasons.append(Reason("dedupe.image", f"image nearly identical to kept record {decisions[img[0]].id!r}"))
        if d.kept:
            if answers is not None:
                answers.keep(d.index)
            if images is not None:
                images.keep(d.index)
            if copies is not None:
                copies.keep(d.index)
        else:
            if images is not None:
                images.discard(d.index)
            if copies is not None:
                copies.discard(d.index)


def write_outputs(
    result: Scan,
    out_dir: str | Path,
    progress: Progress = NULL,
    sample_hook: Callable[[Decision, dict], None] | None = None,
) -> None:
    """Stage 3: stream the input again; kept records → chat.json (+ images), the rest → rejected.jsonl."""
    out = Path(out_dir)
    progress.stage("write", len(result.decisions))
    (out / "images").mkdir(parents=True, exist_ok=True)
    src_root, dst_root, placer = ImageRoot(result.images_dir), str(out / "images"), FilePlacer(staged=True)
    with RecordListWriter(out / "chat.json") as kept_w, JsonlWriter(out / "rejected.jsonl") as rej_w:
        n = 0
        for index, value in enumerate(iter_json_values(result.path)):
            if index >= len(result.decisions) or result.decisions[index].label != record_label(value, index):
                raise UsageError(f"{result.path} changed while clean was running (record #{index})")
            d = result.decisions[index]
            if d.kept:
                kept_w.write(value)
                for rel in d.images:  # a kept record's paths resolved at scan (an unsafe one is a reason)
                    src, problem = src_root.resolve(rel)
                    if problem:
                        raise UsageError(f"{result.images_dir} changed while clean was running: {problem[1]}")
                    placer.place(src, safe_image_path(dst_root, rel))
            else:
                codes = list(dict.fromkeys(d.reasons))
                detail = {}
                for r in d.reasons:
                    detail[r] = (detail[r] + "; " + r.detail) if r in detail else r.detail
                rej_w.write({"id": d.id, "reasons": codes, "detail": detail})
                if sample_hook:
                    sample_hook(d, value)
            n += 1
            if n % 256 == 0:
                progress.advance(256)
        if n != len(result.decisions):
            raise UsageError(
                f"{result.path} changed while clean was running ({n} records now, {len(result.decisions)} before)"
            )
        progress.advance(n % 256)


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
    result = scan(data_dir, config, progress, workers=workers)
    if judge is not None:  # adds its reasons to records the rules kept (zqvl.data.translate.judge, via the CLI)
        judge(result)
    with staged(out, COMMAND, source) as tmp:
        collector = SampleCollector(result, config["report"]["samples_per_reason"])
        write_outputs(result, tmp, progress, collector)
        write_report(result, tmp, collector)
    return result
