"""Answers from a trained model (the library behind `zqvl-chat`): one `Chat` per model, `compare` for several.

Prompts are tokenized exactly like training (template segments, each <image> expanded to the tower's token
count), generation stops at <|im_end|>, and the default budget is 1024 new tokens: the seed's 20 cut answers
mid-sentence. An answer that does hit the budget is reported as cut, never passed off as complete.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from zqvl.data.schema import GPT, HUMAN, IMAGE_TAG, SYSTEM, Record, Turn
from zqvl.data.template import DEFAULT_SYSTEM, GENERATION_HEADER, segments, stop_token_ids
from zqvl.errors import UsageError

DEFAULT_MAX_NEW_TOKENS = 1024


@dataclass
class Reply:
    text: str
    new_tokens: int
    stopped: str  # "im_end" (finished) or "max_new_tokens" (cut)


@dataclass
class Conversation:
    history: list[tuple[str, str]] = field(default_factory=list)  # (question with <image> tags, answer)
    images: list = field(default_factory=list)  # PIL images in order of appearance
    system: str | None = None  # this conversation's own system prompt (a record's system turn); None: the Chat's


def model_dir(path: str | Path) -> Path:
    """A model dir; a run dir (the newer of final/ and its last checkpoint); or one checkpoint dir."""
    from zqvl.train.export import resolve_model

    resolved, note = resolve_model(path)
    if note:  # which weights answer is worth one line: a run without final/ was cut off somewhere
        print(note, file=sys.stderr)
    return resolved


def open_image(path: str | Path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, UnidentifiedImageError) as e:
        raise UsageError(f"--image {path}: cannot read it as an image ({e})") from None


class Chat:
    def __init__(self, path: str | Path, system: str | None = DEFAULT_SYSTEM):
        import torch

        from zqvl.model.build import load_model
        from zqvl.train.collate import Tokenizer

        self.path = model_dir(path)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.model, self.processor = load_model(self.path, dtype=dtype)
        self.model.to(self.device).eval()
        tok = self.processor.tokenizer
        self.tok = Tokenizer(tok, self.processor.image_token_id, self.processor.num_image_tokens)
        self.stop_ids = stop_token_ids(tok)
        self.system = system

    def prompt_ids(self, conv: Conversation, question: str) -> list[int]:
        """Same segments as training: past turns, the question, then the assistant header."""
        turns = [] if conv.system is None else [Turn(SYSTEM, conv.system)]
        for q, a in conv.history:
            turns += [Turn(HUMAN, q), Turn(GPT, a)]
        turns.append(Turn(HUMAN, question))
        record = Record(id="chat", images=[], turns=turns)
        ids = [i for seg in segments(record, self.system) for i in self.tok.encode(seg.text)]
        return ids + self.tok.encode(GENERATION_HEADER)

    def ask(
        self,
        conv: Conversation,
        question: str,
        new_images: list = (),
        *,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        sample: bool = False,
        temperature: float = 0.7,
        top_p: float = 0.9,
        seed: int | None = None,
    ) -> Reply:
        import torch

        missing = len(new_images) - question.count(IMAGE_TAG)
        if missing > 0:  # LLaVA convention: images go in front of the question
            question = (IMAGE_TAG + "\n") * missing + question
        elif missing < 0:
            raise UsageError(
                f"the question has {question.count(IMAGE_TAG)} {IMAGE_TAG} tag(s) but "
                f"{len(new_images)} image(s) came with it"
            )
        images = conv.images + list(new_images)
        ids = torch.tensor([self.prompt_ids(conv, question)], device=self.device)
        kwargs = {"do_sample": sample}
        if sample:
            kwargs.update(temperature=temperature, top_p=top_p)
            if seed is not None:
                torch.manual_seed(seed)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        pixels = None
        if images:
            pixels = self.processor.preprocess_images(images).to(self.device, self.model.dtype)
        with torch.inference_mode():
            outputs = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                pixel_values=pixels,
                max_new_tokens=max_new_tokens,
                eos_token_id=self.stop_ids,
                pad_token_id=self.processor.tokenizer.pad_token_id,
                **kwargs,
            )
        new = outputs[0, ids.shape[1] :].tolist()
        stopped = "im_end" if new and new[-1] in self.stop_ids else "max_new_tokens"
        text = self.processor.tokenizer.decode([t for t in new if t not in self.stop_ids], skip_special_tokens=True)
        conv.history.append((question, text))
        conv.images = images
        return Reply(text, len(new), stopped)


def read_prompts(path: str | Path) -> list[dict]:
    """JSON list or JSONL of {"question": "...", "image": "path" or ["path", ...] (optional, relative to the
    file)}."""
    from zqvl.data.io import iter_json_values

    path = Path(path)
    prompts = []
    for i, obj in enumerate(iter_json_values(path)):
        if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
            raise UsageError(f"{path}: prompt #{i} needs a string 'question'")
        image = obj.get("image")
        names = [] if image is None else [image] if isinstance(image, str) else image
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise UsageError(f"{path}: prompt #{i}: 'image' must be a path or a list of paths")
        images = [Path(n) if Path(n).is_absolute() else path.parent / n for n in names]
        prompts.append({"question": obj["question"], "images": images})
    if not prompts:
        raise UsageError(f"{path}: no prompts")
    return prompts


def one_line(text: str, limit: int | None = 300) -> str:
    """A table cell: whitespace runs (a random model emits many newlines) folded, long answers shortened
    (limit None: whole)."""
    flat = " ".join(text.split())
    if not flat:
        return "(empty)"
    return flat if limit is None or len(flat) <= limit else flat[:limit] + f"… (+{len(flat) - limit} chars)"


def run_label(run: str) -> str:
    """`runs/demo/stage2/final` or `runs/demo/stage2` -> `stage2`."""
    p = Path(run)
    return p.parent.name if p.name == "final" else p.name


def compare(runs: list[str], prompts_file: str, gen: dict, system: str | None) -> list[dict]:
    """Every run's Reply to every prompt (models loaded one at a time): [{"question", "images", "replies":
    {run: Reply}}] in prompt order."""
    prompts = read_prompts(prompts_file)
    results = [{"question": p["question"], "images": [str(i) for i in p["images"]], "replies": {}} for p in prompts]
    for run in runs:
        chat = Chat(run, system)
        for p, result in zip(prompts, results):
            images = [open_image(i) for i in p["images"]]
            result["replies"][run] = chat.ask(Conversation(), p["question"], images, **gen)
        del chat
    return results


def compare_rows(results: list[dict], runs: list[str], limit: int | None = 300) -> list[list[str]]:
    """One table row per prompt: the images and question, then each run's answer."""
    rows = []
    for r in results:
        shown = ", ".join(Path(i).name for i in r["images"]) or "-"
        rows.append(
            [f"{shown}: {r['question']}"]
            + [
                one_line(r["replies"][run].text, limit)
                + (" [cut at max_new_tokens]" if r["replies"][run].stopped != "im_end" else "")
                for run in runs
            ]
        )
    return rows
