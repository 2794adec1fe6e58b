"""The ArgumentParser every zqvl command uses: a mistyped option gets a suggestion, and errors stay one line."""

from __future__ import annotations

import argparse
import re

from zqvl.errors import did_you_mean


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):
        unknown = re.match(r"unrecognized arguments: (.+)", message)
        if unknown:
            options = [s for action in self._actions for s in action.option_strings]
            hints = [f"{a}{did_you_mean(a.split('=')[0], options)}" for a in unknown.group(1).split()]
            message = "unrecognized arguments: " + " ".join(hints)
        super().error(message)
