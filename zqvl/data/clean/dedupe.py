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


class AnswerIndex:
    """MinHash-LSH over character n-grams of the answers; candidates verified on the signatures.

    The signatures are datasketch's affine32 MinHash (its permutations, seed 1, identity hash over our
    n-gram ids), computed here as one numpy expression per record: bit for bit what `MinHash.update_batch`
    gives, without its per-call overhead. The LSH is datasketch's banding (21 bands of 6 rows for 128
    permutations: exact equality of a band's values makes a candidate), kept as one dict per band.
    """

    ROWS = 6    # per LSH band

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
        sig = self.signature(text)
        if sig is None:
            return []
        numbers = hash(tuple(_DIGITS.findall(text)))
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
        if row == len(self._keys):
            self._signatures = np.concatenate([self._signatures, np.zeros_like(self._signatures)])
            self._keys = np.concatenate([self._keys, np.zeros_like(self._keys)])
            self._numbers = np.concatenate([self._numbers, np.zeros_like(self._numbers)])
        self._signatures[row], self._keys[row], self._numbers[row] = sig, key, numbers
        self._n += 1
        return found


# scipy's unnormalised DCT-II (what imagehash.phash applies along both axes of its 32x32 input), kept to
# the 8 lowest frequencies: phash's 8x8 block is then C @ grey @ C.T, two small matrix products.
_PHASH_N, _PHASH_LOW = 32, 8
_DCT = 2.0 * np.cos(np.pi * np.arange(_PHASH_LOW)[:, None] * (2 * np.arange(_PHASH_N)[None, :] + 1) / (2 * _PHASH_N))
_DCT_T = np.ascontiguousarray(_DCT.T)
# 4x4 mean-colour grid as sums over 8x8 blocks: rows by _BLOCK_ROWS, (column, channel) pairs by _BLOCK_COLS.
_BLOCK_ROWS = np.kron(np.eye(4), np.ones((1, 8)))                       # 4 x 32
_BLOCK_COLS = np.kron(np.kron(np.eye(4), np.ones((8, 1))), np.eye(3))   # 96 x 12
# Float error of the matrix DCT is ~1e-10 of the largest coefficient; a coefficient closer than this to the
# median could fall on the other side of it than in scipy's FFT-based DCT, so such images take imagehash.
_TIE_MARGIN = 1e-9


def _phash_bits(small) -> np.ndarray:
    """imagehash.phash(small) as 64 booleans (row-major), for a 32x32 RGB image; bit-identical to it."""
    grey = np.frombuffer(small.convert("L").tobytes(), dtype=np.uint8).reshape(_PHASH_N, _PHASH_N)
    low = (_DCT @ grey @ _DCT_T).ravel()
    ordered = np.sort(low)
    median = (ordered[31] + ordered[32]) / 2
    if np.abs(low - median).min() <= _TIE_MARGIN * (1.0 + max(-ordered[0], ordered[-1])):
        import imagehash
        return imagehash.phash(small).hash.flatten()
    return low > median


def image_signature(path: str) -> tuple[int, np.ndarray]:
    """(64-bit pHash, 4x4 RGB mean-colour grid) of an image.

    JPEGs decode at a reduced scale (DCT scaling, >= 32 px), then one antialiased resize makes pHash's 32x32
    input. Measured on re-encoded and rescaled copies: bilinear with a reducing gap keeps copies within 6
    bits; a plain box filter from odd sizes does not. The hash is imagehash.phash's, computed with a
    precomputed DCT matrix; the grid is exact (sums of integers over 64, as float32).
    """
    from PIL import Image
    with Image.open(path) as im:
        im.draft("RGB", (32, 32))
        if im.mode != "RGB":
            im = im.convert("RGB")
        small = im.resize((32, 32), Image.Resampling.BILINEAR, reducing_gap=2.0)
    value = int.from_bytes(np.packbits(_phash_bits(small)).tobytes(), "big")
    rgb = np.frombuffer(small.tobytes(), dtype=np.uint8).reshape(32, 96)
    colours = ((_BLOCK_ROWS @ rgb @ _BLOCK_COLS) * (1 / 64)).astype(np.float32).reshape(4, 4, 3)
    return value, colours


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
