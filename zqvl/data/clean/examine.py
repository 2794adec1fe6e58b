"""Stage 1's per-record work, on a chunk of raw records: the same function in the parent and in worker processes.

Everything that depends on one record alone runs here: parsing, the filters, image paths, the measurements, and
for a record that passes, its answer's MinHash signature and its images' signatures (decoding images is most
of clean's time); for a scan that writes an output, also the record's output line and, for a record that
passes, placing its images there. What depends on the order of the set — repeated ids, keep-first, the set's distributions —
stays in the parent, which consumes the chunks in input order. So `--workers N` cannot change a decision:
the output is byte-identical whatever N is, and memory stays bounded by the chunks in flight.
"""

from __future__ import annotations

import gc
import itertools
import os
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from multiprocessing import get_context

import numpy as np

from zqvl.data.checks import schema_reason
from zqvl.data.clean import load_filters, run_filters
from zqvl.data.clean.copies import copy_signature
from zqvl.data.clean.dedupe import answer_text, dedupe_indexes, image_signatures, numbers_key
from zqvl.data.clean.imagesig import COLOUR_GRID
from zqvl.data.clean.registry import Reason
from zqvl.data.clean.stats import RecordStats, record_stats
from zqvl.data.io import FilePlacer, ImageRoot, dumps, safe_image_path
from zqvl.data.schema import Record, SchemaError, Unparsable, parse_record, record_label

CHUNK = 256  # records per unit of work (a worker round trip costs ~1 ms; a chunk ~150 ms)
# A scan allocates millions of short-lived containers while the set's decisions pile up: with Python's default
# thresholds the collector ran ~700 times and walked everything alive 4 times (~6 % of clean's CPU) to find a
# few hundred objects. With these it still walked each chunk's survivors (decisions, stats, cache entries) ~0.3 s
# on 20K records and found nothing: what a chunk leaves alive is kept for the scan, so it is frozen (settle()).
GC_THRESHOLDS = (20_000, 20, 20)
_gc_depth = 0


@contextmanager
def few_collections():
    """Collect rarely, and never walk what existed before (imports, dictionaries, the config); nests."""
    global _gc_depth
    old = gc.get_threshold()
    if _gc_depth == 0:
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
    _gc_depth += 1
    try:
        yield
    finally:
        _gc_depth -= 1
        if _gc_depth == 0:
            gc.set_threshold(*old)
            gc.unfreeze()


def settle() -> None:
    """Inside few_collections(): what exists now lives until the scan ends, so the collector stops walking it.
    Any reference cycle it holds becomes collectable again when few_collections() ends (none was found in a
    scan: the measured ones hold no cycles)."""
    if _gc_depth:
        gc.freeze()


@dataclass(slots=True)
class Examined:
    index: int
    id: str  # the record's id, or its label when it is not a record
    reasons: list[Reason]
    images: tuple[str, ...] = ()
    stats: RecordStats | None = None
    parsed: bool = True
    filter_errors: Counter | None = None  # filters that raised (None, not an empty Counter: pickled per record)
    # Only for a record that passed everything here (the parent may still reject it for a repeated id):
    answer: str | None = None  # the answer text, while the worker signs it (never sent back)
    answer_sig: bytes | None = None  # its MinHash row as bytes: an array costs ~15 us more to unpickle
    answer_numbers: int = 0  # dedupe.numbers_key of the signed answer
    image_paths: list[str] = field(default_factory=list)  # the real paths of the record's images
    image_sigs: list | None = None  # one (pHash, colours) per image, or None
    image_problem: Reason | None = None  # the first image that could not be decoded
    copy_sig: tuple[bytes, str] | None = None  # copies.copy_signature, for the copied-answer index
    record: Record | None = None  # only the record asked about with --explain
    # Only when the scan writes an output (place_into): the record as the output's chat.json line holds it,
    # and whether its images were placed there already (it passed everything here).
    text: str = ""
    placed: bool = False


