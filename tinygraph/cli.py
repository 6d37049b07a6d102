"""The ``tinygraph`` command line: ``tinygraph <subcommand> [options]``.

Each subcommand lives in its own module, which defines ``HELP`` (one line),
``configure(parser)`` (its arguments) and ``run(args) -> int``. Modules import
their heavy dependencies inside ``run``, so ``tinygraph --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand -> module implementing it
SUBCOMMANDS = {
    "train": "models.commands.train",
    "predict": "models.commands.predict",
    "gradcheck": "models.commands.gradcheck",
    "graph": "models.commands.graph",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinygraph",
        description="tinygraph: an autograd-free computational-graph framework on numpy.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
