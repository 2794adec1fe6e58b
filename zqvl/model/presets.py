"""Presets as data: vision tower families, tiny random-weight models, and training stages.

Everything here is plain data (dicts and frozen dataclasses) so other modules — and the trainer — import it without
pulling in torch. Real runs point `--vision` / `--llm` at local weight directories; the tiny presets exist for tests
and the demo (random weights from config, real Qwen tokenizer vocabulary).
"""

from __future__ import annotations

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
SIGLIP_MEAN = (0.5, 0.5, 0.5)
SIGLIP_STD = (0.5, 0.5, 0.5)

# One entry per vision tower family: how its config is named in transformers, how its images are prepared, and
# which hidden states become image features.
#   resize: "plain" = resize to size x size, aspect not kept, nothing cropped; "crop" = shortest edge, centre crop.
#   feature_layer: index into the tower's hidden states (HF convention, -2 = penultimate layer), None = tower output.
#   select: "default" drops the CLS token (LLaVA), "full" keeps every token (also for towers without CLS).
VISION_FAMILIES: dict[str, dict] = {
    "qwen_vl": {
        "model_type": "zqvl_qwen_vl_vision",
        "resize": "plain",
        "mean": OPENAI_CLIP_MEAN,
        "std": OPENAI_CLIP_STD,
        "image_processor_type": "CLIPImageProcessor",
        "feature_layer": None,
        "select": "full",
    },
    "clip": {
        "model_type": "clip_vision_model",
        "resize": "crop",
        "mean": OPENAI_CLIP_MEAN,
        "std": OPENAI_CLIP_STD,
        "image_processor_type": "CLIPImageProcessor",
        "feature_layer": -2,
        "select": "default",
    },
    "siglip": {
        "model_type": "siglip_vision_model",
        "resize": "plain",
        "mean": SIGLIP_MEAN,
        "std": SIGLIP_STD,
        "image_processor_type": "SiglipImageProcessor",
        "feature_layer": -1,
        "select": "full",
    },
}

# Qwen-VL-Chat's visual tower (see shared/qwen-vl-visual.md): 448 px, 32x32 patches, 256 resampler queries x 4096.
QWEN_VL_CHAT_VISUAL = {
    "image_size": 448,
    "patch_size": 14,
    "width": 1664,
    "layers": 48,
    "heads": 16,
    "mlp_size": 8192,
    "output_dim": 4096,
    "n_queries": 256,
    "resampler_heads": 32,
    "pos_grid": 16,
}

# Tiny towers: a few tens of thousands of parameters, 16 image tokens each, trainable on 2 CPU cores.
VISION_PRESETS: dict[str, dict] = {
    "tiny-qwen-vl": {
        "family": "qwen_vl",
        "config": {
            "image_size": 56,
            "patch_size": 14,
            "width": 32,
            "layers": 2,
            "heads": 2,
            "mlp_size": 64,
            "output_dim": 48,
            "n_queries": 16,
            "resampler_heads": 2,
            "pos_grid": 16,
        },
    },
    "tiny-clip": {
        "family": "clip",
        "config": {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
            "projection_dim": 32,
        },
    },
    "tiny-siglip": {
        "family": "siglip",
        "config": {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
            "vision_use_head": False,
        },
    },
}

# Tiny Qwen2: the real Qwen2 vocabulary size (151936 rows, so every Qwen token id is valid) with tied embeddings,
# which keeps it near 10 M parameters.
LLM_PRESETS: dict[str, dict] = {
    "tiny-qwen2": {
        "vocab_size": 151936,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": True,
        "rope_theta": 1000000.0,
        "initializer_range": 0.02,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "dtype": "float32",
    },
}

# Projector: LLaVA's "mlp2x_gelu" (Linear -> GELU -> Linear) by default; "mlpNx_gelu" for depth N; "linear".
DEFAULT_PROJECTOR = "mlp2x_gelu"

# Generation defaults written into every build: never cut answers short (the seed's max_new_tokens=20 did).
GENERATION_DEFAULTS = {"max_new_tokens": 1024, "do_sample": False}

# Parts of a built model; what each trains in a stage is the trainer's data (zqvl/train/presets.yaml).
PARTS = ("vision", "projector", "llm")