class Examiner:
    """The per-record checks of one config, built once per process."""

    def __init__(self, config: dict, images_dir: str, explain_id: str | None = None, place_into: str | None = None):
        self.filters = load_filters(config=config)
        self.min_source_units = config["set_checks"]["length_outlier"]["min_source_units"]
        self.image_root = ImageRoot(images_dir)
        # only its signatures() are used here: the index that compares them lives in the parent
        self.answers, _ = dedupe_indexes(config)
        self.hash_images = config["dedupe"]["images"]["enabled"]
        copies = config["dedupe"]["copies"]
        self.copy_min_chars = copies["min_chars"] if copies["enabled"] else None
        self.explain_id = explain_id
        # Placing the images of a record that passed here is most of the output's cost; done in the worker
        # it runs in parallel, and the few records the parent rejects later take theirs back out.
        self.place_into, self.placer = place_into, FilePlacer(staged=True)

    def chunk(self, values: list[tuple[int, object]]) -> list[Examined]:
        out = [self.one(index, value) for index, value in values]
        passed = [e for e in out if e.parsed and not e.reasons]
        if self.answers is not None:
            long_enough = [e for e in passed if len(e.answer or "") >= self.answers.min_chars]
            if long_enough:
                for e, sig in zip(long_enough, self.answers.signatures([e.answer for e in long_enough])):
                    e.answer_sig, e.answer_numbers = sig.tobytes(), numbers_key(e.answer)
        if self.hash_images:
            self._hash_images(passed)
        if self.place_into is not None:
            for e in passed:
                if e.image_problem is None:
                    for rel, path in zip(e.images, e.image_paths):
                        self.placer.place(path, safe_image_path(self.place_into, rel))
                    e.placed = True
        for e in out:
            e.answer = None  # the parent compares signatures and numbers keys only
        return out

    def one(self, index: int, value) -> Examined:
        try:
            record = parse_record(value, index)
        except SchemaError as e:
            bad = Examined(index, record_label(value, index), [schema_reason(e)], parsed=False)
            if self.place_into is not None:
                bad.text = dumps(str(value) if isinstance(value, Unparsable) else value)
            return bad
        errors: dict[str, int] = {}  # a Counter costs ~2 us a record to create; filters rarely raise
        reasons = run_filters(record, self.filters, errors)
        paths = []
        for rel in record.images:
            path, problem = self.image_root.resolve(rel)
            if problem:
                reasons.append(Reason(*problem))
            else:
                paths.append(path)
        e = Examined(index, record.id, reasons, tuple(record.images), record_stats(record, self.min_source_units))
        e.filter_errors, e.image_paths = Counter(errors) if errors else None, paths
        if self.place_into is not None:
            e.text = dumps(value)
        e.answer = answer_text(record) if not reasons else None
        if not reasons and self.copy_min_chars is not None:
            e.copy_sig = copy_signature(record, self.copy_min_chars, e.answer)
        if self.explain_id is not None and record.id == self.explain_id:
            e.record = record
        return e

    def _hash_images(self, passed: list[Examined]) -> None:
        todo = list(dict.fromkeys(p for e in passed for p in e.image_paths))
        sigs = dict(zip(todo, image_signatures(todo)))
        for e in passed:
            got = [sigs[p] for p in e.image_paths]
            bad = next((s for s in got if isinstance(s, Exception)), None)
            e.image_sigs = None if bad is not None or not got else got
            if isinstance(bad, FileNotFoundError):
                e.image_problem = Reason("image.missing", f"{bad.filename} not found")
            elif bad is not None:
                e.image_problem = Reason("image.unreadable", f"{type(bad).__name__}: {bad}")


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_WORKER: Examiner | None = None


def _init_worker(config: dict, images_dir: str, explain_id: str | None, place_into: str | None) -> None:
    global _WORKER
    _WORKER = Examiner(config, images_dir, explain_id, place_into)
    gc.freeze()  # a worker lives for one scan
    gc.set_threshold(*GC_THRESHOLDS)


def _examine(values: list[tuple[int, object]]) -> tuple:
    assert _WORKER is not None
    try:
        return _to_columns(_WORKER.chunk(values))
    finally:
        gc.freeze()  # what stays is the caches' new entries, kept for the worker's life


# A worker's chunk travels as one list per field, image colours as bytes: pickling 256 dataclasses (a state
# dict each) and 400 small arrays cost twice as much as these lists, on both sides of the pipe.
_FIELDS = tuple(f.name for f in fields(Examined))
_SIGS = _FIELDS.index("image_sigs")


def _to_columns(chunk: list[Examined]) -> tuple:
    for e in chunk:
        e.image_paths = []  # the worker's own business (hashing, placing): not sent back
        if e.image_sigs:
            e.image_sigs = [(h, colours.tobytes()) for h, colours in e.image_sigs]
    return tuple([getattr(e, name) for e in chunk] for name in _FIELDS)


def _from_columns(columns: tuple) -> list[Examined]:
    out = [Examined(*row) for row in zip(*columns)]
    for e, sigs in zip(out, columns[_SIGS]):
        if sigs:
            e.image_sigs = [(h, np.frombuffer(c, dtype=np.float32).reshape(COLOUR_GRID)) for h, c in sigs]
    return out


def examined(
    values: Iterator[object],
    config: dict,
    images_dir: str,
    workers: int,
    explain_id: str | None = None,
    place_into: str | None = None,
) -> Iterator[list[Examined]]:
    """Chunks of Examined, in input order.

    With workers > 1 and a set bigger than two chunks (a smaller one is done before a pool would be up), the
    pool starts at once and this process examines chunks itself until the first worker result is back, so
    the workers' start-up (~0.3 s) costs no time; after that it only feeds them, at most 2 chunks per worker
    in flight."""
    local = Examiner(config, images_dir, explain_id, place_into)
    chunks = _chunks(values)
    head = list(itertools.islice(chunks, 3))
    if workers <= 1 or len(head) < 3:
        for chunk in itertools.chain(head, chunks):
            yield local.chunk(chunk)
        return
    chunks = itertools.chain(head, chunks)
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload(["zqvl.data.clean.examine"])
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker, initargs=(config, images_dir, explain_id, place_into)
    ) as pool:
        queue: deque[Future | list[Examined]] = deque()  # in input order: a future, or a chunk done here
        in_flight, started, chunk = 0, False, next(chunks, None)
        while chunk is not None or queue:
            if chunk is not None and in_flight < 2 * workers:
                queue.append(pool.submit(_examine, chunk))
                in_flight, chunk = in_flight + 1, next(chunks, None)
                continue
            started = started or any(isinstance(q, Future) and q.done() for q in queue)
            if chunk is not None and not started and len(queue) - in_flight < 2 * workers:
                queue.append(local.chunk(chunk))  # the workers are still starting: do one here meanwhile
                chunk = next(chunks, None)
                continue
            item = queue.popleft()
            if isinstance(item, Future):
                in_flight -= 1
                item = _from_columns(item.result())
            yield item


def _chunks(values: Iterator[object]) -> Iterator[list[tuple[int, object]]]:
    chunk: list[tuple[int, object]] = []
    for index, value in enumerate(values):
        chunk.append((index, value))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
