"""`zqvl-chat MODEL --image IMG "问题"`: answer with a trained model; `--interactive` keeps a multi-turn chat;
`--compare RUN1 RUN2 … --prompts FILE` prints one table of every model's answer per prompt."""

from __future__ import annotations

import argparse
import json
import sys

from zqvl.cli.parser import ArgumentParser
from zqvl.data.template import DEFAULT_SYSTEM
from zqvl.errors import UsageError
from zqvl.infer.chat import DEFAULT_MAX_NEW_TOKENS, Chat, Conversation, compare, compare_rows, open_image, run_label
from zqvl.ui import err, out, run_cli, table, warn


def interactive(chat: Chat, first_images: list, gen: dict) -> None:
    err.print(
        "multi-turn chat; /image PATH attaches an image to the next question, /reset starts over, /quit or Ctrl-D ends"
    )
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
        out.print(f"助手> {reply.text}", markup=False)
        if reply.stopped != "im_end":
            warn(f"answer cut at --max-new-tokens {gen['max_new_tokens']}")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="zqvl-chat", description="Chat with a zqvl model (or compare several).")
    p.add_argument(
        "model", nargs="?", help="model dir, run dir (the newer of RUN/final and its last checkpoint) or checkpoint dir"
    )
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
    p.add_argument(
        "--json",
        action="store_true",
        help="print {answer, new_tokens, stopped} as JSON (with --compare: every prompt and run)",
    )
    p.add_argument("--full", action="store_true", help="--compare: whole answers in the table, not cut at 300")
    return p


def _main(argv=None) -> int:
    # intermixed: `zqvl-chat MODEL --image IMG "问题"` puts options between the two positionals
    args = build_parser().parse_intermixed_args(sys.argv[1:] if argv is None else argv)
    if args.max_new_tokens < 1:
        raise UsageError("--max-new-tokens must be >= 1")
    gen = {
        "max_new_tokens": args.max_new_tokens,
        "sample": args.sample,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "seed": args.seed,
    }
    system = args.system or None
    if args.compare:
        if not args.prompts:
            raise UsageError("--compare needs --prompts FILE")
        results = compare(args.compare, args.prompts, gen, system)
        if args.json:
            out.print(
                json.dumps(
                    [
                        {
                            "question": r["question"],
                            "images": r["images"],
                            "answers": {run: vars(reply) for run, reply in r["replies"].items()},
                        }
                        for r in results
                    ],
                    ensure_ascii=False,
                ),
                soft_wrap=True,
                markup=False,
            )
            return 0
        rows = compare_rows(results, args.compare, None if args.full else 300)
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
        out.print(
            json.dumps(
                {"answer": reply.text, "new_tokens": reply.new_tokens, "stopped": reply.stopped}, ensure_ascii=False
            ),
            soft_wrap=True,
            markup=False,
        )
    else:
        out.print(reply.text, soft_wrap=True, markup=False)
    if reply.stopped != "im_end":
        warn(f"the answer reached --max-new-tokens {args.max_new_tokens} before <|im_end|>; raise it for the rest")
    return 0


def main(argv=None) -> None:
    sys.exit(run_cli(_main, argv))


if __name__ == "__main__":
    main()
