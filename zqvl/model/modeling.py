"""ZqvlForConditionalGeneration: vision tower -> projector -> Qwen2 causal LM, as a plain transformers model.

input_ids arrive already expanded (ZqvlProcessor.expand_text): each image occupies `num_image_tokens` consecutive
`image_token_id` positions, images in order of appearance. Their embeddings are replaced by
projector(vision_tower(pixel_values)); everything else — loss, cache, generation — is the Qwen2 LM's own.
Importing this module registers the classes with AutoConfig / AutoModelForImageTextToText, so from_pretrained,
save_pretrained and generate need no trust_remote_code.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch
from transformers import (AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText, GenerationMixin,
                          PreTrainedConfig, PreTrainedModel)
from transformers import initialization as init
from transformers.configuration_utils import SubConfigSpec
from transformers.modeling_outputs import CausalLMOutputWithPast

from zqvl.data.schema import IMAGE_TAG
from zqvl.model.presets import DEFAULT_PROJECTOR
from zqvl.model.projector import Projector
from zqvl.model.towers import family_of, num_image_tokens, tower_from_config
import zqvl.model.towers.qwen_vl  # noqa: F401  (registers the Qwen-VL tower config with AutoConfig)


class ZqvlConfig(PreTrainedConfig):
    """vision_config (Qwen-VL / CLIP / SigLIP) + projector settings + text_config (Qwen2) + image token."""

    model_type = "zqvl"
    sub_configs_defaults = {
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="clip_vision_model"),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="qwen2"),
    }

    vision_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    vision_feature_layer: int | None = -2           # hidden-state index (CLIP/SigLIP); None for Qwen-VL
    vision_feature_select_strategy: str = "default"  # "default" drops CLS, "full" keeps all tokens
    projector_type: str = DEFAULT_PROJECTOR
    projector_input_rms: float = 1.0                 # feature RMS measured at build time (projector init)
    projector_target_rms: float | None = None        # LLM embedding RMS (projector init); None = initializer_range
    image_token: str = IMAGE_TAG
    image_token_id: int | None = None
    num_image_tokens: int = 0                        # derived from the vision config on every load
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


class ZqvlPreTrainedModel(PreTrainedModel):
    config: ZqvlConfig
    config_class = ZqvlConfig
    input_modalities = ("image", "text")
    supports_gradient_checkpointing = True
    _skip_keys_device_placement = ["past_key_values"]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, Projector):
            module.init_weights(init)       # guarded: tensors loaded from a checkpoint are left alone


class ZqvlForConditionalGeneration(ZqvlPreTrainedModel, GenerationMixin):
    def __init__(self, config: ZqvlConfig):
        super().__init__(config)
        self.vision_tower = tower_from_config(config.vision_config, config.vision_feature_layer,
                                              config.vision_feature_select_strategy)
        text = config.text_config
        self.projector = Projector(self.vision_tower.hidden_size, text.hidden_size, config.projector_type,
                                   target_rms=config.projector_target_rms or text.initializer_range,
                                   input_rms=config.projector_input_rms)
        self.language_model = AutoModelForCausalLM.from_config(text)
        self.post_init()

    # -- embeddings (resize_token_embeddings, PEFT and generate go through these) ------------------------------
    def get_input_embeddings(self):
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self):
        return self.language_model.get_output_embeddings()

    def set_output_embeddings(self, value):
        self.language_model.set_output_embeddings(value)

    def get_decoder(self):
        return self.language_model.get_decoder()

    # -- images ---------------------------------------------------------------------------------------------
    def get_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, num_image_tokens, LLM hidden size)."""
        frozen = not any(p.requires_grad for p in self.vision_tower.parameters())
        # A frozen tower needs no graph; no_grad also keeps activation checkpointing from replaying it.
        with torch.no_grad() if frozen else nullcontext():
            features = self.vision_tower(pixel_values)
        return self.projector(features.to(self.projector.linears[0].weight.dtype))

    def merge_image_features(self, input_ids, inputs_embeds, pixel_values) -> torch.Tensor:
        mask = input_ids == self.config.image_token_id
        features = self.get_image_features(pixel_values)
        count, (images, per_image) = int(mask.sum()), features.shape[:2]
        if count != images * per_image:
            raise ValueError(f"input_ids hold {count} image tokens (id {self.config.image_token_id}) but "
                             f"{images} image(s) x {per_image} tokens were given; expand every {IMAGE_TAG} with "
                             f"ZqvlProcessor.expand_text")
        features = features.to(inputs_embeds.device, inputs_embeds.dtype).reshape(-1, inputs_embeds.shape[-1])
        return inputs_embeds.masked_scatter(mask.unsqueeze(-1).to(inputs_embeds.device), features)

    def forward(self, input_ids=None, attention_mask=None, pixel_values=None, labels=None, position_ids=None,
                past_key_values=None, inputs_embeds=None, use_cache=None, logits_to_keep=0,
                **kwargs) -> CausalLMOutputWithPast:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
            if pixel_values is not None and pixel_values.shape[0] > 0:
                inputs_embeds = self.merge_image_features(input_ids, inputs_embeds, pixel_values)
            elif _is_prefill(past_key_values) and bool((input_ids == self.config.image_token_id).any()):
                raise ValueError("input_ids contain image tokens but no pixel_values were given")
        return self.language_model(attention_mask=attention_mask, position_ids=position_ids,
                                   past_key_values=past_key_values, inputs_embeds=inputs_embeds, labels=labels,
                                   use_cache=use_cache, logits_to_keep=logits_to_keep, **kwargs)


def _is_prefill(past_key_values) -> bool:
    return past_key_values is None or past_key_values.get_seq_length() == 0


AutoConfig.register(ZqvlConfig.model_type, ZqvlConfig, exist_ok=True)
AutoModelForImageTextToText.register(ZqvlConfig, ZqvlForConditionalGeneration, exist_ok=True)
