"""The clean pipeline: scan (per-record filters, stats, dedupe candidates) → decide (set-level checks) → write.

Stage 1 streams chat.json once: every record gets its per-record reasons, its measurements and, when it
passes, its near-duplicate candidates among earlier passing records. Stage 2 decides what needs the whole
set: length outliers against the set's own distribution, then keep-first over the dedupe groups (only a
record that is finally kept can make a later one a duplicate). Stage 3 streams chat.json again and writes
kept records, rejected.jsonl and images; every file appears atomically, and every input record lands in
exactly one of the two outputs.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from zqvl.data.checks import SeenIds, schema_reason
from zqvl.data.clean import load_filters
from zqvl.data.clean.dedupe import AnswerIndex, ImageIndex, answer_text, image_signatures
from zqvl.data.clean.registry import Reason
from zqvl.data.clean.stats import RecordStats, record_stats, robust_center
from zqvl.data.io import JsonlWriter, RecordListWriter, chat_json, iter_json_values, safe_image_path, safe_relpath
from zqvl.data.schema import Record, SchemaError, parse_record
from zqvl.errors import UsageError
from zqvl.progress import NULL, Progress



@dataclass(slots=True)
class Decision:
    index: int
    id: str
    reasons: list[Reason] = field(default_factory=list)
    images: tuple[str, ...] = ()
    answer_dups: list[tuple[int, float]] = field(default_factory=list)   # earlier candidates (index, J)
    image_dups: list[int] = field(default_factory=list)

    @property
    def kept(self) -> bool:
        return not self.reasons


@dataclass
class Scan:
    """Everything stage 1 and 2 learned about a set; the runner writes from it, --explain reads it."""
    path: Path
    images_dir: Path
    config: dict
    decisions: list[Decision] = field(default_factory=list)
    stats: list[RecordStats | None] = field(default_factory=list)
    length_cut: dict | None = None           # {"median", "sd", "log_cut", "max_ratio"} when the set had enough turns
    filter_errors: Counter = field(default_factory=Counter)
    explained: Record | None = None         # the record asked about with --explain

    @property
    def counts(self) -> Counter:
        return Counter(r for d in self.decisions for r in dict.fromkeys(d.reasons))

    @property
    def n_kept(self) -> int:
        return sum(d.kept for d in self.decisions)


def _raw_id(value, index: int) -> str:
    rid = value.get("id") if isinstance(value, dict) else None
    if isinstance(rid, int) and not isinstance(rid, bool):
        rid = str(rid)
    return rid if isinstance(rid, str) and rid.strip() else f"#{index}"


def _run_filters(record: Record, filters, errors: Counter) -> list[Reason]:
    reasons: list[Reason] = []
    for f in filters:
        try:
            reasons += f(record)
        except Exception as e:  # noqa: BLE001 - a filter bug must not lose the record or stop the run
            errors[f.__name__] += 1
            reasons.append(Reason(f"error.{f.__name__}", f"filter raised {type(e).__name__}: {e}"))
    return reasons


def _image_reasons(record: Record, images_dir: str, check_exists: bool) -> tuple[list[Reason], list[str]]:
    """Unsafe or (when `check_exists`) missing image paths, and the paths of the others.

    The same rule as io.safe_image_path, on plain strings: pathlib objects cost more than the check itself
    at hundreds of thousands of records.
    """
    reasons, paths = [], []
    for rel in record.images:
        norm = rel.replace("\\", "/")
        if not rel or os.path.isabs(rel) or norm.startswith("/") or rel[1:2] == ":" or ".." in norm.split("/"):
            reasons.append(Reason("image.unsafe_path", f"{rel!r} escapes images/"))
            continue
        path = os.path.join(images_dir, norm)
        if check_exists and not os.path.isfile(path):
            reasons.append(Reason("image.missing", f"{rel!r} not found under {images_dir}"))
        else:
            paths.append(path)
    return reasons, paths


DEDUPE_CHUNK = 64   # records per round of near-duplicate indexing (divides the progress step, 256)


def _add_images(decision: Decision, record: Record, image_paths: list[str], images: ImageIndex,
                signatures: dict[str, tuple], failed: dict[str, Exception]) -> None:
    """Find earlier near-duplicates of a passing record's images (hashed by the chunk, each file once);
    the first image that could not be read makes the record's reason, as if it were opened here."""
    try:
        sigs = []
        for p in image_paths:
            if p in failed:
                raise failed[p]
            sigs.append(signatures[p])
        decision.image_dups = images.add(decision.index, tuple(record.images), sigs)
    except FileNotFoundError as e:
        decision.reasons.append(Reason("image.missing", f"{e.filename} not found"))
    except Exception as e:  # noqa: BLE001 - PIL raises many types for broken files
        decision.reasons.append(Reason("image.unreadable", f"{type(e).__name__}: {e}"))


