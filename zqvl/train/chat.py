"""`zqvl-chat MODEL --image IMG "问题"`: answer with a trained model; `--interactive` keeps a multi-turn chat;
`--compare RUN1 RUN2 … --prompts FILE` prints one table of every model's answer per prompt.

Prompts are tokenized exactly like training (template segments, each <image> expanded to the tower's token
count), generation stops at <|im_end|>, and the default budget is 1024 new tokens: the seed's 20 cut answers
mid-sentence. An answer that does hit the budget is reported as cut, never passed off as complete.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from zqvl.data.schema import GPT, HUMAN, IMAGE_TAG, Record, Turn
from zqvl.data.template import DEFAULT_SYSTEM, segments
from zqvl.ui import UsageError, err, out, run_cli, table, warn

DEFAULT_MAX_NEW_TOKENS = 1024


@dataclass
class Reply:
    text: str
    new_tokens: int
    stopped: str            # "im_end" (finished) or "max_new_tokens" (cut)


@dataclass
class Conversation:
    history: list[tuple[str, str]] = field(default_factory=list)   # (question with <image> tags, answer)
    images: list = field(default_factory=list)                     # PIL images in order of appearance


def model_dir(path: str | Path) -> Path:
    """A model dir, or a run dir whose final/ is one."""
    path = Path(path)
    if (path / "config.json").is_file():
        return path
    if (path / "final" / "config.json").is_file():
        return path / "final"
    raise UsageError(f"{path}: neither a model dir (config.json) nor a run dir with final/")


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
        self.stop_ids = [i for i in (tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids(
            "<|endoftext|>")) if i is not None]
        self.system = system

    def prompt_ids(self, conv: Conversation, question: str) -> list[int]:
        """Same segments as training: past turns, the question, then the assistant header."""
        turns = []
        for q, a in conv.history:
            turns += [Turn(HUMAN, q), Turn(GPT, a)]
        turns.append(Turn(HUMAN, question))
        record = Record(id="chat", images=[], turns=turns)
        ids = [i for seg in segments(record, self.system) for i in self.tok.encode(seg.text)]
        return ids + self.tok.encode("<|im_start|>assistant\n")

    def ask(self, conv: Conversation, question: str, new_images: list = (), *, max_new_tokens: int =
            DEFAULT_MAX_NEW_TOKENS, sample: bool = False, temperature: float = 0.7, top_p: float = 0.9,
            seed: int | None = None) -> Reply:
        import torch

        missing = len(new_images) - question.count(IMAGE_TAG)
        if missing > 0:   # LLaVA convention: images go in front of the question
            question = (IMAGE_TAG + "\n") * missing + question
        elif missing < 0:
            raise UsageError(f"the question has {question.count(IMAGE_TAG)} {IMAGE_TAG} tag(s) but "
                             f"{len(new_images)} image(s) came with it")
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
            outputs = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=pixels,
                                          max_new_tokens=max_new_tokens, eos_token_id=self.stop_ids,
                                          pad_token_id=self.processor.tokenizer.pad_token_id, **kwargs)
        new = outputs[0, ids.shape[1]:].tolist()
        stopped = "im_end" if new and new[-1] in self.stop_ids else "max_new_tokens"
        text = self.processor.tokenizer.decode([t for t in new if t not in self.stop_ids],
                                               skip_special_tokens=True)
        conv.history.append((question, text))
        conv.images = images
        return Reply(text, len(new), stopped)


def read_prompts(path: str | Path) -> list[dict]:
    """JSON list or JSONL of {"question": "...", "image": "path" (optional, relative to the file)}."""
    from zqvl.data.io import iter_json_values

    path = Path(path)
    prompts = []
    for i, obj in enumerate(iter_json_values(path)):
        if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
            raise UsageError(f"{path}: prompt #{i} needs a string 'question'")
        image = obj.get("image")
        if image is not None:
            image = Path(image) if Path(image).is_absolute() else path.parent / image
        prompts.append({"question": obj["question"], "image": image})
    if not prompts:
        raise UsageError(f"{path}: no prompts")
    return prompts


def one_line(text: str, limit: int = 300) -> str:
    """A table cell: whitespace runs (a random model emits many newlines) folded, long answers shortened."""
    flat = " ".join(text.split())
    if not flat:
        return "(empty)"
    return flat if len(flat) <= limit else flat[:limit] + f"… (+{len(flat) - limit} chars)"


def run_label(run: str) -> str:
    """`runs/demo/stage2/final` or `runs/demo/stage2` -> `stage2`."""
    p = Path(run)
    return p.parent.name if p.name == "final" else p.name


def compare(runs: list[str], prompts_file: str, gen: dict, system: str | None) -> list[list[str]]:
    """One row per prompt: the prompt, then each run's answer (loaded one model at a time)."""
    prompts = read_prompts(prompts_file)
    answers: dict[str, list[str]] = {}
    for run in runs:
        chat = Chat(run, system)
        col = []
        for p in prompts:
            images = [open_image(p["image"])] if p["image"] else []
            reply = chat.ask(Conversation(), p["question"], images, **gen)
            col.append(one_line(reply.text) + (" [cut at max_new_tokens]" if reply.stopped != "im_end" else ""))
        answers[run] = col
        del chat
    rows = [[f"{p['image'].name if p['image'] else '-'}: {p['question']}"] + [answers[r][i] for r in runs]
            for i, p in enumerate(prompts)]
    return rows


