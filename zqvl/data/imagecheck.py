"""Per-image checks, run in worker processes: exists, non-empty, decodable, not a bomb, not tiny; plus a
content hash for duplicate detection. Kept free of heavy imports so worker start-up stays cheap.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
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


class NotAFile(OSError):
    """The path names a FIFO, socket, device or directory: opened without blocking, never read."""


def open_regular(path: str):
    """The file at `path` opened for reading, or NotAFile. O_NONBLOCK makes opening a FIFO return at once
    (a plain open blocks until a writer appears); fstat on the open descriptor then says what it is."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotAFile(f"{path}: not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@dataclass(frozen=True)
class ImageResult:
    path: str
    digest: str | None = None  # blake2b of the bytes, for duplicate-file detection
    code: str | None = None  # None when the image is fine
    message: str = ""
    size: tuple[int, int] | None = None


def check_image(path: str, limits: ImageLimits = ImageLimits()) -> ImageResult:
    try:
        with open_regular(path) as fh:
            data = fh.read()
    except NotAFile:
        return ImageResult(path, code="image.not_a_file", message="not a regular file (FIFO, socket, device)")
    except FileNotFoundError:
        return ImageResult(path, code="image.missing", message="file not found")
    except IsADirectoryError:
        return ImageResult(path, code="image.not_a_file", message="is a directory, not a file")
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
