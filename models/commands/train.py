"""``tinygraph train``: train one of the course's models on its data, end to end.

The models are rows of :data:`MODELS`; ``--model NAME`` picks one (``logistic``
by default). A row gives the model's default iterations and learning rate,
the options it takes beyond ``--iterations`` and ``--print-cost``, and the
function that trains it, which receives the parsed arguments and the
iterations and learning rate to use. Every option is checked as the command
line is read, so a bad ``--save`` path fails before training, not after it,
and an option the chosen model does not take is a usage error (status 2).

The course's other assignments (``planar``, ``two_layer``, ``deep``,
``initialization``, ``regularization``, ``optimization``) are trained by their
module's ``train_for_cli``; :class:`Course` says how to call it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from models.commands import data_dir, output_path, positive_float, positive_int

HELP = "train one of the course's models (default: the logistic-regression cat classifier) and print its accuracy"

COMPARED_RATES = (0.01, 0.001, 0.0001)  # the course's learning-rate comparison...
COMPARE_ITERATIONS = 1500  # ... which runs 1500 iterations each
# the options a model may take, as argparse names them (beyond --iterations and --print-cost, which all take)
OPTIONS = ("data", "learning_rate", "plot", "boundary", "mistakes", "compare_learning_rates", "save")
USAGE = 2  # the exit status of a usage error, as argparse's


@dataclass(frozen=True)
class Model:
    """A row of :data:`MODELS`: how ``tinygraph train --model NAME`` trains one model."""

    help: str
    train: Callable[[argparse.Namespace, int, float], int]  # (args, iterations, learning rate) -> exit status
    iterations: int
    learning_rate: float
    options: tuple[str, ...] = ()  # which of OPTIONS it takes


@dataclass(frozen=True)
class Course:
    """How :func:`train_course` calls ``models.<module>.train_for_cli`` for one of the course's other models."""

    module: str
    reads: str | None = None  # "cat": the cat pictures (--data, $TINYGRAPH_DATA, the stand-in); "mat": data.mat
    runs: tuple[str, ...] = ()  # the runs it trains one after the other, each from iteration 0; () for one run
    cost_every: int = 100  # how often the progress bar shows the cost
    keywords: Mapping[str, Any] = field(default_factory=dict)  # more arguments for train_for_cli


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


class Runs:
    """:class:`~models.commands.training.Progress` for a model that trains its runs one after the other.

    ``callback(i, cost)`` follows every iteration of every run, ``i`` restarting at 0
    for each, so each run gets a progress bar of its own, opened as the run starts;
    with ``announce`` each run's label is printed first (its cost lines follow). A stop
    (a cost that is not finite, Ctrl-C) says which run it was in.
    """

    def __init__(self, labels: tuple[str, ...], iterations: int, learning_rate: float, every: int,
                 announce: bool = False) -> None:
        self.labels, self.iterations, self.learning_rate, self.every = labels, iterations, learning_rate, every
        self.announce = announce and len(labels) > 1
        self.run = 0  # the run training now, counting from 0
        self._progress: Any = None

    def _start(self) -> None:
        from models.commands.training import Progress

        if self.announce:
            print(f"run {self.run + 1} of {len(self.labels)}: {self.labels[self.run]}")
        self._progress = Progress(self.iterations, self.learning_rate, every=self.every)

    def __call__(self, i: int, cost: float) -> None:
        self._progress(i, cost)
        if i == self.iterations - 1:  # the run's last iteration: the next call is the next run's first
            self._progress.__exit__(None, None, None)
            self._progress = None
            self.run += 1
            if self.run < len(self.labels):
                self._start()

    def __enter__(self) -> Runs:
        self._start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        from models.commands.training import Interrupted
        from tinygraph.optim import TrainingError

        if self._progress is None:
            return
        try:
            self._progress.__exit__(kind, error, traceback)
        except (TrainingError, Interrupted) as stop:
            if len(self.labels) == 1:
                raise
            raise type(stop)(f"{self.labels[self.run]} (run {self.run + 1} of {len(self.labels)}): {stop}") from None


@contextlib.contextmanager
def _above_the_bar(active: bool) -> Iterator[None]:
    """While ``active``, what the model prints (its cost lines) goes above the progress bar, not through it."""
    if not active:
        yield
        return
    from tqdm.contrib import DummyTqdmFile

    with contextlib.redirect_stdout(DummyTqdmFile(sys.stdout)):
        yield


