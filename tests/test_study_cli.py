"""The command line's gradient studies: ``tinygraph gradcheck --json/--dtype/--taylor`` and
``tinygraph study --model ...``, which draws the V-curve, the Taylor plot and the dtype report."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

import tinygraph as tg
from models.commands import study
from tinygraph.cli import main
from tinygraph.ops import Sigmoid

SMALL = ["--examples", "5"]  # the cat pictures' first five: every node still its full size


def _figure(path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gradcheck_json_saves_a_report_that_replays_exactly(tmp_path, capsys):
    path = tmp_path / "check.json"
    assert main(["gradcheck", *SMALL, "--no-study", "--seed", "3", "--json", str(path)]) == 0
    assert f"saved the report to {path}" in capsys.readouterr().out
    saved = tg.load_report(path)
    assert saved.ok and saved.seed == 3 and saved.mode == "fast"
    studied = study.build(argparse.Namespace(model="logistic", data=None, examples=5, seed=3))
    again = tg.replay(path, studied.graph, studied.feeds)
    assert tg.compare_reports(again, saved) == []


def test_gradcheck_dtype_checks_in_that_dtype_against_its_budget(tmp_path, capsys):
    path = tmp_path / "check.json"
    assert main(["gradcheck", *SMALL, "--no-study", "--dtype", "float32", "--json", str(path)]) == 0
    assert "a float32 copy of a float64 graph" in capsys.readouterr().out
    saved = tg.load_report(path)
    assert saved.checked_dtype == "float32" and saved.budget
    assert saved.step == pytest.approx(np.cbrt(np.finfo(np.float32).eps))


def test_gradcheck_taylor_prints_the_slope_and_saves_the_plot(tmp_path, capsys):
    plot = tmp_path / "taylor.png"
    assert main(["gradcheck", *SMALL, "--no-study", "--taylor", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "taylor test passed" in out and "slope 2 " in out and _figure(plot)


def test_gradcheck_json_into_a_missing_directory_is_a_usage_error_before_any_check(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["gradcheck", "--json", str(tmp_path / "missing" / "r.json")])
    assert stop.value.code == 2
    assert "--json" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["logistic", "planar", "deep"])
def test_study_draws_the_three_figures_for_a_course_model(model, tmp_path, capsys):
    assert main(["study", "--model", model, *SMALL, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for figure in ("steps", "taylor", "dtypes"):
        assert _figure(tmp_path / f"{model}_{figure}.png"), figure
    assert "taylor test passed" in out and "a float16 copy" in out and "a float32 copy" in out


class _DoubledSigmoid(Sigmoid):
    def gradient(self, grad, x, *, output):
        return (grad * output * (1 - output) * 2,)


def _broken(args: argparse.Namespace) -> study.Studied:
    rng = np.random.default_rng(0)
    w = tg.parameter(rng.normal(size=(4, 1)), name="w")
    X = tg.placeholder((4, None), name="X")
    return study.Studied("a planted bug", tg.Graph(tg.mean(_DoubledSigmoid()(w.T @ X))), {X: rng.random((4, 6))})


def test_study_of_a_wrong_gradient_fails_in_every_dtype_and_exits_1(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(study.MODELS, "logistic", _broken)
    assert main(["study", "--out", str(tmp_path), "--dtype", "float32"]) == 1
    out = capsys.readouterr().out
    assert "taylor test FAILED" in out and out.count("gradcheck FAILED") == 2  # float64 and float32
    assert "a float16 copy" not in out and _figure(tmp_path / "logistic_dtypes.png")


@pytest.mark.parametrize("argv, message", [
    (["--out", "{tmp}/missing"], "does not exist"),
    (["--out", "{tmp}/file.txt"], "is not a directory"),
    (["--dtype", "float64"], "expected one of float32, float16"),
])
def test_study_options_are_checked_before_anything_runs(argv, message, tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(SystemExit) as stop:
        main(["study", *[a.format(tmp=tmp_path) for a in argv]])
    assert stop.value.code == 2 and message in capsys.readouterr().err
