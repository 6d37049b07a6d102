"""``tinygraph gradcheck``: check the logistic-regression graph's gradients and study the step.

Runs :func:`tinygraph.gradcheck` on the course's model (w of shape (12288, 1)
on the cat pictures: the embedded stand-in unless ``--data``), then
:func:`tinygraph.step_study`, and prints both; saves the error-against-step
curve when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import sys

from models.commands import data_dir, output_path, positive_int

HELP = "gradient-check the logistic-regression graph and study the finite-difference step"
PLOT = "gradcheck_steps.png"  # where the curve goes unless --plot says


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="DIR", type=data_dir, help="directory with the course's .h5 files "
                        "(default: $TINYGRAPH_DATA, else the embedded synthetic stand-in)")
    parser.add_argument("--mode", choices=("fast", "full"), default="fast",
                        help="fast: random projections, a few dozen runs (default); "
                             "full: every element, two runs each (about two minutes at cat size)")
    parser.add_argument("--sample", type=positive_int, metavar="N",
                        help="full mode: check N random elements per node instead of all")
    parser.add_argument("--step", type=float, help="base step h (default: cube root of float64 epsilon)")
    parser.add_argument("--examples", type=positive_int, metavar="M",
                        help="use only the first M training pictures (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed for w and the random directions (0)")
    parser.add_argument("--plot", metavar="PATH", type=output_path,
                        help=f"where to save the step study's curve (default {PLOT})")
    parser.add_argument("--no-plot", action="store_true", help="do not save the curve")
    parser.add_argument("--no-study", action="store_true", help="skip the step study")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import tinygraph as tg
    from models import datasets
    from models.logistic_regression import build_graph, flatten

    try:
        train_x_orig, train_y, *_ = datasets.load_dataset(args.data)
    except (OSError, datasets.DatasetError) as error:
        print(f"tinygraph gradcheck: error: {error}", file=sys.stderr)
        return 1
    X = flatten(train_x_orig[: args.examples])
    Y = np.asarray(train_y[:, : args.examples], dtype=np.float64)
    lg = build_graph(X.shape[0])
    # Small random weights, not the course's zeros: at w = 0 every logit is b, a gentler test.
    lg.w.value = np.random.default_rng(args.seed).normal(0.0, 0.01, lg.w.shape)
    feeds = {lg.X: X, lg.Y: Y}
    print(f"logistic regression: w {lg.w.shape}, b (), X {X.shape}, cost = cross-entropy\n")

    report = tg.gradcheck(lg.graph, feeds, mode=args.mode, sample=args.sample, step=args.step, seed=args.seed)
    print(report)
    if args.no_study:
        return 0 if report.ok else 1

    study = tg.step_study(lg.graph, feeds, seed=args.seed)
    print()
    print(study)
    if not args.no_plot:
        try:
            print(f"\nsaved the curve to {study.plot(args.plot or PLOT)}")
        except OSError as error:
            print(f"tinygraph gradcheck: error: cannot save the curve: {error}", file=sys.stderr)
            return 1
        except ImportError:
            print('\n(to save the curve, install matplotlib: pip install matplotlib, or in a tinygraph checkout '
                  'pip install -e ".[plot]")')
    return 0 if report.ok else 1