def _percent(value: float) -> str:
    """An accuracy in percent as the command prints it: every digit, less the round-off of scaling by 100
    (100 * 0.58 is 57.99999999999999)."""
    return f"{value:.15g}"


def train_course(course: Course, args: argparse.Namespace, iterations: int, learning_rate: float) -> int:
    """One of the course's other assignments: its module's ``train_for_cli``, then the outputs asked for."""
    import importlib

    from models import datasets, plots
    from tinygraph import io

    if args.plot or args.boundary:  # fail before the training, not after
        try:
            plots.require_matplotlib()
        except ImportError as error:
            return _error(str(error))
    if course.reads == "mat" and args.data is None:
        return _error(f"--model {args.model} trains on the course's data.mat (the Regularization assignment's "
                      "data): give the directory that holds it, --data DIR")
    if course.reads == "cat":
        directory, how = datasets.resolve_data_dir(args.data)
        print(f"data: {'synthetic stand-in' if directory is None else f'{directory} ({how})'}")
    elif course.reads == "mat":
        print(f"data: {args.data} (--data)")

    train_for_cli = importlib.import_module(f"models.{course.module}").train_for_cli
    progress = Runs(course.runs or (args.model,), iterations, learning_rate, course.cost_every, args.print_cost)
    try:
        with progress, _above_the_bar(args.print_cost):
            result = train_for_cli(iterations, args.data, args.print_cost, callback=progress, **course.keywords)
    except (ImportError, OSError, datasets.DatasetError) as error:  # a missing extra, missing or foreign data
        return _error(str(error))

    runs = result.get("runs", {args.model: result})
    for run in runs.values():
        accuracies = [(name, _percent(value)) for name, value in run["accuracies"].items()]
        if "runs" in result:  # a line a run: "Model with dropout: train accuracy 92.9 %, test accuracy 95 %"
            print(f"{run['title']}: " + ", ".join(f"{name} accuracy {value} %" for name, value in accuracies))
        else:  # as logistic prints them
            print(*(f"{name} accuracy: {value} %" for name, value in accuracies), sep="\n")

    try:
        if args.save:
            meta = {f"{name}_accuracy": value for name, value in result["accuracies"].items()}
            io.save(args.save, result["parameters"], model=args.model, run=result["title"],
                    learning_rate=result["learning_rate"], num_iterations=result["iterations"], **meta)
            print(f"saved parameters: {args.save}")
        if args.plot:
            plots.learning_curve(result["costs"], result["learning_rate"], args.plot, every=result["cost_every"])
            print(f"saved learning curve: {args.plot}")
        if args.boundary:
            from models.boundary import decision_boundaries

            pictures = [run["boundary"] for run in runs.values()]
            decision_boundaries(pictures, args.boundary, columns=len(pictures))
            print(f"saved decision boundary: {args.boundary}")
    except OSError as error:
        return _error(str(error))
    return 0


def _course(help: str, iterations: int, learning_rate: float, options: tuple[str, ...], module: str,
            **how: Any) -> Model:
    """A row for one of the course's other models (``how``: the rest of :class:`Course`)."""
    return Model(help, functools.partial(train_course, Course(module, **how)), iterations, learning_rate,
                 options=("plot", "save", *options))


_BOUNDARY = ("boundary",)
# --model NAME -> how to train it; the first row is the default
MODELS: dict[str, Model] = {
    "logistic": Model("logistic regression on the cat pictures (course 1, week 2)", train_logistic,
                      iterations=2000, learning_rate=0.005,
                      options=("data", "learning_rate", "plot", "mistakes", "compare_learning_rates", "save")),
    "planar": _course("one hidden layer of 4 on the planar flower (course 1, week 3)", 10000, 1.2, _BOUNDARY,
                      "planar", cost_every=1000),
    "two_layer": _course("the two-layer cat classifier (course 1, week 4)", 2500, 0.0075, ("data",),
                         "deep", reads="cat", keywords={"model": "two_layer"}),
    "deep": _course("the 4-layer cat classifier [12288, 20, 7, 5, 1] (course 1, week 4)", 2500, 0.0075, ("data",),
                    "deep", reads="cat", keywords={"model": "deep"}),
    "initialization": _course("zeros, large random and He initialization on the circles (course 2, week 1)",
                              15000, 0.01, _BOUNDARY, "initialization", cost_every=1000,
                              runs=("zeros initialization", "large random initialization", "He initialization")),
    "regularization": _course("no regularization, L2 and dropout on the football data (course 2, week 1)",
                              30000, 0.3, ("data", *_BOUNDARY), "regularization", reads="mat", cost_every=1000,
                              runs=("no regularization", "L2 regularization, lambd 0.7",
                                    "dropout, keep_prob 0.86")),
    "optimization": _course("mini-batch gradient descent, momentum and Adam on the moons (course 2, week 2)",
                            5000, 0.0007, _BOUNDARY, "optimization",
                            runs=("mini-batch gradient descent", "momentum", "Adam")),
}


