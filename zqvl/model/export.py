"""Export a zqvl build to formats plain transformers loads without zqvl or trust_remote_code.

hf-llava: CLIP/SigLIP builds map one-to-one onto LlavaForConditionalGeneration (vision tower, 2-layer GELU
projector, Qwen2 LM + head, same feature layer and CLS handling) and LlavaProcessor (same tokenizer, same image
preprocessing, same image-token expansion), so the export generates the same tokens. Qwen-VL builds cannot: LLaVA
has no ViT + resampler tower.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from zqvl.errors import UsageError

FORMATS = ("hf-llava",)

# zqvl parameter prefix -> LlavaForConditionalGeneration parameter prefix (first match wins)
LLAVA_RENAMES = (
    ("vision_tower.model.", "model.vision_tower."),
    ("projector.linears.0.", "model.multi_modal_projector.linear_1."),
    ("projector.linears.1.", "model.multi_modal_projector.linear_2."),
    ("language_model.model.", "model.language_model."),
    ("language_model.lm_head.", "lm_head."),
)


def llava_name(name: str) -> str:
    for old, new in LLAVA_RENAMES:
        if name.startswith(old):
            return new + name[len(old) :]
    raise ValueError(f"no LLaVA counterpart for parameter {name}")


def export_model(src: str | Path, out: str | Path, fmt: str = "hf-llava") -> Path:
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    src, out = Path(src), Path(out)
    if out.exists():
        raise UsageError(f"--out {out} already exists; choose a new directory (nothing is overwritten)")
    from zqvl.model.configuration import ZqvlConfig

    try:
        config = ZqvlConfig.from_pretrained(str(src))
    except Exception as e:  # noqa: BLE001
        raise UsageError(f"{src} is not a zqvl model directory: {e}") from None
    if config.vision_family == "qwen_vl":
        raise UsageError(
            f"{src} uses the Qwen-VL vision tower (ViT + resampler), which transformers' LLaVA does "
            f"not have: export --format hf-llava is impossible; this model needs zqvl installed "
            f"(zqvl.model.build.load_model, no trust_remote_code)"
        )
    if config.projector_type != "mlp2x_gelu":
        raise UsageError(f"{src} has projector {config.projector_type!r}; LLaVA's projector is mlp2x_gelu only")
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _write_llava(src, config, tmp)
        out.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _write_llava(src: Path, config, tmp: Path) -> None:
    import torch
    from transformers import AutoImageProcessor, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    from zqvl.model.build import load_model
    from zqvl.model.quiet import hf_quiet

    model, processor = load_model(src)
    llava_config = LlavaConfig(
        vision_config=config.vision_config.to_dict(),
        text_config=config.text_config.to_dict(),
        image_token_id=config.image_token_id,
        image_seq_length=config.num_image_tokens,
        projector_hidden_act="gelu",
        multimodal_projector_bias=True,
        vision_feature_layer=config.vision_feature_layer,
        vision_feature_select_strategy=config.vision_feature_select_strategy,
        tie_word_embeddings=config.tie_word_embeddings,
    )
    with torch.device("meta"):
        llava = LlavaForConditionalGeneration(llava_config)
    state = {llava_name(k): v for k, v in model.state_dict().items()}
    llava.load_state_dict(state, strict=True, assign=True)
    llava.tie_weights()
    llava.generation_config = model.generation_config
    with hf_quiet():  # also hides "torchvision not installed, using the PIL backend": expected here
        llava.save_pretrained(str(tmp))
        image_processor = AutoImageProcessor.from_pretrained(str(src))
    has_cls = config.vision_config.model_type == "clip_vision_model"
    LlavaProcessor(
        image_processor=image_processor,
        tokenizer=processor.tokenizer,
        patch_size=config.vision_config.patch_size,
        vision_feature_select_strategy=config.vision_feature_select_strategy,
        num_additional_image_tokens=1 if has_cls else 0,
        image_token=processor.image_token,
        chat_template=processor.tokenizer.chat_template,
    ).save_pretrained(str(tmp))
