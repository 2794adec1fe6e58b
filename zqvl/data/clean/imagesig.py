"""Image signatures for near-duplicate detection: a 64-bit pHash (imagehash's, bit for bit) and a 4x4 colour grid.

Images are decoded one at a time: a JPEG's pixels straight from libjpeg-turbo at a reduced DCT scale (through
simplejpeg: the same pixels as PIL's draft decode, without PIL's Python header parser and tile loop), anything
else by PIL. Everything after the 32x32 thumbnail runs as array operations over a whole batch of images, so the
per-image cost is the decoder's, not a few dozen small numpy calls.
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
COLOUR_GRID = (4, 4, 3)  # rows, columns, RGB
_BLOCK_ROWS = np.kron(np.eye(4), np.ones((1, 8)))  # 4 x 32
_BLOCK_COLS = np.kron(np.kron(np.eye(4), np.ones((8, 1))), np.eye(3))  # 96 x 12
# Float error of the matrix DCT is ~1e-10 of the largest coefficient; a coefficient closer than this to the
# median could fall on the other side of it than in scipy's FFT-based DCT, so such images take imagehash.
_TIE_MARGIN = 1e-9
_READ_WHOLE_MAX = 64 << 20  # bytes; beyond this PIL reads the file itself
_JPEG = ("JPEG",)
_JPEG_MAGIC = b"\xff\xd8\xff"
_LIBJPEG_COLOURS = ("YCbCr", "Gray")  # decoded to RGB by libjpeg exactly as PIL does; CMYK and the rest go to PIL


def thumbnail(path: str):
    """The 32x32 RGB image both signatures are computed from.

    JPEGs decode at a reduced scale (DCT scaling, >= 32 px), then one antialiased resize makes pHash's 32x32
    input. Measured on re-encoded and rescaled copies: bilinear with a reducing gap keeps copies within 6
    bits; a plain box filter from odd sizes does not.
    """
    from PIL import Image

    from zqvl.data.imagecheck import open_regular

    with open_regular(path) as fh:
        # Read whole: libjpeg and PIL parse from memory (~40 small reads a JPEG otherwise). A file too big to
        # hold is decoded from disk. The size comes from the descriptor: read(n) would allocate all n first.
        if os.fstat(fh.fileno()).st_size > _READ_WHOLE_MAX:
            return _pil_thumbnail(fh, fh.peek(3)[:3])
        data = fh.read()
    pixels = _libjpeg_pixels(data) if data[:3] == _JPEG_MAGIC else None
    if pixels is None:
        return _pil_thumbnail(io.BytesIO(data), data[:3])
    return _resized(Image.frombuffer("RGB", pixels.shape[1::-1], pixels, "raw", "RGB", 0, 1))


def _resized(image):
    from PIL import Image

    return image.resize((_N, _N), Image.Resampling.BILINEAR, reducing_gap=2.0)


def _pil_thumbnail(source, head: bytes):
    """thumbnail() by PIL alone (a JPEG at its draft scale), with PIL's checks and errors."""
    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(source, formats=_JPEG if head == _JPEG_MAGIC else None)
    except UnidentifiedImageError:
        raise UnidentifiedImageError("not a recognised image format") from None  # not "<BytesIO at 0x…>"
    with im:
        im.draft("RGB", (_N, _N))
        return _resized(im if im.mode == "RGB" else im.convert("RGB"))


def _draft_shape(width: int, height: int) -> tuple[int, int]:
    """(height, width) of PIL's JPEG draft for a 32 px target: the smallest of 1/8, 1/4, 1/2, 1 that keeps both
    sides >= 32, rounded up (JpegImageFile.draft)."""
    fit = min(width // _N, height // _N)
    scale = 8 if fit >= 8 else 4 if fit >= 4 else 2 if fit >= 2 else 1
    return (height + scale - 1) // scale, (width + scale - 1) // scale


def _libjpeg_pixels(data: bytes):
    """The RGB pixels (h, w, 3) of PIL's draft decode of a JPEG, or None where PIL must decide: colour spaces other
    than YCbCr and grey, anything libjpeg only warns about (strict: truncated, corrupt), and sizes past PIL's
    decompression-bomb limit. So a JPEG that PIL rejects, or reads differently, never takes this path."""
    import simplejpeg
    from PIL import Image

    try:
        height, width, colours, _ = simplejpeg.decode_jpeg_header(data)
        limit = Image.MAX_IMAGE_PIXELS
        if colours not in _LIBJPEG_COLOURS or (limit is not None and width * height > limit):
            return None
        shape = _draft_shape(width, height)
        pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=shape[0], min_width=shape[1])
    except ValueError:  # simplejpeg's one error type
        return None
    return pixels if pixels.shape[:2] == shape else None


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
    colours = ((_BLOCK_ROWS @ rgb @ _BLOCK_COLS) * (1 / 64)).astype(np.float32).reshape(-1, *COLOUR_GRID)
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