def _defaults(field: str, option: str | None = None) -> str:
    """Each model's default for ``field``, for the help: '2000 for logistic, 10000 for planar'."""
    return ", ".join(f"{getattr(model, field)} for {name}" for name, model in MODELS.items()
                     if option is None or option in model.options)


def _takes(option: str) -> str:
    """The models that take ``option``: 'logistic, planar'."""
    return ", ".join(name for name, model in MODELS.items() if option in model.options)


def configure(parser: argparse.ArgumentParser) -> None:
    default = next(iter(MODELS))
    parser.add_argument("--model", choices=MODELS, default=default,
                        help="; ".join(f"{name}: {m.help}" for name, m in MODELS.items()) + f" (default {default})")
    parser.add_argument("--data", metavar="DIR", type=data_dir, help="directory with the course's data files: "
                        "the cat pictures for logistic, two_layer and deep (default: $TINYGRAPH_DATA, else the "
                        "embedded synthetic stand-in); the one holding data.mat for regularization (required); "
                        "the other models generate their data")
    parser.add_argument("--iterations", type=positive_int, metavar="N", help=f"gradient-descent steps "
                        f"(epochs for optimization; default {_defaults('iterations')}; {COMPARE_ITERATIONS} for "
                        f"--compare-learning-rates, as in the course)")
    parser.add_argument("--learning-rate", type=positive_float, metavar="RATE",
                        help=f"step size (default {_defaults('learning_rate', 'learning_rate')}; the other models "
                        f"train at the course's rates)")
    parser.add_argument("--print-cost", action="store_true", help="print the cost lines the course prints")
    parser.add_argument("--plot", metavar="PATH", type=output_path, help="save the learning curve (needs "
                        "matplotlib; for the models with several runs, the last run's: He, dropout, Adam)")
    parser.add_argument("--boundary", metavar="PATH", type=output_path,
                        help=f"save the decision-boundary picture, one panel per run ({_takes('boundary')}; "
                        f"needs matplotlib)")
    parser.add_argument("--compare-learning-rates", metavar="PATH", type=output_path,
                        help="also train with learning rates 0.01, 0.001, 0.0001 and save their curves as one figure "
                        f"({_takes('compare_learning_rates')})")
    parser.add_argument("--mistakes", metavar="PATH", type=output_path,
                        help=f"save a grid of the misclassified test pictures ({_takes('mistakes')})")
    parser.add_argument("--save", metavar="PATH", type=output_path, help="save the trained model: for logistic "
                        "a checkpoint that predict reads; for the others the trained parameters (the last run's, for "
                        "those with several) as a tinygraph.io file that tg.load reads (predict is logistic's only)")


def run(args: argparse.Namespace) -> int:
    from models.commands.training import Interrupted
    from tinygraph.optim import TrainingError

    model = MODELS[args.model]
    unavailable = [name for name in OPTIONS if getattr(args, name) is not None and name not in model.options]
    if unavailable:
        for name in unavailable:
            option = "--" + name.replace("_", "-")
            print(f"tinygraph train: error: {option} is not available for --model {args.model} "
                  f"(it is for {_takes(name)})", file=sys.stderr)
        return USAGE
    try:
        return model.train(args, args.iterations or model.iterations, args.learning_rate or model.learning_rate)
    except TrainingError as stop:  # a cost that stopped being finite
        return _error(str(stop))
    except Interrupted as stop:
        print(f"tinygraph train: {stop}", file=sys.stderr)
        return 130  # what a shell reports for a program Ctrl-C stopped
