"""``tinygraph gradcheck``: check the logistic-regression graph's gradients and study the step.

Runs :func:`tinygraph.gradcheck` on the course's model (w of shape (12288, 1)
on the cat pictures: the embedded stand-in unless ``--data``), then
:func:`tinygraph.step_study`, and prints both; saves the error-against-step
curve when matplotlib is installed. ``--dtype`` checks in float32 or float16
against that dtype's rounding budget, ``--taylor PATH`` adds the Taylor test
and its plot, ``--json PATH`` saves the report (to replay it with
:func:`tinygraph.replay`). ``tinygraph study`` draws all the studies, for any
of the course's models.
"""

from __future__ import annotations

import argparse
import sys

from models.commands import data_dir, output_path, positive_int
from models.commands.study import DTYPES, build, dtype_name

HELP = "gradient-check the logistic-regression graph and study the finite-difference step"
PLOT = "gradcheck_steps.png"  # where the curve goes unless --plot says
PLOT_HINT = ('install matplotlib: pip install matplotlib, or in a tinygraph checkout pip install -e ".[plot]"')


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="DIR", type=data_dir, help="directory with the course's .h5 files "
                        "(default: $TINYGRAPH_DATA, else the embedded synthetic stand-in)")
    parser.add_argument("--mode", choices=("fast", "full"), default="fast",
                        help="fast: random projections, a few dozen runs (default); "
                             "full: every element, two runs each (24,579 runs at cat size)")
    parser.add_argument("--sample", type=positive_int, metavar="N",
                        help="full mode: check N random elements per node instead of all")
    parser.add_argument("--step", type=float, help="base step h (default: cube root of the dtype's epsilon)")
    parser.add_argument("--dtype", type=dtype_name, metavar="DTYPE",
                        help=f"check in {' or '.join(DTYPES)}, against its rounding budget (default: float64, "
                             "against atol + rtol*|n|)")
    parser.add_argument("--examples", type=positive_int, metavar="M",
                        help="use only the first M training pictures (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed for w and the random directions (0)")
    parser.add_argument("--json", metavar="PATH", type=output_path,
                        help="save the gradcheck report as JSON (tinygraph.load_report and replay read it)")
    parser.add_argument("--taylor", metavar="PATH", type=output_path,
                        help="also run the Taylor remainder test and save its plot here")
    parser.add_argument("--plot", metavar="PATH", type=output_path,
                        help=f"where to save the step study's curve (default {PLOT})")
    parser.add_argument("--no-plot", action="store_true", help="do not save the curve")
    parser.add_argument("--no-study", action="store_true", help="skip the step study")


def _error(message: str) -> int:
    print(f"tinygraph gradcheck: error: {message}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import tinygraph as tg
    from models import datasets

    try:
        studied = build(args)
    except (OSError, datasets.DatasetError) as error:
        return _error(str(error))
    g, feeds = studied.graph, studied.feeds
    print(studied.description + "\n")

    dtype = None if args.dtype is None else np.dtype(args.dtype)
    report = tg.gradcheck(g, feeds, mode=args.mode, sample=args.sample, step=args.step, seed=args.seed, dtype=dtype)
    print(report)
    ok = report.ok
    if args.json:
        try:
            print(f"\nsaved the report to {report.to_json(args.json)}")
        except OSError as error:
            return _error(f"cannot save the report: {error}")
    if args.taylor:
        taylor = tg.taylor_test(g, feeds, seed=args.seed)
        print()
        print(taylor)
        ok = ok and taylor.ok
        if not _saved(taylor, args.taylor, "the Taylor plot"):
            return 1
    if args.no_study:
        return 0 if ok else 1

    study = tg.step_study(g, feeds, seed=args.seed)
    print()
    print(study)
    if not args.no_plot and not _saved(study, args.plot or PLOT, "the curve"):
        return 1
    return 0 if ok else 1


def _saved(report: object, path: str, what: str) -> bool:
    """Save ``report.plot(path)``, saying where; False (after the message) when it could not be written."""
    try:
        print(f"\nsaved {what} to {report.plot(path)}")
    except OSError as error:
        _error(f"cannot save {what}: {error}")
        return False
    except ImportError:
        print(f"\n(to save {what}, {PLOT_HINT})")
    return True
