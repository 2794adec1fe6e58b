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


def _shingle_ids(text: str, n: int) -> list[int]:
    """Character n-grams as 32-bit integers (a polynomial hash of their code points), vectorised; repeats
    are harmless (a MinHash keeps minima)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    h = np.zeros(len(codes) - n + 1, dtype=np.uint32)
    for k in range(n):   # wrap-around uint32 arithmetic is the hash; datasketch mixes it further (fmix)
        h = h * np.uint32(16777619) + codes[k:len(codes) - n + 1 + k]
    return h.tolist()


def _identity(x: int) -> int:
    return x


class AnswerIndex:
    """MinHash-LSH (datasketch) over character n-grams of the answers; candidates verified on the signatures."""

    ROWS = 6    # per LSH band

    def __init__(self, threshold: float = 0.7, ngram: int = 3, num_perm: int = 128, min_chars: int = 15):
        from datasketch import MinHash, MinHashLSH
        if num_perm < self.ROWS * 4:
            raise ValueError(f"num_perm must be at least {self.ROWS * 4}")
        self.threshold, self.ngram, self.min_chars = threshold, ngram, min_chars
        self._MinHash = MinHash
        seed = MinHash(num_perm=num_perm, seed=1, hashfunc=_identity)
        self._perms, self._scheme, self._num_perm = seed.permutations, seed.scheme, num_perm
        # 21 bands of 6 rows (128 perms): a pair at Jaccard 0.8 becomes a candidate with probability 0.998,
        # at 0.7 with 0.93, while template-alike answers (J ~ 0.4) rarely do; all values then verify it.
        self._lsh = MinHashLSH(num_perm=num_perm, params=(num_perm // self.ROWS, self.ROWS))
        self._signatures = np.zeros((1024, num_perm), dtype=np.uint32)
        self._keys = np.zeros(1024, dtype=np.int64)       # row -> record key
        self._numbers = np.zeros(1024, dtype=np.int64)    # row -> hash of the answer's numbers
        self._n = 0
        self._m = None

    def signature(self, text: str):
        """The MinHash of `text` (one reused object: LSH copies what it needs at insert time)."""
        if len(text) < self.min_chars:
            return None
        if self._m is None:
            self._m = self._MinHash(num_perm=self._num_perm, seed=1, hashfunc=_identity, permutations=self._perms,
                                    scheme=self._scheme)
        self._m.clear()
        self._m.update_batch(_shingle_ids(text, self.ngram))
        return self._m

    def add(self, key: int, text: str) -> list[tuple[int, float]]:
        """Index `key`; return the earlier keys it nearly duplicates, with the estimated Jaccard.

        Answers whose numbers differ ("售价29.99美元" / "售价39.99美元") state different facts: never duplicates.
        """
        m = self.signature(text)
        if m is None:
            return []
        numbers = hash(tuple(_DIGITS.findall(text)))
        found: list[tuple[int, float]] = []
        rows = np.fromiter(self._lsh.query(m), dtype=np.int64)
        if len(rows):
            rows = rows[self._numbers[rows] == numbers]
            sims = (self._signatures[rows] == m.hashvalues).mean(axis=1)
            found = sorted((int(self._keys[r]), float(j)) for r, j in zip(rows, sims) if j >= self.threshold)
        row = self._n
        if row == len(self._keys):
            self._signatures = np.concatenate([self._signatures, np.zeros_like(self._signatures)])
            self._keys = np.concatenate([self._keys, np.zeros_like(self._keys)])
            self._numbers = np.concatenate([self._numbers, np.zeros_like(self._numbers)])
        self._lsh.insert(row, m, check_duplication=False)
        self._signatures[row], self._keys[row], self._numbers[row] = m.hashvalues, key, numbers
        self._n += 1
        return found


def image_signature(path: str) -> tuple[int, np.ndarray]:
    """(64-bit pHash, 4x4 RGB mean-colour grid) of an image.

    JPEGs decode at a reduced scale (DCT scaling, >= 32 px), then one antialiased resize makes pHash's 32x32
    input. Measured on re-encoded and rescaled copies: bilinear with a reducing gap keeps copies within 6
    bits; a plain box filter from odd sizes does not.
    """
    import imagehash
    from PIL import Image
    with Image.open(path) as im:
        im.draft("RGB", (32, 32))
        if im.mode != "RGB":
            im = im.convert("RGB")
        small = im.resize((32, 32), Image.Resampling.BILINEAR, reducing_gap=2.0)
    bits = imagehash.phash(small).hash.flatten()
    value = int.from_bytes(np.packbits(bits).tobytes(), "big")
    colours = np.asarray(small, dtype=np.float32).reshape(4, 8, 4, 8, 3).mean(axis=(1, 3))
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
