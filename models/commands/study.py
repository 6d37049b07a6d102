"""``tinygraph study``: the gradient studies of one of the course's models, as figures.

For ``--model logistic`` (the cat classifier), ``planar`` (the one-hidden-layer
flower network) or ``deep`` (the course's L-layer network on the cat pictures)
it draws three figures into ``--out DIR``:

- ``<model>_steps.png``: the step study's V-curve (:func:`tinygraph.step_study`);
- ``<model>_taylor.png``: the Taylor remainder test (:func:`tinygraph.taylor_test`),
  slope 2 when the gradient is right;
- ``<model>_dtypes.png``: gradcheck in float64 (against its tolerance) and in each
  ``--dtype`` (against the rounding budget of that dtype), observed error ÷
  what is allowed, per node: below 1 passes.

The models are rows of :data:`MODELS`; ``tinygraph gradcheck`` builds its
graph with the same :func:`build`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.commands import data_dir, positive_int

HELP = "draw the gradient studies (V-curve, Taylor test, checks per dtype) of one of the course's models"
DTYPES = ("float32", "float16")  # what the dtype report checks beside float64 unless --dtype says


@dataclass(frozen=True)
class Studied:
    """A course model ready to be checked: its graph with small random weights, and the feeds."""

    description: str
    graph: Any  # tg.Graph; its first output is the cost
    feeds: dict


def _cat_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    from models import datasets
    from models.logistic_regression import flatten

    train_x_orig, train_y, *_ = datasets.load_dataset(args.data)
    X = flatten(train_x_orig[: args.examples])
    return X, np.asarray(train_y[:, : args.examples], dtype=np.float64)


def _logistic(args: argparse.Namespace) -> Studied:
    from models.logistic_regression import build_graph

    X, Y = _cat_data(args)
    lg = build_graph(X.shape[0])
    # Small random weights, not the course's zeros: at w = 0 every logit is b, a gentler test.
    lg.w.value = np.random.default_rng(args.seed).normal(0.0, 0.01, lg.w.shape)
    return Studied(f"logistic regression: w {lg.w.shape}, b (), X {X.shape}, cost = cross-entropy",
                   lg.graph, {lg.X: X, lg.Y: Y})


def _planar(args: argparse.Namespace) -> Studied:
    from models import planar

    X, Y = planar.load_planar_dataset()
    X, Y = X[:, : args.examples], Y[:, : args.examples]
    net = planar.build_network(X.shape[0], 4, 1)
    rng = np.random.default_rng(args.seed)
    for node in net.parameters.values():  # weights of order 1: tanh is curved there, so the check has work to do
        node.value = rng.normal(0.0, 0.5, node.shape)
    shapes = ", ".join(f"{k} {v.shape}" for k, v in net.parameters.items())
    return Studied(f"planar network: {shapes}, X {X.shape}, cost = cross-entropy", net.train,
                   {net.X: X, net.Y: np.asarray(Y, dtype=np.float64)})


def _deep(args: argparse.Namespace) -> Studied:
    from models import deep

    X, Y = _cat_data(args)
    dims = (X.shape[0], 20, 7, 5, 1)  # the course's L-layer cat classifier
    net = deep.build_network(dims)
    net.load(deep.initialize_parameters_deep(dims, init="xavier", seed=args.seed))  # L_layer_model's
    return Studied(f"deep network: layers {list(dims)} (relu, then sigmoid), X {X.shape}, cost = cross-entropy",
                   net.train, {net.X: X, net.Y: Y})


MODELS: dict[str, Callable[[argparse.Namespace], Studied]] = {"logistic": _logistic, "planar": _planar,
                                                              "deep": _deep}


def build(args: argparse.Namespace) -> Studied:
    """The model ``args.model`` names (``logistic`` when it names none), on its data."""
    return MODELS[getattr(args, "model", "logistic")](args)


def out_dir(text: str) -> str:
    """argparse type: an existing, writable directory."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a directory" if path.exists()
                                         else f"directory {text} does not exist")
    if not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"directory {text} is not writable")
    return text