def interactive(chat: Chat, first_images: list, gen: dict) -> None:
    err.print("multi-turn chat; /image PATH attaches an image to the next question, /reset starts over, "
              "/quit or Ctrl-D ends")
    conv, pending = Conversation(), list(first_images)
    while True:
        try:
            line = input("你> ").strip()
        except EOFError:
            return
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return
        if line == "/reset":
            conv, pending = Conversation(), []
            continue
        if line.startswith("/image "):
            try:
                pending.append(open_image(line[7:].strip()))
            except UsageError as e:
                warn(str(e))
            continue
        reply = chat.ask(conv, line, pending, **gen)
        pending = []
        out.print(f"助手> {reply.text}")
        if reply.stopped != "im_end":
            warn(f"answer cut at --max-new-tokens {gen['max_new_tokens']}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zqvl-chat", description="Chat with a zqvl model (or compare several).")
    p.add_argument("model", nargs="?", help="model dir or run dir (uses RUN/final)")
    p.add_argument("question", nargs="?", help="the question; <image> tags optional (images go in front)")
    p.add_argument("--image", action="append", default=[], help="image file (repeatable)")
    p.add_argument("--interactive", action="store_true", help="multi-turn chat on stdin")
    p.add_argument("--compare", nargs="+", metavar="RUN", help="models/runs to compare on --prompts")
    p.add_argument("--prompts", help="JSON/JSONL of {question, image} for --compare")
    p.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS)
    p.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--top-p", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--system", default=DEFAULT_SYSTEM, help="system prompt ('' for none)")
    p.add_argument("--json", action="store_true", help="print {answer, new_tokens, stopped} as JSON")
    return p


def _main(argv=None) -> int:
    # intermixed: `zqvl-chat MODEL --image IMG "问题"` puts options between the two positionals
    args = build_parser().parse_intermixed_args(sys.argv[1:] if argv is None else argv)
    if args.max_new_tokens < 1:
        raise UsageError("--max-new-tokens must be >= 1")
    gen = {"max_new_tokens": args.max_new_tokens, "sample": args.sample, "temperature": args.temperature,
           "top_p": args.top_p, "seed": args.seed}
    system = args.system or None
    if args.compare:
        if not args.prompts:
            raise UsageError("--compare needs --prompts FILE")
        rows = compare(args.compare, args.prompts, gen, system)
        out.print(table("zqvl-chat --compare", ["prompt"] + [run_label(r) for r in args.compare], rows))
        return 0
    if not args.model:
        raise UsageError("give a MODEL dir (or --compare RUN1 RUN2 … --prompts FILE)")
    images = [open_image(p) for p in args.image]
    chat = Chat(args.model, system)
    if args.interactive:
        interactive(chat, images, gen)
        return 0
    if not args.question:
        raise UsageError("give a question (or --interactive)")
    reply = chat.ask(Conversation(), args.question, images, **gen)
    if args.json:
        out.print(json.dumps({"answer": reply.text, "new_tokens": reply.new_tokens, "stopped": reply.stopped},
                             ensure_ascii=False), soft_wrap=True)
    else:
        out.print(reply.text, soft_wrap=True)
    if reply.stopped != "im_end":
        warn(f"the answer reached --max-new-tokens {args.max_new_tokens} before <|im_end|>; raise it for the rest")
    return 0


def main(argv=None) -> None:
    sys.exit(run_cli(_main, argv))


if __name__ == "__main__":
    main()
