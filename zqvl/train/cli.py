"""`zqvl-train`: placeholder until the trainer issue lands."""
import sys


def main(argv=None) -> None:
    print("zqvl-train: not yet available", file=sys.stderr)
    sys.exit(2)
