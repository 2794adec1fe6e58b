"""Supervised-only, chunked cross-entropy equals the plain full-logits path: loss and every gradient (fp32)."""

from __future__ import annotations

import pytest
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from zqvl.model.loss import IGNORE, supervised_cross_entropy


def tiny_lm(tied: bool) -> Qwen2ForCausalLM:
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=503,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=tied,
    )
    return Qwen2ForCausalLM(config).float()


def batch(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 503, (3, 40), generator=g)
    labels = torch.full_like(ids, IGNORE)
    labels[0, 10:18] = ids[0, 10:18]  # answers: a few spans per row, as collate makes them
    labels[1, 5:9] = ids[1, 5:9]
    labels[1, 30:40] = ids[1, 30:40]
    labels[2, 39] = ids[2, 39]
    mask = torch.ones_like(ids)
    mask[2, :6] = 0  # left padding in one row
    return ids, mask, labels


def grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def plain_and_chunked(model, chunk):
    ids, mask, labels = batch()
    model.zero_grad()
    plain = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    plain.backward()
    plain_grads = grads(model)
    model.zero_grad()
    hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
    ours = supervised_cross_entropy(hidden, labels, model.lm_head, chunk=chunk)
    ours.backward()
    return plain, ours, plain_grads, grads(model)


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_same_loss_and_gradients_as_full_logits(tied, chunk):
    plain, ours, plain_grads, our_grads = plain_and_chunked(tiny_lm(tied), chunk)
    assert abs(plain.item() - ours.item()) < 1e-6
    assert plain_grads.keys() == our_grads.keys()
    for name in plain_grads:
        assert torch.allclose(plain_grads[name], our_grads[name], atol=1e-6, rtol=1e-5), name


def test_same_under_lora():
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny_lm(False), LoraConfig(r=4, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
    for p in model.parameters():  # LoRA B starts at zero; make its gradient path non-trivial
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.02)
    base = model.base_model.model
    ids, mask, labels = batch(2)
    model.zero_grad()
    base(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
    want = grads(model)
    model.zero_grad()
    loss = supervised_cross_entropy(
        base.model(input_ids=ids, attention_mask=mask).last_hidden_state, labels, base.lm_head, chunk=5
    )
    loss.backward()
    got = grads(model)
    assert want.keys() == got.keys() and want
    for name in want:
        assert torch.allclose(want[name], got[name], atol=1e-6, rtol=1e-5), name


def test_num_items_divides_the_sum_for_grad_accumulation():
    model = tiny_lm(True)
    ids, mask, labels = batch()
    hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
    mean = supervised_cross_entropy(hidden, labels, model.lm_head)
    count = int((labels[:, 1:] != IGNORE).sum())
    total = supervised_cross_entropy(hidden, labels, model.lm_head, num_items=1)
    assert torch.allclose(total / count, mean, atol=1e-7)
