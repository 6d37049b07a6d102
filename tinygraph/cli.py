"""The ``tinygraph`` command line: ``tinygraph <subcommand> [options]``.

Subcommands are plugins: each is an entry point in the group
``tinygraph.commands`` (declared in a package's ``pyproject.toml``), naming a
module that defines ``HELP`` (one line), ``configure(parser)`` (its arguments)
and ``run(args) -> int``. The course's commands (train, predict, gradcheck,
graph) come this way from the project's own ``pyproject.toml``, so the core
library knows no package of models by name. Modules import their heavy
dependencies inside ``run``, so ``tinygraph --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from . import __version__

GROUP = "tinygraph.commands"  # the entry-point group subcommands register under


def subcommands() -> dict[str, EntryPoint]:
    """The installed subcommands, sorted by name (where two share a name, the first found wins)."""
    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=GROUP):
        found.setdefault(entry.name, entry)
    return dict(sorted(found.items()))


def build_parser() -> argparse.ArgumentParser:
    """The parser with every installed subcommand; one that fails to load is skipped with a warning."""
    parser = argparse.ArgumentParser(
        prog="tinygraph",
        description="tinygraph: an autograd-free computational-graph framework on numpy.",
    )
    parser.add_argument("--version", action="version", version=f"tinygraph {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, entry in subcommands().items():
        try:
            module: Any = entry.load()
            help_line = module.HELP
        except Exception as error:  # a broken plugin must not take the other commands down with it
            print(f"tinygraph: warning: subcommand {name!r} ({entry.value}) cannot be loaded: "
                  f"{type(error).__name__}: {error}", file=sys.stderr)
            continue
        sub = commands.add_parser(name, help=help_line, description=help_line)
        module.configure(sub)
        sub.set_defaults(run=module.run)
    if not commands.choices:
        parser.epilog = (f"No subcommands are installed (entry-point group {GROUP!r}): "
                         f'install tinygraph with its commands, e.g. pip install -e "." in the checkout.')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for usage, 130 for Ctrl-C)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"tinygraph {args.command}: interrupted by Ctrl-C", file=sys.stderr)
        return 130  # what a shell reports for a program Ctrl-C stopped


if __name__ == "__main__":
    sys.exit(main())
