"""Near-duplicate answers (character n-gram MinHash + LSH) and near-duplicate images (pHash + colour).
(Answers copied from another record — the same Chinese, other English — are zqvl/data/clean/copies.py.)

Both indexes serve keep-first: in input order, "which kept records is this one a near-duplicate of?"; a record
that duplicates none is kept and joins the index, so an index holds kept records only (linear memory).
Character n-grams, not words: Chinese has no spaces, so word-based MinHash (as in English pipelines) would see one giant token.
pHash looks at luminance only, so two different drawings with the same layout can hash alike; a 4×4 mean
colour grid confirms that the pictures, not just their outlines, match.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache, cached_property

import numpy as np

from zqvl.data.clean.imagesig import image_signature, image_signatures  # noqa: F401 - part of this API
from zqvl.data.clean.text import nfkc
from zqvl.data.schema import GPT, Record

_NON_WORD = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"\d+")


def answer_text(record: Record) -> str:
    """All answers of a record, normalised: NFKC, case-folded, punctuation and spaces removed."""
    return _NON_WORD.sub("", nfkc("\n".join(t.value for t in record.turns if t.role == GPT)).casefold())


def numbers_key(text: str) -> int:
    """A 64-bit key of the digit runs in `text`, in order: answers whose keys differ state different numbers.
    The same in every process (str hashes are not), so a worker computes it and the parent compares."""
    digits = "\x00".join(_DIGITS.findall(text))
    return int.from_bytes(hashlib.blake2b(digits.encode(), digest_size=8).digest(), "big", signed=True) if digits else 0


def _shingle_ids(text: str, n: int) -> np.ndarray:
    """Character n-grams as 32-bit integers (a polynomial hash of their code points), vectorised; repeats
    are harmless (a MinHash keeps minima)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    h = np.zeros(len(codes) - n + 1, dtype=np.uint32)
    for k in range(n):  # wrap-around uint32 arithmetic is the hash; the MinHash mixes it further (fmix)
        h = h * np.uint32(16777619) + codes[k : len(codes) - n + 1 + k]
    return h


# MurmurHash3's 32-bit finalizer, the pre-mix datasketch's "affine32" scheme applies to every input.
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


def _fmix32(h: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s3)


# lsh_bands of the shipped dedupe settings (default.yaml), so a run with them skips scipy's import and the
# scan of integrals (0.35 s of CPU a run); a test recomputes it.
SHIPPED_BANDS = {(0.7, 128): (14, 9)}