def dtype_name(text: str) -> str:
    """argparse type: a floating dtype below float64."""
    if text not in DTYPES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(DTYPES)}, got {text!r}")
    return text


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=sorted(MODELS), default="logistic", help="which model (logistic)")
    parser.add_argument("--out", metavar="DIR", type=out_dir, default=".",
                        help="the directory the figures go to (the current one)")
    parser.add_argument("--dtype", action="append", type=dtype_name, metavar="DTYPE",
                        help=f"check in this dtype as well as float64 (repeatable; default {' and '.join(DTYPES)})")
    parser.add_argument("--data", metavar="DIR", type=data_dir, help="directory with the course's .h5 files "
                        "(default: $TINYGRAPH_DATA, else the embedded synthetic stand-in)")
    parser.add_argument("--examples", type=positive_int, metavar="M",
                        help="use only the first M training examples (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the weights and the random directions (0)")


def dtype_figure(reports: Sequence[Any], path: str | os.PathLike) -> str:
    """Bars of observed error ÷ allowed error per node, one group per report (its dtype); written atomically."""
    from models.plots import require_matplotlib
    from tinygraph.files import atomic_write

    Figure = require_matplotlib()
    names = [n.name for n in reports[0].nodes]
    width = 0.8 / len(reports)
    figure = Figure(figsize=(7, 4))
    axes = figure.add_subplot()
    for k, report in enumerate(reports):
        ratios = [max(n.error_ratio, 1e-12) for n in report.nodes]
        label = (f"{report.checked_dtype}, against its rounding budget" if report.budget
                 else f"{report.checked_dtype}, against atol + rtol*|n|")
        axes.bar(np.arange(len(names)) + (k - (len(reports) - 1) / 2) * width, ratios, width,
                 label=f"{label}: {'passed' if report.ok else 'FAILED'}")
    axes.axhline(1.0, color="black", linestyle="--", linewidth=0.8)
    axes.set_yscale("log")
    axes.set_ylim(top=1e3)  # room above the pass line for the legend
    axes.set_xticks(np.arange(len(names)), names)
    axes.set_ylabel("largest error ÷ allowed (below 1 passes)")
    axes.set_title("gradcheck in each dtype")
    axes.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    path = os.fspath(path)
    with atomic_write(path) as temporary:
        figure.savefig(temporary, format="png")
    return path


def run(args: argparse.Namespace) -> int:
    import tinygraph as tg
    from models import datasets

    try:
        studied = build(args)
    except (OSError, datasets.DatasetError) as error:
        print(f"tinygraph study: error: {error}", file=sys.stderr)
        return 1
    g, feeds = studied.graph, studied.feeds
    print(studied.description + "\n")
    study = tg.step_study(g, feeds, seed=args.seed)
    taylor = tg.taylor_test(g, feeds, seed=args.seed)
    checks = [tg.gradcheck(g, feeds, mode="fast", seed=args.seed)]
    checks += [tg.gradcheck(g, feeds, mode="fast", seed=args.seed, dtype=np.dtype(name))
               for name in args.dtype or DTYPES]
    print(study, taylor, *checks, sep="\n\n")
    stem = Path(args.out) / args.model
    try:
        saved = [study.plot(f"{stem}_steps.png"), taylor.plot(f"{stem}_taylor.png"),
                 dtype_figure(checks, f"{stem}_dtypes.png")]
    except ImportError:
        print('\ntinygraph study: error: the figures need matplotlib: pip install matplotlib (or, in a tinygraph '
              'checkout, pip install -e ".[plot]")', file=sys.stderr)
        return 1
    except OSError as error:
        print(f"tinygraph study: error: cannot save a figure: {error}", file=sys.stderr)
        return 1
    print("\nsaved " + ", ".join(saved))
    return 0 if taylor.ok and all(c.ok for c in checks) else 1
