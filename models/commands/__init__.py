"""Subcommands of the ``tinygraph`` command line, registered as ``tinygraph.commands`` entry points.

Each module defines ``HELP`` (one line), ``configure(parser)`` and
``run(args) -> int`` (see :mod:`tinygraph.cli`). This package holds the
argparse types they share: each checks its value when the command line is
read, before any training, and says which option and what it expects.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

COURSE_FILES = "train_catvnoncat.h5 and test_catvnoncat.h5"


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be positive and finite, got {text}")
    return value


def data_dir(text: str) -> str:
    """argparse type: a directory, not a file (a missing one is the data loader's to report, as for $TINYGRAPH_DATA)."""
    if Path(text).is_file():
        raise argparse.ArgumentTypeError(f"{text} is a file; expected a directory: the one holding "
                                         f"{COURSE_FILES} (or data.mat, for --model regularization)")
    return text


def output_path(text: str) -> str:
    """argparse type: a file that can be written: not a directory, in a writable directory that exists."""
    path = Path(text)
    directory = path.parent
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory; expected a file name (such as {path / 'out'})")
    if not directory.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text}: directory {directory} is not writable")
    return text