@cache
def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) for MinHash-LSH at this Jaccard threshold: the pair that minimises the area of false
    positives (pairs below the threshold that share a band) plus false negatives (pairs above it that share
    none), each weighted 1/2. The same choice as datasketch's `MinHashLSH(threshold, num_perm)`: the same
    integrals (scipy's quad), scanned in the same order, the first minimum kept.
    """
    if (threshold, num_perm) in SHIPPED_BANDS:
        return SHIPPED_BANDS[(threshold, num_perm)]
    return _scan_bands(threshold, num_perm)


def _scan_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    from scipy.integrate import quad

    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    best, best_error = (0, 0), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):

            def share_a_band(s: float, r: float = float(rows), b: float = float(bands)) -> float:
                return 1 - (1 - s**r) ** b

            false_pos = quad(share_a_band, 0.0, threshold)[0]
            false_neg = quad(lambda s: 1 - share_a_band(s), threshold, 1.0)[0]
            error = false_pos * 0.5 + false_neg * 0.5
            if error < best_error:
                best, best_error = (bands, rows), error
    if best[0] < 2:
        raise ValueError(f"threshold {threshold} with num_perm {num_perm} leaves fewer than 2 LSH bands")
    return best


def _affine32_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a odd, b any uint32) drawn as its MinHash draws them,
    without importing datasketch: its package import pulls in scipy.integrate, ~0.6 s in every worker."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


class AnswerIndex:
    """MinHash-LSH over character n-grams of the answers; candidates verified on the signatures.

    The signatures are datasketch's affine32 MinHash (its permutations, seed 1, identity hash over our
    n-gram ids), computed here as one numpy expression per record: bit for bit what `MinHash.update_batch`
    gives, without its per-call overhead. The banding is datasketch's for the same threshold (`lsh_bands`:
    14 bands of 9 rows at 0.7 and 128 permutations); equal values in a band make a candidate, and the
    estimated Jaccard over all values then confirms it.

    Keep-first needs one question answered: "does this record nearly duplicate a record already kept?". So
    `store` remembers every record's signature, but only `keep` puts a record into the band tables: a
    bucket holds kept records only, and 20,000 equal answers leave one entry per band, not 20,000.
    """

    # characters per batch of signatures(): x num_perm x 4 bytes of scratch, 1 MiB at 128 permutations, which
    # stays in a core's cache (16K characters, 8 MiB, ran 1.3-1.6x slower on the bench's answers)
    BATCH_GRAMS = 2_048

    def __init__(self, threshold: float, ngram: int, num_perm: int, min_chars: int):
        self.threshold, self.ngram, self.min_chars = threshold, ngram, min_chars
        self._a, self._b = _affine32_permutations(num_perm, seed=1)
        self._num_perm = num_perm
        self._signatures = np.zeros((1024, num_perm), dtype=np.uint32)
        self._keys = np.zeros(1024, dtype=np.int64)  # row -> record key (increasing)
        self._numbers = np.zeros(1024, dtype=np.int64)  # row -> hash of the answer's numbers
        self._n = 0
        self.kept = 0
        self._last_row = 0
        self._last_lookup: tuple[int, list[bytes], list] = (-1, [], [])

    # The banding is only needed where records are compared (the parent), never where they are only signed
    # (a worker): lsh_bands may import scipy (~0.6 s a process) for settings other than the shipped ones.
    @property
    def bands(self) -> int:
        return lsh_bands(self.threshold, self._num_perm)[0]

    @property
    def rows(self) -> int:
        return lsh_bands(self.threshold, self._num_perm)[1]

    @cached_property
    def _tables(self) -> list[dict[bytes, int | list[int]]]:
        """Band value -> the kept row, or a list of them once a second one shares it (an int is not tracked by
        the garbage collector; a list per band and record would make its full passes cost more than the
        lookups)."""
        return [dict() for _ in range(self.bands)]

    @property
    def bucket_entries(self) -> int:
        """Rows held by the band tables (kept records x bands at most)."""
        return sum(1 if type(v) is int else len(v) for t in self._tables for v in t.values())

    def signature(self, text: str) -> np.ndarray | None:
        """The MinHash values of `text` (uint32, one per permutation); None when it is too short to judge."""
        if len(text) < self.min_chars:
            return None
        ids = _shingle_ids(text, self.ngram)
        if not len(ids):
            return np.full(self._num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
        mixed = _fmix32(ids)[:, None]
        return (mixed * self._a + self._b).min(axis=0)

    def signatures(self, texts: list[str]) -> np.ndarray:
        """signature() of each text (all at least min_chars long), as rows: a few array operations for the
        lot instead of a dozen per text. The n-grams of all texts are hashed in one pass over their
        concatenation (those that straddle two texts are dropped), then the minima are taken per text."""
        n, out = self.ngram, np.empty((len(texts), self._num_perm), dtype=np.uint32)
        if any(len(t) < n - 1 for t in texts):  # what signature() does then (it raises)
            return np.stack([self.signature(t) for t in texts])
        lo = 0
        while lo < len(texts):  # bounded groups: the n-gram x permutation array stays small
            hi, grams = lo, 0
            while hi < len(texts) and (hi == lo or grams + len(texts[hi]) <= self.BATCH_GRAMS):
                grams += len(texts[hi])
                hi += 1
            out[lo:hi] = self._signature_rows(texts[lo:hi])
            lo = hi
        return out

    def _signature_rows(self, texts: list[str]) -> np.ndarray:
        n = self.ngram
        codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
        m = len(codes) - n + 1
        h = codes[:m]
        for k in range(1, n):  # _shingle_ids' polynomial hash, Horner form
            h = h * np.uint32(16777619) + codes[k : k + m]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        counts = lengths - n + 1  # n-grams per text (0 when a text has n-1 characters)
        first = np.cumsum(counts) - counts  # where each text's n-grams start among the kept ones
        keep = np.arange(int(counts.sum())) + np.repeat(np.cumsum(lengths) - lengths - first, counts)
        values = _fmix32(h[keep])[:, None] * self._a + self._b
        rows = np.full((len(texts), self._num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
        some = counts > 0
        if some.any():
            rows[some] = np.minimum.reduceat(values, first[some], axis=0)
        return rows

    def store(self, keys: list[int], texts: list[str]) -> None:
        """Remember the signature of each (key, text), keys increasing; texts too short to judge are skipped."""
        judged = [(k, t) for k, t in zip(keys, texts) if len(t) >= self.min_chars]
        if judged:
            for (key, text), sig in zip(judged, self.signatures([t for _, t in judged])):
                self.store_signed(key, numbers_key(text), sig)

    def store_signed(self, key: int, numbers: int, sig: np.ndarray | bytes) -> None:
        """store() with the signature and numbers_key() computed elsewhere (a worker process: both are
        deterministic), the signature as an array or as its bytes."""
        if isinstance(sig, bytes):
            sig = np.frombuffer(sig, dtype=np.uint32)
        self._append(key, sig, numbers)

    def _append(self, key: int, sig: np.ndarray, numbers: int) -> None:
        row = self._n
        if row and key <= self._keys[row - 1]:
            raise ValueError(f"AnswerIndex: key {key} after {self._keys[row - 1]}; keys must increase")
        if row == len(self._keys):
            self._signatures = np.concatenate([self._signatures, np.zeros_like(self._signatures)])
            self._keys = np.concatenate([self._keys, np.zeros_like(self._keys)])
            self._numbers = np.concatenate([self._numbers, np.zeros_like(self._numbers)])
        self._signatures[row], self._keys[row], self._numbers[row] = sig, key, numbers
        self._n += 1

    def _row(self, key: int) -> int | None:
        # keep-first asks for a key twice (duplicates, keep), then for a later one: try the last row and the next
        for row in (self._last_row, self._last_row + 1):
            if row < self._n and self._keys[row] == key:
                self._last_row = row
                return row
        row = int(np.searchsorted(self._keys[: self._n], key))
        if row < self._n and self._keys[row] == key:
            self._last_row = row
            return row
        return None

    @cached_property
    def _band_slices(self) -> list[slice]:
        step = self.rows * 4
        return [slice(lo, lo + step) for lo in range(0, self.bands * step, step)]

    def _buckets_of(self, row: int) -> tuple[list[bytes], list]:
        """(band values, the bucket each finds in its table or None) of a row. Keep-first asks duplicates(key),
        then keep(key): the last row's lookups serve both (only keep changes the tables, and it clears them)."""
        if self._last_lookup[0] != row:
            raw = self._signatures[row].tobytes()
            bands = [raw[s] for s in self._band_slices]
            self._last_lookup = (row, bands, [t.get(b) for t, b in zip(self._tables, bands)])
        return self._last_lookup[1], self._last_lookup[2]

    def candidates(self, key: int) -> list[int]:
        """Kept keys that share at least one band with `key` (LSH candidates, before verification)."""
        row = self._row(key)
        return [] if row is None else sorted(int(self._keys[r]) for r in self._candidate_rows(row))

    def _candidate_rows(self, row: int) -> set[int]:
        rows: set[int] = set()
        for bucket in self._buckets_of(row)[1]:
            if bucket is None:
                continue
            if type(bucket) is int:
                rows.add(bucket)
            else:
                rows.update(bucket)
        return rows

    def duplicates(self, key: int) -> list[tuple[int, float]]:
        """The kept keys that `key` nearly duplicates, with the estimated Jaccard, in key order.

        Answers whose numbers differ ("售价29.99美元" / "售价39.99美元") state different facts: never duplicates.
        """
        row = self._row(key)
        if row is None:
            return []
        found = self._candidate_rows(row)
        if not found:
            return []
        rows = np.fromiter(found, dtype=np.int64, count=len(found))
        rows = rows[self._numbers[rows] == self._numbers[row]]
        sims = (self._signatures[rows] == self._signatures[row]).mean(axis=1)
        return sorted((int(self._keys[r]), float(j)) for r, j in zip(rows, sims) if j >= self.threshold)

    def keep(self, key: int) -> None:
        """`key` is kept: later records are compared with it."""
        row = self._row(key)
        if row is None:
            return
        bands, buckets = self._buckets_of(row)
        self._last_lookup = (-1, [], [])  # the tables change now
        for table, band, bucket in zip(self._tables, bands, buckets):
            if bucket is None:
                table[band] = row
            elif type(bucket) is int:
                table[band] = [bucket, row]
            else:
                bucket.append(row)
        self.kept += 1

    def forget_kept(self) -> None:
        """Back to no record kept, every stored signature still held (keep-first runs again)."""
        self.__dict__.pop("_tables", None)
        self.kept, self._last_row, self._last_lookup = 0, 0, (-1, [], [])

    def add(self, key: int, text: str) -> list[tuple[int, float]]:
        """Store, compare and keep `key` in one step: its near-duplicates among all earlier added keys."""
        self.store([key], [text])
        found = self.duplicates(key)
        self.keep(key)
        return found


