"""Image signatures for near-duplicate detection: a 64-bit pHash (imagehash's, bit for bit) and a 4x4 colour grid.

Decoding goes through PIL one image at a time; everything after the 32x32 thumbnail runs as array operations
over a whole batch of images, so the per-image cost is the decoder's, not a few dozen small numpy calls.
"""

from __future__ import annotations

import io
import os

import numpy as np

# scipy's unnormalised DCT-II (what imagehash.phash applies along both axes of its 32x32 input), kept to
# the 8 lowest frequencies: phash's 8x8 block is then C @ grey @ C.T, two small matrix products.
_N, _LOW = 32, 8
_DCT = 2.0 * np.cos(np.pi * np.arange(_LOW)[:, None] * (2 * np.arange(_N)[None, :] + 1) / (2 * _N))
_DCT_T = np.ascontiguousarray(_DCT.T)
# 4x4 mean-colour grid as sums over 8x8 blocks: rows by _BLOCK_ROWS, (column, channel) pairs by _BLOCK_COLS.
_BLOCK_ROWS = np.kron(np.eye(4), np.ones((1, 8)))  # 4 x 32
_BLOCK_COLS = np.kron(np.kron(np.eye(4), np.ones((8, 1))), np.eye(3))  # 96 x 12
# Float error of the matrix DCT is ~1e-10 of the largest coefficient; a coefficient closer than this to the
# median could fall on the other side of it than in scipy's FFT-based DCT, so such images take imagehash.
_TIE_MARGIN = 1e-9
_READ_WHOLE_MAX = 64 << 20  # bytes; beyond this PIL reads the file itself
_JPEG = ("JPEG",)


def thumbnail(path: str):
    """The 32x32 RGB image both signatures are computed from.

    JPEGs decode at a reduced scale (DCT scaling, >= 32 px), then one antialiased resize makes pHash's 32x32
    input. Measured on re-encoded and rescaled copies: bilinear with a reducing gap keeps copies within 6
    bits; a plain box filter from odd sizes does not.
    """
    from PIL import Image, UnidentifiedImageError

    from zqvl.data.imagecheck import open_regular

    with open_regular(path) as fh:
        # Read whole, PIL parses the header from memory (~40 small reads a JPEG otherwise) and tries only the
        # JPEG plugin on JPEG bytes: ~8 us of ~160 an image. A file too big to hold is decoded from disk. The
        # size comes from the descriptor: read(n) would allocate all n bytes first.
        if os.fstat(fh.fileno()).st_size <= _READ_WHOLE_MAX:
            data = fh.read()
            source, head = io.BytesIO(data), data[:3]
        else:
            source, head = fh, fh.peek(3)[:3]
        try:
            im = Image.open(source, formats=_JPEG if head == b"\xff\xd8\xff" else None)
        except UnidentifiedImageError:
            raise UnidentifiedImageError("not a recognised image format") from None  # not "<BytesIO at 0x…>"
        with im:
            im.draft("RGB", (32, 32))
            if im.mode != "RGB":
                im = im.convert("RGB")
            return im.resize((32, 32), Image.Resampling.BILINEAR, reducing_gap=2.0)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """PIL's convert("L") of RGB rows (ITU-R 601-2 in 16-bit fixed point, rounded), on a whole batch at once."""
    c = rgb.reshape(*rgb.shape[:-1], -1, 3).astype(np.uint32)
    return ((c[..., 0] * 19595 + c[..., 1] * 38470 + c[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)


def signatures_of(thumbs: list) -> list[tuple[int, np.ndarray]]:
    """(64-bit pHash, 4x4 RGB mean-colour grid as float32) for each 32x32 RGB thumbnail.

    The hash equals imagehash.phash(thumb) (median-thresholded 8x8 low frequencies of the DCT of its
    greyscale); the grid is exact (sums of integers over 64).
    """
    if not thumbs:
        return []
    rgb = np.frombuffer(b"".join(t.tobytes() for t in thumbs), dtype=np.uint8).reshape(-1, _N, _N * 3)
    low = (_DCT @ _luma(rgb) @ _DCT_T).reshape(len(thumbs), -1)
    ordered = np.sort(low, axis=1)
    median = (ordered[:, 31] + ordered[:, 32]) / 2
    bits = low > median[:, None]
    near_tie = np.abs(low - median[:, None]).min(axis=1) <= _TIE_MARGIN * (
        1.0 + np.maximum(-ordered[:, 0], ordered[:, -1])
    )
    for i in np.flatnonzero(near_tie).tolist():
        import imagehash

        bits[i] = imagehash.phash(thumbs[i]).hash.flatten()
    packed = np.packbits(bits, axis=1).tobytes()
    colours = ((_BLOCK_ROWS @ rgb @ _BLOCK_COLS) * (1 / 64)).astype(np.float32).reshape(-1, 4, 4, 3)
    return [(int.from_bytes(packed[8 * i : 8 * i + 8], "big"), colours[i]) for i in range(len(thumbs))]


def image_signatures(paths: list[str]) -> list[tuple[int, np.ndarray] | Exception]:
    """image_signature() of each path, or the exception it raises (missing file, not an image, ...)."""
    out: list = [None] * len(paths)
    thumbs, where = [], []
    for i, path in enumerate(paths):
        try:
            thumbs.append(thumbnail(path))
            where.append(i)
        except Exception as e:  # noqa: BLE001 - PIL raises many types for broken files; the caller decides
            out[i] = e
    for i, sig in zip(where, signatures_of(thumbs)):
        out[i] = sig
    return out


def image_signature(path: str) -> tuple[int, np.ndarray]:
    """(64-bit pHash, 4x4 RGB mean-colour grid) of an image."""
    return signatures_of([thumbnail(path)])[0]
