"""``tinygraph train``: train one of the course's models on its data, end to end.

The models are rows of :data:`MODELS`; ``--model NAME`` picks one (``logistic``
by default). A row gives the model's default iterations and learning rate,
the optional outputs it can draw, and the function that trains it, which
receives the parsed arguments and the iterations and learning rate to use.
Every option is checked as the command line is read, so a bad ``--save``
path fails before training, not after it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from models.commands import data_dir, output_path, positive_float, positive_int

HELP = "train one of the course's models (default: the logistic-regression cat classifier) and print its accuracy"

COMPARED_RATES = (0.01, 0.001, 0.0001)  # the course's learning-rate comparison...
COMPARE_ITERATIONS = 1500  # ... which runs 1500 iterations each
OUTPUTS = ("plot", "mistakes", "compare_learning_rates")  # the optional outputs a model may offer


@dataclass(frozen=True)
class Model:
    """A row of :data:`MODELS`: how ``tinygraph train --model NAME`` trains one model."""

    help: str
    train: Callable[[argparse.Namespace, int, float], int]  # (args, iterations, learning rate) -> exit status
    iterations: int
    learning_rate: float
    outputs: tuple[str, ...] = ()  # which of OUTPUTS it can write


def _error(message: str) -> int:
    print(f"tinygraph train: error: {message}", file=sys.stderr)
    return 1


def fit(train_x, train_y, test_x, test_y, iterations: int, learning_rate: float,
        print_cost: bool = False) -> dict[str, Any]:
    """The course's logistic-regression ``model`` with a progress bar and a clean stop.

    Raises :class:`tinygraph.optim.TrainingError` at the first cost that is
    not finite and :class:`~models.commands.training.Interrupted` on Ctrl-C.
    """
    import numpy as np

    from models.commands.training import Progress
    from models.logistic_regression import model

    # A diverging run overflows on its way to the non-finite cost that stops it; that stop says it all.
    with Progress(iterations, learning_rate, print_cost) as progress, np.errstate(over="ignore", invalid="ignore"):
        return model(train_x, train_y, test_x, test_y, iterations, learning_rate, callback=progress)


def train_logistic(args: argparse.Namespace, iterations: int, learning_rate: float) -> int:
    """The course's Week 2 assignment: logistic regression on the cat pictures."""
    from models import checkpoint, datasets, plots
    from models.logistic_regression import accuracy, flatten

    if args.plot or args.compare_learning_rates or args.mistakes:  # fail before the training, not after
        try:
            plots.require_matplotlib()
        except ImportError as error:
            return _error(str(error))

    try:
        train_x_orig, train_y, test_x_orig, test_y, classes = datasets.load_dataset(args.data)
    except (OSError, datasets.DatasetError) as error:
        return _error(str(error))
    directory, how = datasets.resolve_data_dir(args.data)
    where = "synthetic stand-in" if directory is None else f"{directory} ({how})"
    h, w, c = train_x_orig.shape[1:]
    print(f"data: {where}: {len(train_x_orig)} training and {len(test_x_orig)} test pictures of {h}x{w}x{c}")

    train_x, test_x = flatten(train_x_orig), flatten(test_x_orig)
    result = fit(train_x, train_y, test_x, test_y, iterations, learning_rate, args.print_cost)
    train_accuracy = accuracy(result["Y_prediction_train"], train_y)
    test_accuracy = accuracy(result["Y_prediction_test"], test_y)
    print(f"train accuracy: {train_accuracy} %")
    print(f"test accuracy: {test_accuracy} %")

    try:
        if args.save:
            checkpoint.save_checkpoint(
                args.save, result["w"], result["b"], (h, w, c), classes,
                learning_rate=learning_rate, num_iterations=iterations,
                train_accuracy=train_accuracy, test_accuracy=test_accuracy, data=where,
            )
            print(f"saved checkpoint: {args.save}")
        if args.plot:
            plots.learning_curve(result["costs"], learning_rate, args.plot)
            print(f"saved learning curve: {args.plot}")
        if args.mistakes:
            plots.misclassified(test_x_orig, test_y, result["Y_prediction_test"], classes, args.mistakes)
            print(f"saved misclassified test pictures: {args.mistakes}")
        if args.compare_learning_rates:
            results = {}
            for rate in COMPARED_RATES:
                results[rate] = fit(train_x, train_y, test_x, test_y, args.iterations or COMPARE_ITERATIONS, rate)
                print(f"learning rate {rate}: train accuracy "
                      f"{accuracy(results[rate]['Y_prediction_train'], train_y)} %, test accuracy "
                      f"{accuracy(results[rate]['Y_prediction_test'], test_y)} %")
            plots.compare_learning_rates(results, args.compare_learning_rates)
            print(f"saved learning-rate comparison: {args.compare_learning_rates}")
    except OSError as error:
        return _error(str(error))
    return 0


# --model NAME -> how to train it; the first row is the default
MODELS: dict[str, Model] = {
    "logistic": Model("logistic regression on the cat pictures (course 1, week 2)", train_logistic,
                      iterations=2000, learning_rate=0.005, outputs=OUTPUTS),
}


def _defaults(field: str) -> str:
    """Each model's default for ``field``, for the help: '2000 for logistic, 10000 for planar'."""
    return ", ".join(f"{getattr(model, field)} for {name}" for name, model in MODELS.items())


def configure(parser: argparse.ArgumentParser) -> None:
    default = next(iter(MODELS))
    parser.add_argument("--model", choices=MODELS, default=default,
                        help="; ".join(f"{name}: {m.help}" for name, m in MODELS.items()) + f" (default {default})")
    parser.add_argument("--data", metavar="DIR", type=data_dir, help="directory with the course's data files "
                        "(default: $TINYGRAPH_DATA, else the embedded synthetic stand-in)")
    parser.add_argument("--iterations", type=positive_int, metavar="N", help=f"gradient-descent steps "
                        f"(default {_defaults('iterations')}; {COMPARE_ITERATIONS} for --compare-learning-rates, "
                        f"as in the course)")
    parser.add_argument("--learning-rate", type=positive_float, metavar="RATE",
                        help=f"step size (default {_defaults('learning_rate')})")
    parser.add_argument("--print-cost", action="store_true", help="print the cost every 100 iterations")
    parser.add_argument("--plot", metavar="PATH", type=output_path, help="save the learning curve (needs matplotlib)")
    parser.add_argument("--compare-learning-rates", metavar="PATH", type=output_path,
                        help="also train with learning rates 0.01, 0.001, 0.0001 and save their curves as one figure")
    parser.add_argument("--mistakes", metavar="PATH", type=output_path,
                        help="save a grid of the misclassified test pictures")
    parser.add_argument("--save", metavar="PATH", type=output_path, help="save the trained model as a checkpoint")


def run(args: argparse.Namespace) -> int:
    from models.commands.training import Interrupted
    from tinygraph.optim import TrainingError

    model = MODELS[args.model]
    unavailable = [name for name in OUTPUTS if getattr(args, name) and name not in model.outputs]
    if unavailable:
        options = ", ".join("--" + name.replace("_", "-") for name in unavailable)
        return _error(f"{options}: not available for --model {args.model}")
    try:
        return model.train(args, args.iterations or model.iterations, args.learning_rate or model.learning_rate)
    except TrainingError as stop:  # a cost that stopped being finite
        return _error(str(stop))
    except Interrupted as stop:
        print(f"tinygraph train: {stop}", file=sys.stderr)
        return 130  # what a shell reports for a program Ctrl-C stopped