class ImageIndex:
    """Earlier kept images within a pHash Hamming distance and a colour difference.

    `remember` holds a record's signatures until keep-first reaches it; `duplicates` compares them with the
    kept records' images, and `keep` (or `discard`) settles the record. Only kept images are searched, so
    20,000 copies of one picture are compared with one kept image each, not with all earlier copies.

    Up to BRUTE_FORCE_MAX kept images, one vectorised XOR + popcount over all of them is fastest. Beyond
    that a multi-index takes over: the 64 bits split into max_distance+1 chunks, and a match within the
    distance shares at least one chunk exactly (pigeonhole), so only those candidates are compared.
    """

    BRUTE_FORCE_MAX = 100_000

    def __init__(self, max_distance: int, max_color_diff: float, same_file_is_duplicate: bool):
        self.max_distance, self.max_color_diff = max_distance, max_color_diff
        self.same_file_is_duplicate = same_file_is_duplicate
        chunks = max_distance + 1
        self._bounds = [round(64 * i / chunks) for i in range(chunks + 1)]
        self._tables: list[dict[int, list[int]]] = [dict() for _ in range(chunks)]
        self._hashes = np.zeros(1024, dtype=np.uint64)
        self._colours = np.zeros((1024, 48), dtype=np.float32)
        self._entries: list[tuple[int, tuple[str, ...], int]] = []  # (key, paths, n images) per kept image
        self._first_row: dict[int, int] = {}
        self._indexed = 0
        self._pending: dict[int, tuple[tuple[str, ...], list]] = {}

    @property
    def held(self) -> int:
        """Image rows held: kept images plus the images of records not settled yet."""
        return len(self._entries) + sum(len(sigs) for _, sigs in self._pending.values())

    def _keys(self, h: int) -> list[int]:
        return [(h >> lo) & ((1 << (hi - lo)) - 1) for lo, hi in zip(self._bounds, self._bounds[1:])]

    def _near(self, h: int, colour: np.ndarray) -> np.ndarray:
        """Rows of kept images within the Hamming distance and the colour difference of (h, colour)."""
        n = len(self._entries)
        if n <= self.BRUTE_FORCE_MAX:
            rows = np.flatnonzero(np.bitwise_count(self._hashes[:n] ^ np.uint64(h)) <= self.max_distance)
        else:
            self._index_upto(n)
            rows = [r for table, k in zip(self._tables, self._keys(h)) for r in table.get(k, ())]
            if not rows:
                return np.zeros(0, dtype=np.int64)
            rows = np.unique(np.asarray(rows, dtype=np.int64))
            rows = rows[np.bitwise_count(self._hashes[rows] ^ np.uint64(h)) <= self.max_distance]
        if len(rows):
            diff = np.abs(self._colours[rows] - colour.reshape(1, -1)).mean(axis=1)
            rows = rows[diff <= self.max_color_diff]
        return rows

    def _store(self, key: int, paths: tuple[str, ...], h: int, colour: np.ndarray) -> None:
        row = len(self._entries)
        if row == len(self._hashes):
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
            self._colours = np.concatenate([self._colours, np.zeros_like(self._colours)])
        self._hashes[row], self._colours[row] = h, colour.reshape(-1)
        self._entries.append((key, paths, len(paths)))

    def _index_upto(self, n: int) -> None:
        """Bring the chunk tables up to date with the first n rows (built only once the set is large)."""
        for row in range(self._indexed, n):
            for table, k in zip(self._tables, self._keys(int(self._hashes[row]))):
                table.setdefault(k, []).append(row)
        self._indexed = n

    def remember(self, key: int, paths: tuple[str, ...], sigs: list[tuple[int, np.ndarray]]) -> None:
        """Hold a record's image signatures (one per path) until it is compared and settled."""
        if sigs:
            self._pending[key] = (paths, sigs)

    def pending(self, key: int) -> tuple[tuple[str, ...], list] | None:
        """What remember() holds for `key` until it is settled: (paths, signatures)."""
        return self._pending.get(key)

    def empty_copy(self) -> ImageIndex:
        return ImageIndex(self.max_distance, self.max_color_diff, self.same_file_is_duplicate)

    def duplicates(self, key: int) -> list[int]:
        """Kept keys whose images all nearly match the remembered images of `key`, in order."""
        if key not in self._pending:
            return []
        paths, sigs = self._pending[key]
        # Candidates by the first image; multi-image records must then match image for image.
        found: set[int] = set()
        for row in self._near(*sigs[0]).tolist():
            other, o_paths, n = self._entries[row]
            if n != len(sigs) or (o_paths == paths and not self.same_file_is_duplicate) or other in found:
                continue
            first = self._first_row[other]
            if all(first + j in set(self._near(*sig).tolist()) for j, sig in enumerate(sigs[1:], 1)):
                found.add(other)
        return sorted(found)

    def keep(self, key: int) -> None:
        """`key` is kept: its images join those later records are compared with."""
        item = self._pending.pop(key, None)
        if item is None:
            return
        paths, sigs = item
        self._first_row[key] = len(self._entries)
        for sig in sigs:
            self._store(key, paths, *sig)

    def discard(self, key: int) -> None:
        """`key` is not kept: forget its images."""
        self._pending.pop(key, None)

    def add(self, key: int, paths: tuple[str, ...], sigs: list[tuple[int, np.ndarray]]) -> list[int]:
        """Remember, compare and keep a record in one step: earlier added keys whose images all nearly match."""
        self.remember(key, paths, sigs)
        found = self.duplicates(key)
        self.keep(key)
        return found


def dedupe_indexes(config: dict) -> tuple[AnswerIndex | None, ImageIndex | None]:
    """The answer and image indexes the config's `dedupe` section asks for (None where disabled)."""
    answers, images = config["dedupe"]["answers"], config["dedupe"]["images"]
    return (
        AnswerIndex(answers["threshold"], answers["ngram"], answers["num_perm"], answers["min_chars"])
        if answers["enabled"]
        else None,
        ImageIndex(images["max_distance"], images["max_color_diff"], images["same_file_is_duplicate"])
        if images["enabled"]
        else None,
    )