def scan(data_dir: str | Path, config: dict, progress: Progress = NULL, explain_id: str | None = None) -> Scan:
    """Stages 1 and 2: per-record reasons, stats, dedupe candidates, then the set-level decisions."""
    path = chat_json(data_dir)
    images_dir = (path.parent / "images")
    result = Scan(path, images_dir, config)
    progress.stage("scan")
    filters = load_filters(config=config)
    outlier = config["set_checks"]["length_outlier"]
    dd = config["dedupe"]
    answers = AnswerIndex(dd["answers"]["threshold"], dd["answers"]["ngram"], dd["answers"]["num_perm"],
                          dd["answers"]["min_chars"]) if dd["answers"]["enabled"] else None
    images = ImageIndex(dd["images"]["max_distance"], dd["images"]["max_color_diff"],
                        dd["images"]["same_file_is_duplicate"]) if dd["images"]["enabled"] else None
    signatures: dict[str, tuple] = {}
    seen = SeenIds()
    passed: list[tuple[Decision, Record, list[str]]] = []   # this chunk's records that passed so far

    def dedupe_chunk() -> None:
        # Each index sees its records in input order, exactly as if they came one at a time; grouping the
        # work by kind (filters, then MinHash, then image decoding) keeps each one's code and data in the
        # CPU caches and costs ~10% less CPU than switching kinds for every record.
        if answers is not None:   # near-duplicate answers are resolved for the whole set after the scan
            answers.defer_many([d.index for d, _, _ in passed], [answer_text(r) for _, r, _ in passed])
        if images is not None:
            todo = list(dict.fromkeys(p for _, _, paths in passed for p in paths if p not in signatures))
            failed = {}
            for p, sig in zip(todo, image_signatures(todo)):
                if isinstance(sig, Exception):
                    failed[p] = sig
                else:
                    signatures[p] = sig
            for decision, record, image_paths in passed:
                if image_paths:
                    _add_images(decision, record, image_paths, images, signatures, failed)
        passed.clear()

    for index, value in enumerate(iter_json_values(path)):
        try:
            record = parse_record(value, index)
        except SchemaError as e:
            result.decisions.append(Decision(index, _raw_id(value, index), [schema_reason(e)]))
            result.stats.append(None)
            record = None
        if record is not None:
            decision = Decision(index, record.id, images=tuple(record.images), reasons=seen.check(record.id, index))
            decision.reasons += _run_filters(record, filters, result.filter_errors)
            # Records that will be hashed find a missing image when they open it; the others check here.
            will_hash = images is not None and not decision.reasons
            image_problems, image_paths = _image_reasons(record, str(images_dir), check_exists=not will_hash)
            decision.reasons += image_problems
            result.stats.append(record_stats(record, outlier["min_source_units"]))
            if decision.kept:
                passed.append((decision, record, image_paths))
            if explain_id is not None and record.id == explain_id and result.explained is None:
                result.explained = record
            result.decisions.append(decision)
        if index % DEDUPE_CHUNK == DEDUPE_CHUNK - 1:
            dedupe_chunk()
        if index % 256 == 255:
            progress.advance(256)
    dedupe_chunk()
    if answers is not None:
        for index, dups in answers.resolve().items():
            result.decisions[index].answer_dups = dups
    progress.advance(len(result.decisions) % 256)
    _length_outliers(result, outlier)
    _keep_first(result)
    return result


def _length_outliers(result: Scan, params: dict) -> None:
    if not params["enabled"]:
        return
    turns = [(d, i, lr) for d, st in zip(result.decisions, result.stats) if st for i, lr in st.turn_log_ratios]
    if len(turns) < params["min_turns"]:
        return
    median, sd = robust_center([lr for _, _, lr in turns])
    log_cut = min(median - params["max_z"] * sd, math.log(params["max_ratio"]))
    result.length_cut = {"median": median, "sd": sd, "log_cut": log_cut, "max_z": params["max_z"]}
    flagged: dict[int, list[str]] = {}
    for d, i, lr in turns:
        if lr < log_cut:
            flagged.setdefault(d.index, []).append(f"turn {i}: ratio {math.exp(lr):.2f} (z={(lr - median) / sd:.1f}; "
                                                   f"set median {math.exp(median):.2f})")
    for d in result.decisions:
        if d.index in flagged and not any(r.startswith("truncation.too_short") for r in d.reasons):
            d.reasons.append(Reason("truncation.length_outlier", "; ".join(flagged[d.index])))


