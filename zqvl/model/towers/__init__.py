"""Vision towers behind one small interface.

A tower is an nn.Module called as `tower(pixel_values)` with pixel_values (N, 3, H, W) that returns features
(N, tower.num_tokens, tower.hidden_size). Families (presets.VISION_FAMILIES): Qwen-VL (ported here), CLIP and
SigLIP (transformers). `load_vision` resolves a preset name or a local directory into config, weights and the
matching image preprocessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from zqvl.errors import UsageError
from zqvl.model.image_processing import FILE_NAME as PREPROCESSOR_FILE
from zqvl.model.image_processing import ImageProcessor
from zqvl.model.presets import VISION_FAMILIES, VISION_PRESETS

FAMILY_BY_MODEL_TYPE = {spec["model_type"]: name for name, spec in VISION_FAMILIES.items()}


def family_of(vision_config) -> str:
    try:
        return FAMILY_BY_MODEL_TYPE[vision_config.model_type]
    except KeyError:
        raise UsageError(f"unsupported vision tower type {vision_config.model_type!r}") from None


def num_image_tokens(vision_config, select: str) -> int:
    if family_of(vision_config) == "qwen_vl":
        return vision_config.n_queries
    from zqvl.model.towers.hf import hf_num_tokens

    return hf_num_tokens(vision_config, select)


def tower_from_config(vision_config, feature_layer: int | None, select: str):
    """A randomly initialised tower of the configured family (weights are loaded or initialised by the caller)."""
    if family_of(vision_config) == "qwen_vl":
        from zqvl.model.towers.qwen_vl import QwenVLVisionModel

        return QwenVLVisionModel(vision_config)
    from zqvl.model.towers.hf import HFVisionTower

    return HFVisionTower(vision_config, feature_layer, select)


@dataclass
class VisionSource:
    family: str
    config: object  # QwenVLVisionConfig | CLIPVisionConfig | SiglipVisionConfig
    model: object | None  # loaded weights (QwenVLVisionModel / CLIPVisionModel / ...); None = random
    image_processor: ImageProcessor
    feature_layer: int | None
    select: str
    origin: str  # preset name or directory, for the build summary


def _detect_family(path: Path) -> str:
    try:
        cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"--vision {path}: cannot read config.json: {e}") from None
    if isinstance(cfg.get("visual"), dict):
        return "qwen_vl"
    kind = cfg.get("model_type", "")
    for family in ("clip", "siglip"):
        if kind in (family, f"{family}_vision_model"):
            return family
    raise UsageError(f"--vision {path}: model_type {kind!r} is not a Qwen-VL, CLIP or SigLIP checkpoint")


def _default_processor(family: str, image_size: int, resize: str | None) -> ImageProcessor:
    spec = VISION_FAMILIES[family]
    return ImageProcessor(
        image_size,
        image_size,
        resize or spec["resize"],
        tuple(spec["mean"]),
        tuple(spec["std"]),
        spec["image_processor_type"],
    )


def load_vision(
    spec: str, feature_layer: int | None = None, select: str | None = None, resize: str | None = None
) -> VisionSource:
    """`spec` is a preset name (presets.VISION_PRESETS) or a local directory of real weights."""
    if (feature_layer is not None or select is not None) and _is_qwen_vl(spec):
        raise UsageError("the Qwen-VL tower's features are its resampler output: --feature-layer/--cls do not apply")
    if spec in VISION_PRESETS:
        preset = VISION_PRESETS[spec]
        family, model = preset["family"], None
        config = _config_for(family, preset["config"])
        processor = _default_processor(family, config.image_size, resize)
    else:
        path = Path(spec)
        if not path.is_dir():
            raise UsageError(f"--vision {spec}: neither a preset ({', '.join(VISION_PRESETS)}) nor a directory")
        family = _detect_family(path)
        if family == "qwen_vl":
            from zqvl.model.towers.qwen_vl_checkpoint import load_qwen_vl_tower

            model = load_qwen_vl_tower(path)
        else:
            from zqvl.model.towers.hf import load_hf_vision_model

            model = load_hf_vision_model(path, family, **({"vision_use_head": False} if family == "siglip" else {}))
        config = model.config
        if family != "qwen_vl" and (path / PREPROCESSOR_FILE).is_file():
            processor = ImageProcessor.load(path)
            processor = processor.replace(resize=resize) if resize else processor
        else:
            processor = _default_processor(family, config.image_size, resize)
    if processor.height != config.image_size or processor.width != config.image_size:
        raise UsageError(
            f"--vision {spec}: preprocessing gives {processor.width}x{processor.height} images but the "
            f"tower expects {config.image_size}x{config.image_size}"
        )
    fam = VISION_FAMILIES[family]
    layer = fam["feature_layer"] if feature_layer is None else feature_layer
    chosen = fam["select"] if select is None else select
    if family != "qwen_vl":
        from zqvl.model.towers.hf import check_selection

        check_selection(config, layer, chosen)
    return VisionSource(family, config, model, processor, layer, chosen, spec)


def _is_qwen_vl(spec: str) -> bool:
    if spec in VISION_PRESETS:
        return VISION_PRESETS[spec]["family"] == "qwen_vl"
    return Path(spec).is_dir() and _detect_family(Path(spec)) == "qwen_vl"


def _config_for(family: str, kwargs: dict):
    if family == "qwen_vl":
        from zqvl.model.towers.qwen_vl import QwenVLVisionConfig

        return QwenVLVisionConfig(**kwargs)
    from transformers import CLIPVisionConfig, SiglipVisionConfig

    return {"clip": CLIPVisionConfig, "siglip": SiglipVisionConfig}[family](**kwargs)
