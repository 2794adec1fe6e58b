"""Near-duplicate answers (character n-gram MinHash + LSH) and near-duplicate images (pHash + colour).

Both indexes see records in input order and answer "which earlier records is this one a near-duplicate of?";
the runner then keeps the first of each group among the records it keeps. Character n-grams, not words:
Chinese has no spaces, so word-based MinHash (as in English pipelines) would see one giant token.
pHash looks at luminance only, so two different drawings with the same layout can hash alike; a 4×4 mean
colour grid confirms that the pictures, not just their outlines, match.
"""
from __future__ import annotations

import re

import numpy as np

from zqvl.data.clean.imagesig import image_signature, image_signatures  # noqa: F401 - part of this API
from zqvl.data.clean.text import nfkc
from zqvl.data.schema import GPT, Record

_NON_WORD = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"\d+")


def answer_text(record: Record) -> str:
    """All answers of a record, normalised: NFKC, case-folded, punctuation and spaces removed."""
    return _NON_WORD.sub("", nfkc("\n".join(t.value for t in record.turns if t.role == GPT)).casefold())


def _shingle_ids(text: str, n: int) -> np.ndarray:
    """Character n-grams as 32-bit integers (a polynomial hash of their code points), vectorised; repeats
    are harmless (a MinHash keeps minima)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    h = np.zeros(len(codes) - n + 1, dtype=np.uint32)
    for k in range(n):   # wrap-around uint32 arithmetic is the hash; the MinHash mixes it further (fmix)
        h = h * np.uint32(16777619) + codes[k:len(codes) - n + 1 + k]
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


def _pairs_within_groups(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(earlier, later) row pairs with group[earlier] == group[later] and earlier < later, all of them."""
    n = len(group)
    order = np.argsort(group, kind="stable")             # rows ascending within each group
    sorted_group = group[order]
    first = np.ones(n, dtype=bool)
    first[1:] = sorted_group[1:] != sorted_group[:-1]
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0))   # where each one's group starts
    rank = np.arange(n) - start                           # earlier members of the same group
    later = np.repeat(order, rank)
    offset = np.arange(len(later)) - np.repeat(np.cumsum(rank) - rank, rank)
    earlier = order[np.repeat(start, rank) + offset]
    return earlier, later


