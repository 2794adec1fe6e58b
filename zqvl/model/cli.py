"""`zqvl-model`: placeholder until the model-build issue lands."""
import sys


def main(argv=None) -> None:
    print("zqvl-model: not yet available", file=sys.stderr)
    sys.exit(2)
