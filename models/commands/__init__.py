"""Subcommands of the ``tinygraph`` command line (see ``tinygraph.cli.SUBCOMMANDS``)."""

import argparse


def positive_int(text: str) -> int:
    """argparse type: an int of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
