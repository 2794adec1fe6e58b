"""Run by tests/test_train_zero_exact.py in its own process (it joins a gloo process group).

One optimizer step of two accumulated micro-batches (padded and packed) through DeepSpeed at ZeRO 0, 2 and 3
with the trainer's supervised-only loss, against plain PyTorch with full logits and transformers' loss. SGD with
lr 1, no clipping: each parameter moves by exactly its gradient, so equal parameters after the step mean equal
gradients. Prints one JSON line: {stage: {"loss": [...], "max_param_diff": x}, "reference_loss": [...]}.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_helpers import sample_dir, tiny_model  # noqa: E402

from zqvl.cli.train import single_process_env  # noqa: E402
from zqvl.data.io import iter_records  # noqa: E402
from zqvl.infer.chat import open_image  # noqa: E402
from zqvl.model.build import load_model  # noqa: E402
from zqvl.train.collate import IGNORE, SampleBuilder, collate  # noqa: E402
from zqvl.train.config import TrainConfig  # noqa: E402
from zqvl.train.engine import deepspeed_config  # noqa: E402
from zqvl.train.loop import setup_distributed  # noqa: E402
from zqvl.train.packing import collate_packed, pack_rows  # noqa: E402
from zqvl.train.parts import apply_train_type  # noqa: E402


def micro_batches(processor, base: Path) -> list[dict]:
    data = sample_dir(base / "data", n=6, turns=2)
    builder = SampleBuilder(processor, max_len=512, system="You are a helpful assistant.")
    samples = []
    for record in iter_records(data / "chat.json"):
        samples += builder(record, [open_image(data / "images" / p) for p in record.images])
    pad = processor.tokenizer.pad_token_id
    return [collate(samples[:3], pad), collate_packed(pack_rows(samples[3:], 160), pad)]


def inputs(batch: dict, labels: bool) -> dict:
    keys = ("input_ids", "attention_mask", "position_ids", "pixel_values") + (("labels",) if labels else ())
    return {k: batch[k] for k in keys if batch.get(k) is not None}


def full_logits_loss(model, batch: dict) -> torch.Tensor:
    """The plain path: every position through the LM head, transformers' ForCausalLMLoss."""
    logits = model(**inputs(batch, labels=False), use_cache=False).logits
    return model.language_model.loss_function(logits, batch["labels"], vocab_size=logits.shape[-1])


def main(workdir: str) -> None:
    single_process_env()
    setup_distributed()
    import deepspeed

    base = Path(workdir)
    model, processor = load_model(tiny_model(base / "model"))
    model.language_model.set_attn_implementation("zqvl_packed_sdpa")
    model, _ = apply_train_type(model, "freeze_vision")
    batches = micro_batches(processor, base)
    assert all(int((b["labels"] != IGNORE).sum()) for b in batches)

    reference = copy.deepcopy(model)
    ref_losses = []
    for batch in batches:
        loss = full_logits_loss(reference, batch) / len(batches)  # DeepSpeed divides by the accumulation steps
        loss.backward()
        ref_losses.append(loss.item() * len(batches))
    with torch.no_grad():
        for p in reference.parameters():
            if p.grad is not None:
                p -= p.grad
    want = {n: p.detach() for n, p in reference.named_parameters()}

    out = {"reference_loss": ref_losses}
    for stage in (0, 2, 3):
        cfg = TrainConfig(batch_size=3, grad_accum=len(batches), zero_stage=stage, grad_clip=0.0)
        copy_ = copy.deepcopy(model)
        trainable = [p for p in copy_.parameters() if p.requires_grad]
        engine, *_ = deepspeed.initialize(
            model=copy_, optimizer=torch.optim.SGD(trainable, lr=1.0), config=deepspeed_config(cfg, "fp32")
        )
        losses = []
        for batch in batches:
            loss = engine(**inputs(batch, labels=True), use_cache=False).loss
            losses.append(loss.item())
            engine.backward(loss)
            engine.step()
        gathered = (
            deepspeed.zero.GatheredParameters(list(engine.module.parameters())) if stage == 3 else torch.no_grad()
        )
        with gathered:
            diff = max((p.detach() - want[n]).abs().max().item() for n, p in engine.module.named_parameters())
        out[str(stage)] = {"loss": losses, "max_param_diff": diff}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
