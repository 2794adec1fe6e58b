"""`zqvl-data SUBCOMMAND ...`: a thin dispatcher; each subcommand lives in its own module here and exposes
`add_arguments(parser)` and `run(args) -> exit code`. Modules are imported only when their command runs,
so `zqvl-data validate` does not pay for torch or openai imports.
"""

from __future__ import annotations

import importlib
import sys

from zqvl.cli.parser import ArgumentParser
from zqvl.errors import did_you_mean
from zqvl.ui import run_cli

COMMANDS = {
    "validate": "check a canonical DIR: schema, roles, <image> tags, images, duplicates, token budget",
    "convert": "raw set (llava, textocr-gpt4o, sharegpt-4o, linksoul) -> canonical DIR",
    "translate": "English canonical DIR -> Chinese through an OpenAI-compatible endpoint (cached, resumable)",
    "clean": "drop translation defects: DIR -> DIR2/chat.json + rejected.jsonl + report.html",
    "shard": "canonical DIR -> WebDataset tars + manifest.json",
    "verify": "re-read every shard of shards/NAME and check it against manifest.json",
    "synth": "write a learnable synthetic world (shapes, colours, counts, signs) as a canonical DIR",
    "attach-source": "give an already-translated DIR its English `source` per turn, by record id",
}


def _module(name: str):
    return importlib.import_module(f"zqvl.cli.data.{name.replace('-', '_')}")


def _main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = ArgumentParser(prog="zqvl-data", description="zqvl data tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        if argv and argv[0] not in ("-h", "--help"):
            parser.print_usage(sys.stderr)
            print(f"zqvl-data: error: unknown command {argv[0]!r}{did_you_mean(argv[0], COMMANDS)}", file=sys.stderr)
            return 2
        parser.print_help()
        return 0 if argv else 2
    try:
        module = _module(argv[0])
    except ModuleNotFoundError as e:
        if e.name != f"zqvl.cli.data.{argv[0].replace('-', '_')}":
            raise
        print(f"zqvl-data {argv[0]}: not yet available", file=sys.stderr)
        return 2
    cmd_parser = ArgumentParser(prog=f"zqvl-data {argv[0]}", description=COMMANDS[argv[0]])
    module.add_arguments(cmd_parser)
    try:
        args = cmd_parser.parse_args(argv[1:])
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return int(e.code or 0)
    return module.run(args)


def main(argv=None) -> None:
    sys.exit(run_cli(_main, argv))
