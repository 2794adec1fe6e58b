"""Image preprocessing: PIL image -> normalised (3, H, W) float tensor, as each vision tower was trained.

Two modes only. "plain" resizes to H x W without keeping the aspect ratio and crops nothing (Qwen-VL's 448 px,
SigLIP): text at the image edges survives. "crop" resizes the shortest edge then centre-crops (CLIP).
The settings are saved as an HF `preprocessor_config.json` with the keys of transformers' CLIP/SigLIP image
processors, so `AutoImageProcessor` reproduces exactly this preprocessing (the hf-llava export relies on it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from zqvl.errors import UsageError

FILE_NAME = "preprocessor_config.json"
BICUBIC = 3  # PIL.Image.Resampling.BICUBIC, also the value HF stores as "resample"


@dataclass(frozen=True)
class ImageProcessor:
    height: int
    width: int
    resize: str  # "plain" | "crop"
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    image_processor_type: str = "CLIPImageProcessor"  # the transformers class that reproduces this preprocessing

    def __post_init__(self):
        if self.resize not in ("plain", "crop"):
            raise ValueError(f"resize must be 'plain' or 'crop', got {self.resize!r}")
        if self.resize == "crop" and self.height != self.width:
            raise ValueError("crop mode needs a square crop")

    # -- processing ------------------------------------------------------------------------------------------
    def resized(self, image: Image.Image) -> Image.Image:
        """RGB image of exactly width x height (before normalisation)."""
        image = _to_rgb(image)
        if self.resize == "plain":
            return image.resize((self.width, self.height), resample=BICUBIC)
        return _centre_crop(_shortest_edge_resize(image, self.height), self.height)

    def _fill(self, image: Image.Image, out: np.ndarray) -> None:
        """Write one normalised (3, H, W) image into `out`: (x/255 - mean)/std as one multiply-subtract."""
        pixels = np.asarray(self.resized(image)).transpose(2, 0, 1)
        scale = (1.0 / (255.0 * np.asarray(self.std, np.float64))).astype(np.float32)[:, None, None]
        offset = (np.asarray(self.mean, np.float64) / np.asarray(self.std, np.float64)).astype(np.float32)
        np.multiply(pixels, scale, out=out)
        out -= offset[:, None, None]

    def to_array(self, image: Image.Image) -> np.ndarray:
        """One image -> float32 array (3, H, W), normalised."""
        out = np.empty((3, self.height, self.width), np.float32)
        self._fill(image, out)
        return out

    def __call__(self, images: list[Image.Image]):
        """Images -> one (N, 3, H, W) float32 tensor, filled in place (no per-image copies)."""
        import torch

        batch = torch.empty(len(images), 3, self.height, self.width, dtype=torch.float32)
        target = batch.numpy()
        for i, image in enumerate(images):
            self._fill(image, target[i])
        return batch

    # -- HF-style file ---------------------------------------------------------------------------------------
    def to_hf_dict(self) -> dict:
        plain = self.resize == "plain"
        return {
            "image_processor_type": self.image_processor_type,
            "do_convert_rgb": True,
            "do_resize": True,
            "size": {"height": self.height, "width": self.width} if plain else {"shortest_edge": self.height},
            "resample": BICUBIC,
            "do_center_crop": not plain,
            "crop_size": {"height": self.height, "width": self.width},
            "do_rescale": True,
            "rescale_factor": 1 / 255,
            "do_normalize": True,
            "image_mean": list(self.mean),
            "image_std": list(self.std),
        }

    @classmethod
    def from_hf_dict(cls, d: dict, source: str = "preprocessor config") -> ImageProcessor:
        """Read zqvl's own file or a CLIP/SigLIP checkpoint's preprocessor_config.json (old and new key styles)."""
        for flag in ("do_resize", "do_rescale", "do_normalize"):
            if d.get(flag, True) is False:
                raise UsageError(f"{source}: {flag}=false is not supported (zqvl always resizes, rescales, normalises)")
        if d.get("resample", BICUBIC) != BICUBIC:
            raise UsageError(f"{source}: only bicubic resampling (resample=3) is supported, got {d.get('resample')}")
        size, crop = _as_size(d.get("size")), _as_size(d.get("crop_size"))
        mean, std = tuple(d["image_mean"]), tuple(d["image_std"])
        kind = d.get("image_processor_type") or "CLIPImageProcessor"
        kind = kind[:-3] if kind.endswith("Pil") else kind[:-4] if kind.endswith("Fast") else kind
        if d.get("do_center_crop", False):
            side = crop.get("height") or crop.get("shortest_edge")
            if not side or crop.get("height", side) != crop.get("width", side):
                raise UsageError(f"{source}: centre crop needs a square crop_size, got {d.get('crop_size')}")
            if size.get("shortest_edge", side) != side:
                raise UsageError(f"{source}: resize to {size} then crop to {side} is not supported")
            return cls(side, side, "crop", mean, std, kind)
        if "height" in size and "width" in size:
            return cls(size["height"], size["width"], "plain", mean, std, kind)
        raise UsageError(f"{source}: size {d.get('size')} without a centre crop gives images of varying size")

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / FILE_NAME
        path.write_text(json.dumps(self.to_hf_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> ImageProcessor:
        path = Path(directory) / FILE_NAME
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot read {path}: {e}") from None
        return cls.from_hf_dict(d, str(path))

    def describe(self) -> str:
        how = "plain resize, no crop" if self.resize == "plain" else "shortest-edge resize + centre crop"
        return f"{self.width}x{self.height} {how}"

    def replace(self, **changes) -> ImageProcessor:
        return ImageProcessor(**{**asdict(self), **changes})


def _as_size(value) -> dict:
    if value is None:
        return {}
    if isinstance(value, int):  # old configs: "size": 224 (shortest edge), "crop_size": 224
        return {"shortest_edge": value, "height": value, "width": value}
    return dict(value)


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB; transparency is composited onto white (as transformers does), so transparent text stays visible."""
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def _shortest_edge_resize(image: Image.Image, short_side: int) -> Image.Image:
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(short_side * long / short)  # truncation, as transformers computes it
    size = (short_side, new_long) if width <= height else (new_long, short_side)
    return image.resize(size, resample=BICUBIC)


def _centre_crop(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    top, left = (height - side) // 2, (width - side) // 2
    return image.crop((left, top, left + side, top + side))
