"""``tinygraph train``: the course's logistic regression on the cat pictures, end to end."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from models.commands import positive_int

HELP = "train the course's logistic-regression cat classifier (embedded default data unless --data)"

ITERATIONS = 2000
COMPARED_RATES = (0.01, 0.001, 0.0001)  # the course's learning-rate comparison...
COMPARE_ITERATIONS = 1500  # ... which runs 1500 iterations each


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="DIR", help="directory with the course's train_catvnoncat.h5 and "
                        "test_catvnoncat.h5 (default: $TINYGRAPH_DATA, else the embedded synthetic stand-in)")
    parser.add_argument("--iterations", type=positive_int, help=f"gradient-descent steps ({ITERATIONS}; "
                        f"{COMPARE_ITERATIONS} for --compare-learning-rates, as in the course)")
    parser.add_argument("--learning-rate", type=_positive_float, default=0.005, help="step size (0.005)")
    parser.add_argument("--print-cost", action="store_true", help="print the cost every 100 iterations")
    parser.add_argument("--plot", metavar="PATH", help="save the learning curve (needs tinygraph[plot])")
    parser.add_argument("--compare-learning-rates", metavar="PATH",
                        help="also train with learning rates 0.01, 0.001, 0.0001 and save their curves as one figure")
    parser.add_argument("--mistakes", metavar="PATH", help="save a grid of the misclassified test pictures")
    parser.add_argument("--save", metavar="PATH", help="save the trained model as an HDF5 checkpoint")


def _error(message: str) -> int:
    print(f"tinygraph train: error: {message}", file=sys.stderr)
    return 1


def fit(train_x, train_y, test_x, test_y, iterations: int, learning_rate: float,
        print_cost: bool = False, desc: str = "training") -> dict[str, Any]:
    """The course's ``model`` with a tqdm progress bar (shown on terminals only)."""
    from tqdm import tqdm

    from models.logistic_regression import COST_LINE, model

    with tqdm(total=iterations, desc=desc, unit="it", disable=None, leave=False) as bar:
        def progress(i: int, cost: float) -> None:
            bar.update(1)
            if i % 100 == 0:
                bar.set_postfix(cost=f"{cost:.6f}", refresh=False)
                if print_cost:
                    bar.write(COST_LINE % (i, cost))  # above the bar, not through it

        return model(train_x, train_y, test_x, test_y, iterations, learning_rate, callback=progress)


def run(args: argparse.Namespace) -> int:
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
    iterations = args.iterations or ITERATIONS
    result = fit(train_x, train_y, test_x, test_y, iterations, args.learning_rate, args.print_cost)
    train_accuracy = accuracy(result["Y_prediction_train"], train_y)
    test_accuracy = accuracy(result["Y_prediction_test"], test_y)
    print(f"train accuracy: {train_accuracy} %")
    print(f"test accuracy: {test_accuracy} %")

    try:
        if args.save:
            checkpoint.save_checkpoint(
                args.save, result["w"], result["b"], (h, w, c), classes,
                learning_rate=args.learning_rate, num_iterations=iterations,
                train_accuracy=train_accuracy, test_accuracy=test_accuracy, data=where,
            )
            print(f"saved checkpoint: {args.save}")
        if args.plot:
            plots.learning_curve(result["costs"], args.learning_rate, args.plot)
            print(f"saved learning curve: {args.plot}")
        if args.mistakes:
            plots.misclassified(test_x_orig, test_y, result["Y_prediction_test"], classes, args.mistakes)
            print(f"saved misclassified test pictures: {args.mistakes}")
        if args.compare_learning_rates:
            results = {}
            for rate in COMPARED_RATES:
                results[rate] = fit(train_x, train_y, test_x, test_y, args.iterations or COMPARE_ITERATIONS, rate,
                                    desc=f"learning rate {rate}")
                print(f"learning rate {rate}: train accuracy "
                      f"{accuracy(results[rate]['Y_prediction_train'], train_y)} %, test accuracy "
                      f"{accuracy(results[rate]['Y_prediction_test'], test_y)} %")
            plots.compare_learning_rates(results, args.compare_learning_rates)
            print(f"saved learning-rate comparison: {args.compare_learning_rates}")
    except OSError as error:
        return _error(str(error))
    return 0
