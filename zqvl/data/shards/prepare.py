"""Worker side of `zqvl-data shard`: one chat.json value -> the tar members of one sample, or a skip reason.

Runs in the worker processes, so it imports nothing heavy. Images kept as they are travel as a path + size
(the main process copies the file into the tar with sendfile); only re-encoded images travel as bytes.
Reason codes and the pixel limit match `zqvl-data validate`'s, so a skipped record reads the same in both
reports. The pixel limit is checked on the header's size before anything is decoded; Pillow's global settings
are never changed, so its own bomb guard stays on as a backstop.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageOps, UnidentifiedImageError

from zqvl.data.checks import record_errors, schema_reason
from zqvl.data.imagecheck import ImageLimits
from zqvl.data.io import ImageRoot
from zqvl.data.schema import SchemaError, parse_record, record_label
from zqvl.data.shards.format import image_member_names, sample_key
from zqvl.data.shards.tar import Member, member_nbytes

KEPT_FORMATS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png"}  # MPO: phone JPEGs with a second frame appended
JPEG_TAIL = 4096  # where a complete JPEG's end marker must be


@dataclass(frozen=True)
class PrepareOptions:
    images_dir: str
    resize: int | None = None  # longest side in px; larger images are scaled down, aspect kept
    jpeg_quality: int = 95
    image_check: str = "fast"  # "fast": headers, PNG CRCs, JPEG end marker; "full": decode every image
    val_fraction: float = 0.0
    image_format: str = "keep"  # "keep": JPEG and PNG as they are; "jpg": everything as JPEG
    max_pixels: int = ImageLimits.max_pixels  # width * height above this: "image.bomb", never decoded
    min_side: int = ImageLimits.min_side  # a shorter side below this: "image.tiny", as in validate

    def kept_ext(self, fmt: str | None) -> str | None:
        """The member extension when an image of this format can be stored byte for byte, else None."""
        ext = KEPT_FORMATS.get(fmt)
        return ext if ext and self.image_format in ("keep", ext) else None


@dataclass
class Prepared:
    index: int
    id: str
    key: str
    members: list[Member]
    nbytes: int  # what the sample adds to a tar
    val: bool
    reencoded: int  # images resized or converted to PNG


@dataclass
class Skipped:
    index: int
    id: str
    reason: str
    message: str


class _Bad(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def in_val_split(record_id: str, fraction: float) -> bool:
    """Deterministic split by a hash of the id: the same record lands in the same split on every run."""
    if fraction <= 0:
        return False
    h = int.from_bytes(hashlib.sha256(record_id.encode("utf-8")).digest()[:8], "big")
    return h < fraction * 2.0**64


def prepare_chunk(chunk: list[tuple[int, object]], opts: PrepareOptions) -> list[Prepared | Skipped]:
    return [prepare(index, value, opts) for index, value in chunk]


def prepare(index: int, value: object, opts: PrepareOptions) -> Prepared | Skipped:
    try:
        record = parse_record(value, index)
    except SchemaError as e:
        reason = schema_reason(e)
        return Skipped(index, record_label(value, index), reason, reason.detail)
    # The same structure checks as `validate`: a record training cannot use never reaches a shard.
    problems = record_errors(record)
    if problems:
        return Skipped(index, record.id, problems[0], f"{record.label}: {problems[0].detail}")
    members, exts, reencoded = [], [], 0
    try:
        for rel in record.images:
            path, problem = _image_root(opts.images_dir).resolve(rel)  # a link out of images/ is never packed
            if problem:
                raise _Bad(*problem)
            ext, member, changed = _image_member(path, rel, opts)
            exts.append(ext)
            members.append(member)
            reencoded += changed
    except _Bad as e:
        return Skipped(index, record.id, e.code, f"{record.label}: {e}")
    for member, suffix in zip(members, image_member_names(exts)):
        member.suffix = suffix
    text = json.dumps(record.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    members.append(Member("json", len(text), data=text))
    return Prepared(
        index,
        record.id,
        sample_key(index, record.id),
        members,
        sum(member_nbytes(m.size) for m in members),
        in_val_split(record.id, opts.val_fraction),
        reencoded,
    )


@lru_cache(maxsize=4)
def _image_root(directory: str) -> ImageRoot:
    return ImageRoot(directory)  # one per worker and directory: real paths of directories cached


def _image_member(path: str, rel: str, opts: PrepareOptions) -> tuple[str, Member, bool]:
    try:
        st = os.stat(path)
    except OSError as e:
        raise _Bad("image.missing", f"image {rel!r}: {e.strerror or 'not found'}") from None
    if not stat.S_ISREG(st.st_mode):
        raise _Bad("image.missing", f"image {rel!r} is not a regular file")
    if st.st_size == 0:
        raise _Bad("image.empty", f"image {rel!r} is a 0-byte file")
    try:
        if opts.resize is None and opts.image_check == "fast":
            ext = opts.kept_ext(_fast_check(path, rel, opts))
            if ext:
                return ext, Member("", st.st_size, path=path), False
        with open(path, "rb") as fh:
            data = fh.read()
        im = Image.open(io.BytesIO(data))
        fmt = im.format
        _check_pixels(im.size, rel, opts)
        if fmt == "JPEG" and opts.resize:
            scale = opts.resize / max(im.size)
            if scale < 1:  # DCT-domain downscale first: much faster, still >= the target size
                im.draft("RGB", (int(im.size[0] * scale) + 1, int(im.size[1] * scale) + 1))
        im.load()
    except _Bad:
        raise
    except UnidentifiedImageError:
        raise _Bad("image.unreadable", f"image {rel!r}: not a recognised image format") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:  # Pillow's own guard
        raise _Bad("image.bomb", f"image {rel!r}: {e}") from None
    except Exception as e:  # noqa: BLE001 - PIL raises many types for broken files
        raise _Bad("image.unreadable", f"image {rel!r}: cannot decode ({e})") from None
    ext = opts.kept_ext(fmt)
    if ext and not (opts.resize and max(im.size) > opts.resize):
        return ext, Member("", len(data), path=path), False  # decoded fine, small enough: keep the bytes
    encoded, ext = _encode(im, fmt, opts)
    return ext, Member("", len(encoded), data=encoded), True


def _check_pixels(size: tuple[int, int], rel: str, opts: PrepareOptions) -> None:
    w, h = size
    if w * h > opts.max_pixels:
        raise _Bad("image.bomb", f"image {rel!r}: {w}x{h} = {w * h:,} pixels > limit {opts.max_pixels:,}")
    if w and h and min(w, h) < opts.min_side:
        raise _Bad("image.tiny", f"image {rel!r}: {w}x{h} px, shorter side < {opts.min_side}")


def _fast_check(path: str, rel: str, opts: PrepareOptions) -> str:
    """The image's format after a cheap integrity check; raises for broken files."""
    with open(path, "rb") as fh:
        if fh.read(3) == b"\xff\xd8\xff" and _jpeg_looks_whole(fh, rel, opts):
            return "JPEG"
    with Image.open(path) as im:  # PNG, other formats, and JPEGs the quick look doubts: Pillow decides
        fmt = im.format
        _check_pixels(im.size, rel, opts)
        if fmt == "PNG":
            im.verify()  # walks every chunk with its CRC: catches truncation
        elif fmt in ("JPEG", "MPO"):
            im.load()  # raises "image file is truncated" and the like
    return fmt


