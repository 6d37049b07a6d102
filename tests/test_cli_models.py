"""``tinygraph train --model NAME`` for the course's other assignments: what each prints, writes and refuses.

Each model trains for a few iterations (the published numbers of the full runs are
checked in each model's own tests); what the command prints is compared with what
the model's ``train_for_cli`` computes for the same iterations.
"""

from __future__ import annotations

import importlib
import math
import re
import sys

import numpy as np
import pytest

import tinygraph as tg
from models import datasets
from models.commands import train, training
from tests.conftest import REPO_ROOT, course_data_dir
from tinygraph import optim
from tinygraph.cli import main

PNG = b"\x89PNG\r\n\x1a\n"
FOOTBALL = REPO_ROOT.parent / "shared" / "datasets" / "regularization"
COURSE_EXTRA = "the course extra, pip install -e '.[course]'"
ITERATIONS = 12


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """Every test gets its own cache (the synthetic cat data lands there) and no $TINYGRAPH_DATA."""
    monkeypatch.setenv(datasets.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)


def needs(model: str) -> list[str]:
    """The arguments ``model`` needs for its data; skips when the data or the extra is missing."""
    if model in ("initialization", "optimization"):
        pytest.importorskip("sklearn", reason=f"scikit-learn draws the {model} data: {COURSE_EXTRA}")
    if model == "regularization":
        pytest.importorskip("scipy", reason=f"scipy reads the football data.mat: {COURSE_EXTRA}")
        if not (FOOTBALL / "data.mat").is_file():
            pytest.skip(f"the course's data.mat is not in {FOOTBALL}")
        return ["--data", str(FOOTBALL)]
    if model in ("two_layer", "deep") and course_data_dir() is not None:
        return ["--data", str(course_data_dir())]
    return []  # planar's flower is generated; two_layer and deep fall back to the synthetic cat pictures


def run(capsys, *argv):
    code = main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def expected(model: str, data: list[str], iterations: int) -> dict:
    """What the model's own ``train_for_cli`` returns for these iterations (the command must print the same)."""
    course = train.MODELS[model].train.args[0]
    module = importlib.import_module(f"models.{course.module}")
    return module.train_for_cli(iterations, data[1] if data else None, callback=None, **course.keywords)


ACCURACY_LINE = re.compile(r"^(?:(?P<title>.+?): )?(?P<body>(?:(?:train|test) accuracy:? [0-9.]+ %(?:, )?)+)$", re.M)


def printed_accuracies(text: str) -> dict[str, dict[str, float]]:
    """``{run title (or "" for a one-run model): {"train": %, "test": %}}`` from the command's output."""
    found: dict[str, dict[str, float]] = {}
    for line in ACCURACY_LINE.finditer(text):
        accuracies = found.setdefault(line["title"] or "", {})
        accuracies.update((name, float(value)) for name, value in
                          re.findall(r"(train|test) accuracy:? ([0-9.]+) %", line["body"]))
    return found


def assert_same_accuracies(out: str, result: dict) -> None:
    runs = {run["title"]: run["accuracies"] for run in result["runs"].values()} if "runs" in result \
        else {"": result["accuracies"]}
    got = printed_accuracies(out)
    assert set(got) == set(runs), out
    for title, accuracies in runs.items():
        assert set(got[title]) == set(accuracies), out
        for name, value in accuracies.items():
            assert math.isclose(got[title][name], value, rel_tol=1e-13), (title, name, got[title][name], value)


# --- each model end to end ------------------------------------------------------------------

MODELS = [name for name in train.MODELS if name != "logistic"]
BOUNDARY = [name for name in MODELS if "boundary" in train.MODELS[name].options]


@pytest.mark.parametrize("model", MODELS)
def test_each_model_trains_prints_its_accuracies_and_draws_its_figures(model, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason='the figures need matplotlib: pip install "tinygraph[plot]"')
    data = needs(model)
    plot, boundary = tmp_path / "cost.png", tmp_path / "boundary.png"
    extra = ["--boundary", str(boundary)] if model in BOUNDARY else []
    code, out, err = run(capsys, "--model", model, "--iterations", str(ITERATIONS), *data, "--plot", str(plot),
                         *extra)
    assert code == 0, err
    assert_same_accuracies(out, expected(model, data, ITERATIONS))
    assert f"saved learning curve: {plot}" in out and plot.read_bytes().startswith(PNG)
    if extra:
        assert f"saved decision boundary: {boundary}" in out and boundary.read_bytes().startswith(PNG)
    assert "Cost after" not in out  # no --print-cost


@pytest.mark.parametrize("model", MODELS)
def test_save_writes_the_trained_parameters_for_tg_load(model, tmp_path, capsys):
    data = needs(model)
    path = tmp_path / "params.h5"
    code, out, err = run(capsys, "--model", model, "--iterations", "3", *data, "--save", str(path))
    assert code == 0, err
    assert f"saved parameters: {path}" in out
    result = expected(model, data, 3)
    params, meta = tg.load(path)
    assert list(params) == list(result["parameters"])
    for name, value in result["parameters"].items():
        np.testing.assert_array_equal(params[name], value)
    assert meta["model"] == model and meta["num_iterations"] == 3 and meta["run"] == result["title"]
    assert meta["train_accuracy"] == result["accuracies"]["train"]


