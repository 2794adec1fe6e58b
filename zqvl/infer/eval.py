"""Measure trained models on held-out shards (the library behind `zqvl-eval`).

Per model: the answer-token loss and perplexity with exactly the training labels (the trainer's SampleBuilder
and collate, the model's own loss per micro-batch, weighted by its supervised tokens); greedy answers to each
sample's first question with the full generation budget; and for those answers the share that ended on
<|im_end|>, their mean length, exact match and chrF against the reference, and how often `clean`'s
monolingual per-turn detectors (preamble, refusal, repetition, …) fire on them — a model trained on dirty
translations says "以下是翻译：" and loops. `sample` adds K sampled answers per prompt, scored for defects too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zqvl.data.schema import GPT, HUMAN, IMAGE_TAG, Record, Turn
from zqvl.data.template import DEFAULT_SYSTEM
from zqvl.errors import UsageError
from zqvl.infer.chat import DEFAULT_MAX_NEW_TOKENS, Chat, Conversation, run_label
from zqvl.infer.scores import chrf, exact_match
from zqvl.progress import NULL, Progress

# clean's families that judge a turn on its own (no English source needed), in report order
DEFECT_FAMILIES = ("preamble", "refusal", "repetition", "untranslated", "script", "junk", "truncation")
# With the reference's English source these judge an answer as clean judges a translation of it ("a red circle"
# for "a red circle" is untranslated; an apology the source has is not a refusal). Truncation stays monolingual:
# a model may answer more briefly than the reference without being cut off.
USES_SOURCE = frozenset(DEFECT_FAMILIES) - {"truncation"}


@dataclass
class EvalOptions:
    max_samples: int | None = None
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    sample: int = 0  # sampled answers per prompt, on top of the greedy one
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int = 0
    batch_size: int = 4  # micro-batch for the loss
    max_len: int = 2048  # as in training: longer records are split between exchanges
    system: str | None = DEFAULT_SYSTEM


@dataclass
class Item:
    record: Record
    images: list  # PIL images, in order of appearance

    @property
    def question(self) -> str:
        return self.record.dialogue[0].value

    @property
    def reference(self) -> str:
        return self.record.dialogue[1].value

    @property
    def source(self) -> str | None:
        """The reference answer's English original, on translated records."""
        return self.record.dialogue[1].source


# -- data ---------------------------------------------------------------------------------------------------
def load_items(shards: Sequence[str], max_samples: int | None = None) -> tuple[list[Item], str]:
    """The records of the shards' val split (the train split when a dir has none), in shard order."""
    from zqvl.data.shards.reader import ShardStream, expand_shards

    urls, splits = [], set()
    for shard in shards:
        try:
            found, split = expand_shards(shard, split="val"), "val"
        except ValueError:
            found, split = None, "train"
        if not found:
            try:
                found = expand_shards(shard, split="train")
            except ValueError as e:
                raise UsageError(f"--shards: {e}") from None
        urls += found
        splits.add(split)
    stream = ShardStream(urls, shuffle_buffer=0, shuffle_shards=False, rank=0, world_size=1)
    items = []
    for _, got in stream.iter_worker(0, 0, 1):
        if got is None:
            continue
        record, images = got
        dialogue = record.dialogue
        if len(dialogue) >= 2 and dialogue[0].role == HUMAN and dialogue[1].role == GPT:
            items.append(Item(record, images))
            if max_samples and len(items) >= max_samples:
                break
    if not items:
        raise UsageError(f"--shards {' '.join(map(str, shards))}: no record with a question and an answer")
    return items, "+".join(sorted(splits))


# -- loss: the trainer's own validation functions, so the numbers agree --------------------------------------
def answer_loss(
    model, processor, items: Sequence[Item], opts: EvalOptions, progress: Progress = NULL
) -> tuple[float, int, int]:
    """(mean loss per supervised token, supervised tokens, records dropped as in training)."""
    from zqvl.train.validation import build_batches, supervised_loss

    batches, dropped = build_batches(
        [(i.record, i.images) for i in items], processor, opts.max_len, opts.system, opts.batch_size
    )
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    loss, tokens = supervised_loss(model, batches, device, dtype, progress)
    return loss, tokens, dropped