def _jpeg_looks_whole(fh, rel: str, opts: PrepareOptions) -> bool:
    """Marker segments up to the frame header are sound, the size is sane, and the end marker is there."""
    fh.seek(2)
    while True:
        seg = fh.read(4)
        if len(seg) < 4 or seg[0] != 0xFF:
            return False
        marker, length = seg[1], int.from_bytes(seg[2:4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOFn: the frame header
            frame = fh.read(5)
            if len(frame) < 5:
                return False
            height, width = int.from_bytes(frame[1:3], "big"), int.from_bytes(frame[3:5], "big")
            _check_pixels((width, height), rel, opts)
            if not width or not height:
                return False
            break
        if marker in (0xD9, 0xDA) or length < 2:  # EOI / SOS before any frame
            return False
        fh.seek(length - 2, 1)
    size = os.fstat(fh.fileno()).st_size
    fh.seek(max(0, size - JPEG_TAIL))
    return b"\xff\xd9" in fh.read()


def _encode(im: Image.Image, fmt: str | None, opts: PrepareOptions) -> tuple[bytes, str]:
    """Scale down to opts.resize (orientation baked in) and encode: JPEG stays JPEG, anything else PNG
    (or JPEG with --image-format jpg: transparency is flattened onto white)."""
    icc = im.info.get("icc_profile")
    im = ImageOps.exif_transpose(im)
    as_jpeg = fmt in ("JPEG", "MPO") or opts.image_format == "jpg"
    if as_jpeg and im.mode not in ("RGB", "L"):
        if "A" in im.getbands() or "transparency" in im.info:
            rgba = im.convert("RGBA")
            im = Image.new("RGB", rgba.size, (255, 255, 255))
            im.paste(rgba, mask=rgba.getchannel("A"))
        else:
            im = im.convert("RGB")
    elif not as_jpeg and im.mode not in ("RGB", "RGBA", "L", "LA"):
        alpha = "A" in im.getbands() or "transparency" in im.info
        im = im.convert("RGBA" if alpha else "RGB")
    if opts.resize and max(im.size) > opts.resize:
        scale = opts.resize / max(im.size)
        im = im.resize((max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale))), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if as_jpeg:
        im.save(buf, "JPEG", quality=opts.jpeg_quality, **extra)
        return buf.getvalue(), "jpg"
    im.save(buf, "PNG", **extra)
    return buf.getvalue(), "png"