class AnswerIndex:
    """MinHash-LSH over character n-grams of the answers; candidates verified on the signatures.

    The signatures are datasketch's affine32 MinHash (its permutations, seed 1, identity hash over our
    n-gram ids), computed here as one numpy expression per record: bit for bit what `MinHash.update_batch`
    gives, without its per-call overhead. The LSH is datasketch's banding (21 bands of 6 rows for 128
    permutations: exact equality of a band's values makes a candidate), kept as one dict per band.

    `add` answers at once; `defer` + `resolve` give the same answers for a whole set in one pass of array
    operations (the runner only needs them once the scan is over). Use one style per index.
    """

    ROWS = 6                # per LSH band
    BATCH_GRAMS = 16_384    # characters per batch of signatures() (x num_perm x 4 bytes of scratch)
    MAX_PAIRS = 5_000_000   # candidate pairs resolve() handles with arrays; beyond, it replays add()

    def __init__(self, threshold: float = 0.7, ngram: int = 3, num_perm: int = 128, min_chars: int = 15):
        from datasketch import MinHash
        if num_perm < self.ROWS * 4:
            raise ValueError(f"num_perm must be at least {self.ROWS * 4}")
        self.threshold, self.ngram, self.min_chars = threshold, ngram, min_chars
        perms = MinHash(num_perm=num_perm, seed=1, scheme="affine32").permutations
        self._a, self._b = perms[0].astype(np.uint32), perms[1].astype(np.uint32)
        self._num_perm = num_perm
        # 21 bands of 6 rows (128 perms): a pair at Jaccard 0.8 becomes a candidate with probability 0.998,
        # at 0.7 with 0.93, while template-alike answers (J ~ 0.4) rarely do; all values then verify it.
        self._band_bytes = self.ROWS * 4
        self._bands_end = (num_perm // self.ROWS) * self._band_bytes
        self._tables: list[dict[bytes, tuple[int, ...]]] = [dict() for _ in range(num_perm // self.ROWS)]
        self._signatures = np.zeros((1024, num_perm), dtype=np.uint32)
        self._keys = np.zeros(1024, dtype=np.int64)       # row -> record key
        self._numbers = np.zeros(1024, dtype=np.int64)    # row -> hash of the answer's numbers
        self._n = 0
        self._deferred = False

    def signature(self, text: str) -> np.ndarray | None:
        """The MinHash values of `text` (uint32, one per permutation); None when it is too short to judge."""
        if len(text) < self.min_chars:
            return None
        ids = _shingle_ids(text, self.ngram)
        if not len(ids):
            return np.full(self._num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
        mixed = _fmix32(ids)[:, None]
        return (mixed * self._a + self._b).min(axis=0)

    def add(self, key: int, text: str) -> list[tuple[int, float]]:
        """Index `key`; return the earlier keys it nearly duplicates, with the estimated Jaccard.

        Answers whose numbers differ ("售价29.99美元" / "售价39.99美元") state different facts: never duplicates.
        """
        if self._deferred:
            raise RuntimeError("AnswerIndex: add() after defer(); use one style per index")
        sig = self.signature(text)
        if sig is None:
            return []
        return self._add_signature(key, sig, hash(tuple(_DIGITS.findall(text))))

    def _add_signature(self, key: int, sig: np.ndarray, numbers: int) -> list[tuple[int, float]]:
        row, raw, step = self._n, sig.tobytes(), self._band_bytes
        # Buckets are tuples, not lists: a tuple of ints leaves the garbage collector's tracking, and with a
        # list per band and record the collector's full passes come to cost more than the lookups.
        candidates: set[int] = set()
        one = (row,)
        for table, lo in zip(self._tables, range(0, self._bands_end, step)):
            band = raw[lo:lo + step]
            bucket = table.get(band)
            if bucket is None:
                table[band] = one
            else:
                candidates.update(bucket)
                table[band] = bucket + one
        found: list[tuple[int, float]] = []
        if candidates:
            rows = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
            rows = rows[self._numbers[rows] == numbers]
            sims = (self._signatures[rows] == sig).mean(axis=1)
            found = sorted((int(self._keys[r]), float(j)) for r, j in zip(rows, sims) if j >= self.threshold)
        self._store(key, sig, numbers)
        return found

    def _store(self, key: int, sig: np.ndarray, numbers: int) -> None:
        row = self._n
        if row == len(self._keys):
            self._signatures = np.concatenate([self._signatures, np.zeros_like(self._signatures)])
            self._keys = np.concatenate([self._keys, np.zeros_like(self._keys)])
            self._numbers = np.concatenate([self._numbers, np.zeros_like(self._numbers)])
        self._signatures[row], self._keys[row], self._numbers[row] = sig, key, numbers
        self._n += 1

    def signatures(self, texts: list[str]) -> np.ndarray:
        """signature() of each text (all at least min_chars long), as rows: a few array operations for the
        lot instead of a dozen per text. The n-grams of all texts are hashed in one pass over their
        concatenation (those that straddle two texts are dropped), then the minima are taken per text."""
        n, out = self.ngram, np.empty((len(texts), self._num_perm), dtype=np.uint32)
        if any(len(t) < n - 1 for t in texts):    # what signature() does then (it raises)
            return np.stack([self.signature(t) for t in texts])
        lo = 0
        while lo < len(texts):                    # bounded groups: the n-gram x permutation array stays small
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
        for k in range(1, n):                     # _shingle_ids' polynomial hash, Horner form
            h = h * np.uint32(16777619) + codes[k:k + m]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        counts = lengths - n + 1                  # n-grams per text (0 when a text has n-1 characters)
        first = np.cumsum(counts) - counts        # where each text's n-grams start among the kept ones
        keep = np.arange(int(counts.sum())) + np.repeat(np.cumsum(lengths) - lengths - first, counts)
        values = _fmix32(h[keep])[:, None] * self._a + self._b
        rows = np.full((len(texts), self._num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
        some = counts > 0
        if some.any():
            rows[some] = np.minimum.reduceat(values, first[some], axis=0)
        return rows

    def defer(self, key: int, text: str) -> None:
        """Index `key` now; its near-duplicates among the earlier keys come from resolve()."""
        self.defer_many([key], [text])

    def defer_many(self, keys: list[int], texts: list[str]) -> None:
        """defer() each (key, text) in order."""
        if any(self._tables):
            raise RuntimeError("AnswerIndex: defer() after add(); use one style per index")
        judged = [(k, t) for k, t in zip(keys, texts) if len(t) >= self.min_chars]
        if not judged:
            return
        self._deferred = True
        for (key, text), sig in zip(judged, self.signatures([t for _, t in judged])):
            self._store(key, sig, hash(tuple(_DIGITS.findall(text))))

    def resolve(self) -> dict[int, list[tuple[int, float]]]:
        """For every deferred key with near-duplicates: what add() would have returned for it, in order."""
        n, rows, step = self._n, self.ROWS, self._band_bytes
        if n < 2:
            return {}
        bands = self._signatures[:n, :self._bands_end // 4].reshape(n, -1, rows)
        pairs, count = [], 0
        for b in range(bands.shape[1]):
            band = np.ascontiguousarray(bands[:, b]).view(np.dtype((np.void, step))).ravel()
            group = np.unique(band, return_inverse=True)[1].ravel()
            earlier, later = _pairs_within_groups(group)
            count += len(later)
            if count > self.MAX_PAIRS:   # huge groups of equal answers: the row-by-row index needs less memory
                return self._replay()
            pairs.append(earlier * n + later)
        code = np.unique(np.concatenate(pairs))
        earlier, later = code // n, code % n
        same_numbers = self._numbers[earlier] == self._numbers[later]
        earlier, later = earlier[same_numbers], later[same_numbers]
        found: dict[int, list[tuple[int, float]]] = {}
        for lo in range(0, len(later), 1 << 16):
            e, l_ = earlier[lo:lo + (1 << 16)], later[lo:lo + (1 << 16)]
            sims = (self._signatures[e] == self._signatures[l_]).mean(axis=1)
            for i, j, sim in zip(e.tolist(), l_.tolist(), sims.tolist()):
                if sim >= self.threshold:
                    found.setdefault(int(self._keys[j]), []).append((int(self._keys[i]), sim))
        return {key: sorted(hits) for key, hits in found.items()}

    def _replay(self) -> dict[int, list[tuple[int, float]]]:
        """resolve() by adding the stored rows one by one to a fresh index (same results, less memory)."""
        fresh = AnswerIndex(self.threshold, self.ngram, self._num_perm, self.min_chars)
        fresh._a, fresh._b = self._a, self._b
        found = {}
        for row in range(self._n):
            sig, numbers, key = self._signatures[row], int(self._numbers[row]), int(self._keys[row])
            hits = fresh._add_signature(key, sig, numbers)
            if hits:
                found[key] = hits
        return found


class ImageIndex:
    """Earlier images within a pHash Hamming distance and a colour difference.

    Up to BRUTE_FORCE_MAX images, one vectorised XOR + popcount over all of them is fastest. Beyond that a
    multi-index takes over: the 64 bits split into max_distance+1 chunks, and a match within the distance
    shares at least one chunk exactly (pigeonhole), so only those candidates are compared.
    """

    BRUTE_FORCE_MAX = 100_000

    def __init__(self, max_distance: int = 6, max_color_diff: float = 3.0, same_file_is_duplicate: bool = False):
        self.max_distance, self.max_color_diff = max_distance, max_color_diff
        self.same_file_is_duplicate = same_file_is_duplicate
        chunks = max_distance + 1
        self._bounds = [round(64 * i / chunks) for i in range(chunks + 1)]
        self._tables: list[dict[int, list[int]]] = [dict() for _ in range(chunks)]
        self._hashes = np.zeros(1024, dtype=np.uint64)
        self._colours = np.zeros((1024, 48), dtype=np.float32)
        self._entries: list[tuple[int, tuple[str, ...], int]] = []   # (key, paths, n images) per image row
        self._first_row: dict[int, int] = {}
        self._indexed = 0

    def _keys(self, h: int) -> list[int]:
        return [(h >> lo) & ((1 << (hi - lo)) - 1) for lo, hi in zip(self._bounds, self._bounds[1:])]

    def _near(self, h: int, colour: np.ndarray) -> np.ndarray:
        """Rows of earlier images within the Hamming distance and the colour difference of (h, colour)."""
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

    def add(self, key: int, paths: tuple[str, ...], sigs: list[tuple[int, np.ndarray]]) -> list[int]:
        """Index a record's images; return earlier keys whose images all nearly match, in order."""
        if not sigs:
            return []
        # Candidates by the first image; multi-image records must then match image for image.
        found = []
        for row in self._near(*sigs[0]):
            other, o_paths, n = self._entries[row]
            if n != len(sigs) or (o_paths == paths and not self.same_file_is_duplicate) or other in found:
                continue
            first = self._first_row[other]
            if all(first + j in set(self._near(*sig).tolist()) for j, sig in enumerate(sigs[1:], 1)):
                found.append(other)
        self._first_row[key] = len(self._entries)
        for sig in sigs:
            self._store(key, paths, *sig)
        return sorted(found)