def test_print_cost_prints_the_course_lines_under_each_run(capsys):
    needs("initialization")
    code, out, _ = run(capsys, "--model", "initialization", "--iterations", "1001", "--print-cost")
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith(("run ", "Cost after"))]
    labels = train.MODELS["initialization"].train.args[0].runs
    assert [line for line in lines if line.startswith("run ")] == [
        f"run {k} of 3: {label}" for k, label in enumerate(labels, 1)]
    # each run's two cost lines (iterations 0 and 1000) come after its label, as the course prints them
    assert [line.split(":")[0] for line in lines] == [
        heading for k in (1, 2, 3)
        for heading in (f"run {k} of 3", "Cost after iteration 0", "Cost after iteration 1000")]
    assert lines[1] == "Cost after iteration 0: 0.6931471805599453"  # zeros: log 2, the course's first line


def test_planar_print_cost_is_the_notebooks_first_line(capsys):
    code, out, _ = run(capsys, "--model", "planar", "--iterations", "5", "--print-cost")
    assert code == 0
    assert re.findall(r"^Cost after .*$", out, re.M) == ["Cost after iteration 0: 0.693162"]  # the notebook's


# --- what the command refuses ----------------------------------------------------------------

@pytest.mark.parametrize("model, option, value", [
    ("planar", "--data", "somewhere"),
    ("initialization", "--data", "somewhere"),
    ("optimization", "--learning-rate", "0.1"),
    ("deep", "--boundary", "b.png"),
    ("two_layer", "--mistakes", "m.png"),
    ("regularization", "--compare-learning-rates", "c.png"),
    ("logistic", "--boundary", "b.png"),
])
def test_an_option_the_model_does_not_take_is_a_usage_error_naming_both(model, option, value, tmp_path,
                                                                         monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "--model", model, option, value)
    assert code == 2
    takers = ", ".join(name for name, row in train.MODELS.items() if option[2:].replace("-", "_") in row.options)
    assert err == f"tinygraph train: error: {option} is not available for --model {model} (it is for {takers})\n"
    assert out == "" and list(tmp_path.iterdir()) == []  # refused before any training


def test_regularization_without_data_names_the_option(capsys):
    code, out, err = run(capsys, "--model", "regularization", "--iterations", "1")
    assert code == 1 and out == ""
    assert "data.mat" in err and "--data DIR" in err and "Traceback" not in err


def test_regularization_with_a_directory_lacking_data_mat_names_the_file(tmp_path, capsys):
    pytest.importorskip("scipy", reason=f"scipy reads the football data.mat: {COURSE_EXTRA}")
    code, _, err = run(capsys, "--model", "regularization", "--data", str(tmp_path), "--iterations", "1")
    assert code == 1
    assert err == (f"tinygraph train: error: data file {tmp_path / 'data.mat'} does not exist "
                   "(expected the course's data.mat of the Regularization assignment)\n")


def test_a_missing_extra_is_an_error_saying_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    code, out, err = run(capsys, "--model", "optimization", "--iterations", "1")
    assert code == 1 and "Traceback" not in err
    assert "needs scikit-learn: pip install scikit-learn" in err


def test_a_missing_matplotlib_stops_before_training(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    picture = tmp_path / "b.png"
    code, out, err = run(capsys, "--model", "planar", "--boundary", str(picture))
    assert code == 1 and out == "" and not picture.exists()
    assert "pip install matplotlib" in err


# --- stopping cleanly in a run of several ----------------------------------------------------

def test_ctrl_c_in_the_second_run_says_which_run_and_where(monkeypatch, capsys):
    needs("initialization")
    calls = []
    record = training.Progress.__call__

    def interrupt_the_second_run(self, i, cost):
        calls.append(i)
        if len(calls) == 10 + 5:  # run 2, its iteration 4: four done
            raise KeyboardInterrupt
        record(self, i, cost)

    monkeypatch.setattr(training.Progress, "__call__", interrupt_the_second_run)
    code, out, err = run(capsys, "--model", "initialization", "--iterations", "10")
    assert code == 130 and out == ""
    label = train.MODELS["initialization"].train.args[0].runs[1]
    assert err.startswith(f"tinygraph train: {label} (run 2 of 3): interrupted by Ctrl-C after 4 of 10 "
                          "iterations (learning rate 0.01; cost ")


def test_a_cost_that_is_not_finite_names_the_run_and_the_learning_rate():
    runs = train.Runs(("first", "second"), 2, 0.5, every=1)
    with pytest.raises(optim.TrainingError) as stop, runs:
        for i, cost in ((0, 0.7), (1, 0.6), (0, 0.7), (1, float("nan"))):  # two runs of two iterations
            runs(i, cost)
    assert str(stop.value) == ("second (run 2 of 2): training with learning rate 0.5 stopped: the cost became nan "
                               "at iteration 1 (it was 0.7 at iteration 0); a smaller learning rate, or a loss the "
                               "graph can make stable, may help")
