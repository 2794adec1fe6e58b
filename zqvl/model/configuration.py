"""ZqvlConfig: vision_config + projector settings + text_config + image token, registered with AutoConfig.

Its own module so that what needs only the config (the processor: AutoTokenizer reads config.json of a model
directory) does not import the model, and the model imports it from below.
"""

from __future__ import annotations

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

import zqvl.model.towers.qwen_vl  # noqa: F401  (registers the Qwen-VL tower config with AutoConfig)
from zqvl.data.schema import IMAGE_TAG
from zqvl.model.presets import DEFAULT_PROJECTOR
from zqvl.model.towers import family_of, num_image_tokens


class ZqvlConfig(PreTrainedConfig):
    """vision_config (Qwen-VL / CLIP / SigLIP) + projector settings + text_config (Qwen2) + image token."""

    model_type = "zqvl"
    sub_configs_defaults = {
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="clip_vision_model"),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="qwen2"),
    }

    vision_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    vision_feature_layer: int | None = -2  # hidden-state index (CLIP/SigLIP); None for Qwen-VL
    vision_feature_select_strategy: str = "default"  # "default" drops CLS, "full" keeps all tokens
    projector_type: str = DEFAULT_PROJECTOR
    projector_input_rms: float = 1.0  # feature RMS measured at build time (projector init)
    projector_target_rms: float | None = None  # LLM embedding RMS (projector init); None = initializer_range
    image_token: str = IMAGE_TAG
    image_token_id: int | None = None
    num_image_tokens: int = 0  # derived from the vision config on every load
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        # transformers reads tying from the top-level config; Qwen2 keeps it in text_config.
        self.tie_word_embeddings = bool(self.tie_word_embeddings or self.text_config.tie_word_embeddings)
        if family_of(self.vision_config) == "qwen_vl":
            self.vision_feature_layer, self.vision_feature_select_strategy = None, "full"
        self.num_image_tokens = num_image_tokens(self.vision_config, self.vision_feature_select_strategy)

    @property
    def vision_family(self) -> str:
        return family_of(self.vision_config)


AutoConfig.register(ZqvlConfig.model_type, ZqvlConfig, exist_ok=True)