# -- answers ------------------------------------------------------------------------------------------------
def defect_flags(
    texts: Sequence[str], sources: Sequence[str | None] | None = None, filters=None
) -> dict[str, list[bool]]:
    """For each family, whether its detector fires on each text, as a one-turn answer whose English original is
    the reference's source (None: judged on its own)."""
    from zqvl.data.clean import load_filters

    filters = filters or load_filters(names=list(DEFECT_FAMILIES))
    flags: dict[str, list[bool]] = {f: [] for f in DEFECT_FAMILIES}
    for text, source in zip(texts, sources or [None] * len(texts), strict=True):
        alone = Record(id="answer", images=[], turns=[Turn(GPT, text)])
        paired = Record(id="answer", images=[], turns=[Turn(GPT, text, source=source)]) if source else alone
        for family, check in zip(DEFECT_FAMILIES, filters):
            flags[family].append(bool(check(paired if family in USES_SOURCE else alone)))
    return flags


def defect_rates(texts: Sequence[str], sources: Sequence[str | None] | None = None) -> dict[str, float]:
    flags = defect_flags(texts, sources)
    return {f: (sum(v) / len(v) if v else 0.0) for f, v in flags.items()}


def first_answer(chat: Chat, item: Item, **gen):
    """The model's answer to the item's first question, with the images that question shows."""
    images = item.images[: item.question.count(IMAGE_TAG)]
    return chat.ask(Conversation(system=item.record.system), item.question, images, **gen)


def evaluate_model(
    path: str | Path, items: Sequence[Item], opts: EvalOptions, name: str | None = None, progress: Progress = NULL
) -> dict:
    chat = Chat(path, opts.system)
    loss, _, _ = answer_loss(chat.model, chat.processor, items, opts, progress)
    gen = {"max_new_tokens": opts.max_new_tokens}
    progress.stage("answers", len(items) * (1 + opts.sample))
    greedy, sampled = [], []
    for i, item in enumerate(items):
        greedy.append(first_answer(chat, item, **gen))
        progress.advance(1)
        for k in range(opts.sample):
            sampled.append(
                first_answer(
                    chat,
                    item,
                    sample=True,
                    temperature=opts.temperature,
                    top_p=opts.top_p,
                    seed=opts.seed + i * opts.sample + k,
                    **gen,
                )
            )
            progress.advance(1)
    texts = [r.text for r in greedy]
    references = [item.reference for item in items]
    return {
        "name": name or run_label(str(path)),
        "loss": loss,
        "perplexity": math.exp(loss) if loss < 700 else float("inf"),
        "exact_match": exact_match(texts, references),
        # a learned defect that greedy decoding hides still costs exact answers when sampling
        "sampled_exact_match": (
            exact_match([r.text for r in sampled], [ref for ref in references for _ in range(opts.sample)])
            if sampled
            else None
        ),
        "chrf": chrf(texts, references),
        "ended": sum(r.stopped == "im_end" for r in greedy) / len(greedy),
        "mean_length": sum(r.new_tokens for r in greedy) / len(greedy),
        "defects": defect_rates(texts, [item.source for item in items]),
        "sampled_defects": (
            defect_rates([r.text for r in sampled], [item.source for item in items for _ in range(opts.sample)])
            if sampled
            else {}
        ),
        # per prompt, so a user can see what the model got wrong (and scripts can score their own way)
        "answers": [
            {"id": item.record.id, "reference": ref, "answer": text, "ended": r.stopped == "im_end"}
            for item, ref, text, r in zip(items, references, texts, greedy)
        ],
    }


def model_names(paths: Sequence[str]) -> list[str]:
    """Short column names (`stage2` for runs/demo/stage2); the full path where two would collide."""
    short = [run_label(p) for p in paths]
    return [s if short.count(s) == 1 else str(p) for s, p in zip(short, paths)]


def evaluate(models: Sequence[str], shards: Sequence[str], opts: EvalOptions, progress: Progress = NULL) -> dict:
    """{"samples", "split", "models": [one evaluate_model result per model]}; models are loaded one at a time."""
    if opts.max_new_tokens < 1:
        raise UsageError("--max-new-tokens must be >= 1")
    if opts.sample < 0 or opts.batch_size < 1:
        raise UsageError("--sample must be >= 0 and --batch-size >= 1")
    items, split = load_items(shards, opts.max_samples)
    results = []
    for path, name in zip(models, model_names(models)):
        results.append(evaluate_model(path, items, opts, name, progress))
    return {"samples": len(items), "split": split, "models": results}
