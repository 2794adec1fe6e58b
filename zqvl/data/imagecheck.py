"""Per-image checks, run in worker processes: exists, non-empty, decodable, not a bomb, not tiny; plus a
content hash for duplicate detection. Kept free of heavy imports so worker start-up stays cheap.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError


@dataclass(frozen=True)
class ImageLimits:
    """Checked on the header's size before any decode. Pillow's global guard is left as it is (nothing here
    changes Pillow's settings), so an image past Pillow's own limit (~179M pixels) is a bomb whatever
    max_pixels says."""

    max_pixels: int = 50_000_000  # a decompression bomb beyond this (PIL's default warning is ~89M)
    min_side: int = 28  # smaller than two ViT patches: nothing to learn from
    decode: bool = True  # full (draft-scaled) decode catches truncated JPEGs that verify() misses


@dataclass(frozen=True)
class ImageResult:
    path: str
    digest: str | None = None  # blake2b of the bytes, for duplicate-file detection
    code: str | None = None  # None when the image is fine
    message: str = ""
    size: tuple[int, int] | None = None


def check_image(path: str, limits: ImageLimits = ImageLimits()) -> ImageResult:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return ImageResult(path, code="image.missing", message="file not found")
    except IsADirectoryError:
        return ImageResult(path, code="image.missing", message="is a directory, not a file")
    except OSError as e:
        return ImageResult(path, code="image.missing", message=f"unreadable: {e.strerror or e}")
    if not data:
        return ImageResult(path, code="image.empty", message="0-byte file")
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, (w, h) = im.format, im.size
            im.verify()
    except UnidentifiedImageError:
        return ImageResult(path, digest, "image.unreadable", "not a recognised image format")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:  # Pillow's guard, on open
        return ImageResult(path, digest, "image.bomb", str(e))
    except Exception as e:  # noqa: BLE001 - PIL raises many types for broken files
        return ImageResult(path, digest, "image.unreadable", f"verify failed: {e}")
    if w * h > limits.max_pixels:
        return ImageResult(
            path, digest, "image.bomb", f"{w}x{h} = {w * h:,} pixels > limit {limits.max_pixels:,}", (w, h)
        )
    if min(w, h) < limits.min_side:
        return ImageResult(path, digest, "image.tiny", f"{w}x{h} px, shorter side < {limits.min_side}", (w, h))
    if limits.decode:
        try:
            with Image.open(io.BytesIO(data)) as im:
                if fmt == "JPEG":
                    im.draft("RGB", (max(1, w // 8), max(1, h // 8)))  # decode at 1/8 scale: still reads every byte
                im.load()
        except Exception as e:  # noqa: BLE001
            return ImageResult(path, digest, "image.unreadable", f"decode failed: {e}", (w, h))
    return ImageResult(path, digest, size=(w, h))


def check_images(paths, limits: ImageLimits, workers: int):
    """Yield ImageResult for each path (unordered) using `workers` processes (1 = in-process)."""
    if workers <= 1:
        for p in paths:
            yield check_image(p, limits)
        return
    import functools
    import multiprocessing as mp

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    ctx = mp.get_context("fork")
    with ctx.Pool(workers) as pool:
        yield from pool.imap_unordered(functools.partial(check_image, limits=limits), paths, chunksize=32)
