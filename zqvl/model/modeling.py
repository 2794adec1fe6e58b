"""ZqvlForConditionalGeneration: vision tower -> projector -> Qwen2 causal LM, as a plain transformers model.

input_ids arrive already expanded (processor.expand_image_tokens): each image occupies `num_image_tokens` consecutive
`image_token_id` positions, images in order of appearance. Their embeddings are replaced by
projector(vision_tower(pixel_values)); everything else — loss, cache, generation — is the Qwen2 LM's own.
Importing this module registers the classes with AutoConfig (via configuration.py) / AutoModelForImageTextToText,
so from_pretrained, save_pretrained and generate need no trust_remote_code.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import CausalLMOutputWithPast

from zqvl.data.schema import IMAGE_TAG
from zqvl.model import attention as _attention  # noqa: F401  (registers zqvl_packed_sdpa)
from zqvl.model.configuration import ZqvlConfig
from zqvl.model.loss import supervised_cross_entropy
from zqvl.model.projector import Projector
from zqvl.model.towers import tower_from_config

__all__ = ["ZqvlConfig", "ZqvlForConditionalGeneration", "ZqvlPreTrainedModel"]  # ZqvlConfig: re-exported


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
            module.init_weights(init)  # guarded: tensors loaded from a checkpoint are left alone


class ZqvlForConditionalGeneration(ZqvlPreTrainedModel, GenerationMixin):
    def __init__(self, config: ZqvlConfig):
        super().__init__(config)
        self.vision_tower = tower_from_config(
            config.vision_config, config.vision_feature_layer, config.vision_feature_select_strategy
        )
        text = config.text_config
        self.projector = Projector(
            self.vision_tower.hidden_size,
            text.hidden_size,
            config.projector_type,
            target_rms=config.projector_target_rms or text.initializer_range,
            input_rms=config.projector_input_rms,
        )
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
            raise ValueError(
                f"input_ids hold {count} image tokens (id {self.config.image_token_id}) but "
                f"{images} image(s) x {per_image} tokens were given; expand every {IMAGE_TAG} with "
                f"ZqvlProcessor.encode (expand_image_tokens)"
            )
        features = features.to(inputs_embeds.device, inputs_embeds.dtype).reshape(-1, inputs_embeds.shape[-1])
        return inputs_embeds.masked_scatter(mask.unsqueeze(-1).to(inputs_embeds.device), features)

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        pixel_values=None,
        labels=None,
        position_ids=None,
        past_key_values=None,
        inputs_embeds=None,
        use_cache=None,
        logits_to_keep=0,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
            if pixel_values is not None and pixel_values.shape[0] > 0:
                inputs_embeds = self.merge_image_features(input_ids, inputs_embeds, pixel_values)
            elif _is_prefill(past_key_values) and bool((input_ids == self.config.image_token_id).any()):
                raise ValueError("input_ids contain image tokens but no pixel_values were given")
        if labels is None:
            return self.language_model(
                attention_mask=attention_mask,
                position_ids=position_ids,
                past_key_values=past_key_values,
                inputs_embeds=inputs_embeds,
                use_cache=use_cache,
                logits_to_keep=logits_to_keep,
                **kwargs,
            )
        # Training: the LM head and the loss run on supervised positions only, a chunk at a time (model/loss.py):
        # the same loss and gradients as full logits, without a (batch x length x 151,936) fp32 tensor.
        # No cache either: a loss needs none, and with one transformers would not see packed rows (position ids
        # restarting per sample, zqvl/train/packing.py) and would let samples attend to each other.
        num_items = kwargs.pop("num_items_in_batch", None)
        hidden = self.language_model.get_decoder()(
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=False,
            **kwargs,
        )
        loss = supervised_cross_entropy(
            hidden.last_hidden_state, labels, self.language_model.get_output_embeddings(), num_items=num_items
        )
        return CausalLMOutputWithPast(loss=loss, logits=None, past_key_values=hidden.past_key_values)


def _is_prefill(past_key_values) -> bool:
    return past_key_values is None or past_key_values.get_seq_length() == 0


AutoModelForImageTextToText.register(ZqvlConfig, ZqvlForConditionalGeneration, exist_ok=True)