def _keep_first(result: Scan) -> None:
    """Keep the first of each near-duplicate group among the records that are kept otherwise."""
    kept: set[int] = set()
    for d in result.decisions:
        if not d.kept:
            continue
        hits = [(i, j) for i, j in d.answer_dups if i in kept]
        if hits:
            i, j = hits[0]
            d.reasons.append(Reason("dedupe.answer", f"answer ~{j:.2f} similar to kept record "
                                    f"{result.decisions[i].id!r}"))
        img = [i for i in d.image_dups if i in kept]
        if img:
            d.reasons.append(Reason("dedupe.image", f"image nearly identical to kept record "
                                    f"{result.decisions[img[0]].id!r}"))
        if d.kept:
            kept.add(d.index)


def _link(src: Path | str, dst: Path | str, made: set[str] | None = None) -> None:
    """Hard-link (or copy) src to dst; `made` remembers the folders already created on the way."""
    parent = os.path.dirname(dst)
    if made is None or parent not in made:
        os.makedirs(parent, exist_ok=True)
        if made is not None:
            made.add(parent)
    if os.path.exists(dst):
        return
    try:
        os.link(src, dst)
    except OSError:   # another filesystem, or links not allowed: copy
        shutil.copy2(src, dst)


def _swap_dir(tmp: Path, final: Path) -> None:
    """Replace `final` by `tmp` with renames only (the old directory is removed after the switch)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_outputs(result: Scan, out_dir: str | Path, progress: Progress = NULL,
                  sample_hook: Callable[[Decision, dict], None] | None = None) -> None:
    """Stage 3: stream the input again; kept records → chat.json (+ images), the rest → rejected.jsonl."""
    out = Path(out_dir)
    if out.resolve() == result.path.parent.resolve():
        raise UsageError(f"--out {out} is the input directory; clean never overwrites its input")
    out.mkdir(parents=True, exist_ok=True)
    progress.stage("write", len(result.decisions))
    tmp_images = Path(tempfile.mkdtemp(prefix=".images.tmp-", dir=out))
    src_root, dst_root, made = str(result.images_dir), str(tmp_images), set()
    try:
        with RecordListWriter(out / "chat.json") as kept_w, JsonlWriter(out / "rejected.jsonl") as rej_w:
            n = 0
            for index, value in enumerate(iter_json_values(result.path)):
                if index >= len(result.decisions) or result.decisions[index].id != _raw_id(value, index):
                    raise UsageError(f"{result.path} changed while clean was running (record #{index})")
                d = result.decisions[index]
                if d.kept:
                    kept_w.write(value)
                    for rel in d.images:
                        clean_rel = safe_relpath(rel)   # as safe_image_path, on strings (cheaper per image)
                        if clean_rel is None:
                            _link(safe_image_path(result.images_dir, rel), safe_image_path(tmp_images, rel))
                        else:
                            _link(os.path.join(src_root, clean_rel), os.path.join(dst_root, clean_rel), made)
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
                raise UsageError(f"{result.path} changed while clean was running ({n} records now, "
                                 f"{len(result.decisions)} before)")
            progress.advance(n % 256)
        _swap_dir(tmp_images, out / "images")
    finally:
        if tmp_images.exists():
            shutil.rmtree(tmp_images, ignore_errors=True)


def clean(data_dir: str | Path, out_dir: str | Path, config: dict, progress: Progress = NULL) -> Scan:
    """The whole command: scan, decide, write DIR2/{chat.json, rejected.jsonl, images/, report.html}."""
    from zqvl.data.clean.reporting import SampleCollector, write_report
    out = Path(out_dir)
    if out.exists() and out.resolve() == chat_json(data_dir).parent.resolve():
        raise UsageError(f"--out {out} is the input directory; clean never overwrites its input")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    result = scan(data_dir, config, progress)
    out.mkdir(parents=True, exist_ok=True)
    collector = SampleCollector(result, out, config["report"]["samples_per_reason"])
    try:
        write_outputs(result, out, progress, collector)
        write_report(result, out, collector)
    except BaseException:
        collector.discard()
        raise
    return result
