"""The image decoder behind the near-duplicate signatures: JPEGs decoded by libjpeg directly must give exactly what
PIL gives, and every JPEG that PIL would judge (refuse, warn about, read differently) must be left to PIL."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image

import zqvl.data.clean.imagesig as imagesig
from zqvl.data.clean.imagesig import image_signatures, thumbnail


def _photo(size: tuple[int, int], seed: int) -> Image.Image:
    """A gradient with noise and a few flat blocks: smooth areas, edges and texture for the decoder."""
    rng = np.random.default_rng(seed)
    w, h = size
    x = np.linspace(0, 255, w)[None, :, None] * np.linspace(0.3, 1.0, h)[:, None, None] * np.array([1.0, 0.6, 0.3])
    x = x + rng.normal(0, 12, (h, w, 3))
    x[h // 4 : h // 2, w // 5 : w // 2] = rng.integers(0, 256, 3)
    return Image.fromarray(np.clip(x, 0, 255).astype(np.uint8))


def _pil_only(data: bytes):
    return imagesig._pil_thumbnail(io.BytesIO(data), data[:3])


# sizes: below, at and just over the draft steps (32, 64, 128, 256 px a side), odd, tall, wide and big enough to
# be reduced after the draft (resize's reducing gap)
CASES = [
    ((160, 120), "RGB", {"quality": 90}),
    ((31, 20), "RGB", {"quality": 75}),
    ((32, 32), "RGB", {"quality": 95, "subsampling": 0}),
    ((33, 65), "L", {"quality": 80}),
    ((255, 480), "RGB", {"quality": 60, "subsampling": 1}),
    ((257, 256), "RGB", {"quality": 85, "progressive": True}),
    ((640, 427), "RGB", {"quality": 92, "optimize": True}),
    ((2049, 120), "L", {"quality": 70, "progressive": True}),
    ((1600, 1200), "RGB", {"quality": 88, "subsampling": 2}),
    ((100, 3000), "RGB", {"quality": 50}),
]


@pytest.mark.parametrize("size,mode,save", CASES, ids=[f"{s[0]}x{s[1]}-{m}" for s, m, _ in CASES])
def test_libjpeg_gives_pils_thumbnail_to_the_bit(tmp_path, size, mode, save):
    path = tmp_path / "a.jpg"
    _photo(size, seed=size[0] * size[1]).convert(mode).save(path, "JPEG", **save)
    data = path.read_bytes()
    assert imagesig._libjpeg_pixels(data) is not None  # the fast path was taken, so the comparison means something
    ours, pils = thumbnail(str(path)), _pil_only(data)
    assert ours.size == pils.size == (32, 32) and ours.mode == "RGB"
    assert ours.tobytes() == pils.tobytes()


def test_cmyk_and_bombs_and_non_jpegs_are_left_to_pil(tmp_path, monkeypatch):
    _photo((120, 90), 1).convert("CMYK").save(tmp_path / "cmyk.jpg", "JPEG")
    _photo((120, 90), 2).save(tmp_path / "a.png")
    cmyk = (tmp_path / "cmyk.jpg").read_bytes()
    assert imagesig._libjpeg_pixels(cmyk) is None  # libjpeg's CMYK to RGB is not PIL's
    assert thumbnail(str(tmp_path / "cmyk.jpg")).tobytes() == _pil_only(cmyk).tobytes()
    assert thumbnail(str(tmp_path / "a.png")).size == (32, 32)

    _photo((160, 120), 3).save(tmp_path / "big.jpg", "JPEG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 19,200 pixels: past twice the limit, PIL refuses it
    assert imagesig._libjpeg_pixels((tmp_path / "big.jpg").read_bytes()) is None
    (bomb,) = image_signatures([str(tmp_path / "big.jpg")])
    assert isinstance(bomb, Image.DecompressionBombError)


def test_a_truncated_jpeg_gets_pils_verdict_not_libjpegs_grey_fill(tmp_path):
    _photo((160, 120), 4).save(tmp_path / "a.jpg", "JPEG", quality=90)
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) * 2 // 3])
    assert imagesig._libjpeg_pixels(data[: len(data) * 2 // 3]) is None  # libjpeg only warns: strict refuses
    (cut,) = image_signatures([str(tmp_path / "cut.jpg")])
    assert isinstance(cut, OSError) and "truncated" in str(cut)  # PIL's own words, as before


_SEEDS = []
for i, (size, mode, save) in enumerate([((160, 120), "RGB", {}), ((90, 70), "L", {"progressive": True})]):
    buffer = io.BytesIO()
    _photo(size, 10 + i).convert(mode).save(buffer, "JPEG", quality=80, **save)
    _SEEDS.append(buffer.getvalue())


def _damaged(data: bytes, rng: random.Random) -> bytes:
    """The JPEG with 1-3 random injuries: a byte anywhere or in the headers, a marker inserted, cut, junk appended."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["byte", "header byte", "marker", "cut", "tail"])
        if kind == "byte":
            data[rng.randrange(2, len(data))] = rng.randrange(256)
        elif kind == "header byte":  # markers, tables and frame header live in the first few hundred bytes
            data[rng.randrange(2, min(700, len(data)))] = rng.randrange(256)
        elif kind == "marker":
            at = rng.randrange(2, min(600, len(data)))
            data[at:at] = bytes([0xFF, rng.randrange(0xC0, 0x100)]) + rng.randbytes(rng.randrange(13))
        elif kind == "cut" and len(data) > 4:
            del data[rng.randrange(3, len(data)) :]
        else:
            data += rng.randbytes(rng.randint(1, 64))
    return bytes(data)


def test_a_damaged_jpeg_that_libjpeg_decodes_is_one_pil_decodes_the_same():
    rng, taken, left = random.Random(0), 0, 0
    for _ in range(800):
        data = _damaged(rng.choice(_SEEDS), rng)
        pixels = imagesig._libjpeg_pixels(data)
        if pixels is None:
            left += 1  # PIL decides, as for any other file
            continue
        taken += 1
        with Image.open(io.BytesIO(data), formats=("JPEG",)) as im:  # must not raise: PIL has to accept it too
            im.draft("RGB", (32, 32))
            assert np.array_equal(pixels, np.asarray(im.convert("RGB")))
    assert taken > 100 and left > 100  # both ways were exercised
