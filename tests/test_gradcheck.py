"""tg.gradcheck and tg.step_study: right answers pass, each kind of wrong backward is
caught in both modes on the right node with the right diagnosis, kinks are kinks,
and the user's graph is never left changed."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.gradcheck import ATOL, DEFAULT_STEP, RTOL
from tinygraph.ops import MatMul, Mean, Sigmoid, Tanh

MODES = ("full", "fast")


def logistic_regression(dim, m, seed=0, dtype=np.float64):
    """The course's model as tg ops: A = sigmoid(w.T X + b), cost = cross-entropy."""
    rng = np.random.default_rng(seed)
    X = tg.placeholder((dim, None), name="X", dtype=dtype)
    Y = tg.placeholder((1, None), name="Y", dtype=dtype)
    w = tg.parameter(rng.normal(0.0, 0.1, (dim, 1)).astype(dtype), name="w")
    b = tg.parameter(np.asarray(0.1, dtype=dtype), name="b")
    A = tg.sigmoid(w.T @ X + b)
    cost = -tg.mean(Y * tg.log(A) + (1 - Y) * tg.log(1 - A))
    feeds = {X: rng.random((dim, m)).astype(dtype), Y: (rng.random((1, m)) > 0.5).astype(dtype)}
    return tg.Graph(cost), feeds, w, b


# --- right answers pass ---------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_logistic_regression_passes(mode):
    g, feeds, w, b = logistic_regression(dim=20, m=7)
    report = tg.gradcheck(g, feeds, mode=mode)
    assert report.ok, str(report)
    assert report.relative_error < 1e-8 and not report.causes and not report.suspects
    assert [n.name for n in report.nodes] == ["w", "b"]


@pytest.mark.parametrize("mode", MODES)
def test_the_models_logistic_regression_graph_passes(mode):
    logistic = pytest.importorskip("models.logistic_regression")
    lg = logistic.build_graph(30)
    rng = np.random.default_rng(1)
    lg.w.value = rng.normal(0.0, 0.1, (30, 1))
    feeds = {lg.X: rng.random((30, 9)), lg.Y: (rng.random((1, 9)) > 0.5).astype(float)}
    report = tg.gradcheck(lg.graph, feeds, mode=mode)  # two outputs (cost, A): the first is checked
    assert report.ok and report.relative_error < 1e-8, str(report)


def test_full_mode_runs_the_graph_twice_per_element():
    g, feeds, w, b = logistic_regression(dim=20, m=5)
    assert tg.gradcheck(g, feeds).forward_runs == 1 + 2 * (20 + 1)
    sampled = tg.gradcheck(g, feeds, sample=6)
    assert sampled.ok and sampled.forward_runs == 1 + 2 * (6 + 1) and sampled.elements == 7


def test_fast_mode_costs_no_more_for_more_elements():
    small = tg.gradcheck(*logistic_regression(dim=10, m=5)[:2], mode="fast")
    large = tg.gradcheck(*logistic_regression(dim=2000, m=5)[:2], mode="fast")
    assert small.ok and large.ok
    assert small.forward_runs == large.forward_runs == 1 + 2 * 3 * 2  # 3 directions per node, 2 nodes


def test_fast_mode_on_the_cat_sized_graph_needs_100_times_fewer_runs():
    g, feeds, w, b = logistic_regression(dim=12288, m=4)
    fast = tg.gradcheck(g, feeds, mode="fast")
    full = tg.gradcheck(g, feeds, mode="full")
    assert fast.ok and full.ok
    assert full.forward_runs == 1 + 2 * 12289
    assert 100 * fast.forward_runs <= full.forward_runs


def test_wrt_placeholders_and_names():
    g, feeds, w, b = logistic_regression(dim=6, m=4)
    report = tg.gradcheck(g, feeds, wrt=["X", b])
    assert report.ok and [n.name for n in report.nodes] == ["X", "b"]
    assert report.elements == 6 * 4 + 1


def test_non_scalar_output_needs_grad_output():
    x = tg.placeholder((None, 3), name="x")
    W = tg.parameter(np.linspace(-1, 1, 6).reshape(3, 2), name="W")
    g = tg.Graph(tg.tanh(x @ W))
    feeds = {x: np.linspace(0, 1, 12).reshape(4, 3)}
    with pytest.raises(tg.GradientError, match="scalar"):
        tg.gradcheck(g, feeds)
    for mode in MODES:
        assert tg.gradcheck(g, feeds, grad_output=np.ones((4, 2)), mode=mode).ok


def test_bad_wrt_is_a_clear_error():
    g, feeds, w, b = logistic_regression(dim=3, m=2)
    hidden = next(n for n in g.nodes if n.op is not None)  # an op node: computed, not perturbable
    with pytest.raises(ValueError, match="parameters and placeholders"):
        tg.gradcheck(g, feeds, wrt=[hidden])
    with pytest.raises(ValueError, match="not part of this graph"):
        tg.gradcheck(g, feeds, wrt=[tg.parameter(1.0, name="elsewhere")])
    with pytest.raises(ValueError, match="mode"):
        tg.gradcheck(g, feeds, mode="quick")


def test_float32_graph_is_checked_in_float64():
    g, feeds, w, b = logistic_regression(dim=8, m=5, dtype=np.float32)
    report = tg.gradcheck(g, feeds)
    # float32 central differences could not get near this; float64 ones do.
    assert report.ok and report.relative_error < 1e-8 and report.dtype == "float32"
    assert "float32" in str(report)


def test_step_is_scaled_to_each_element():
    """At |x| = 1e10 an unscaled step of 6e-6 is a few ulps of x: round-off would swamp it."""
    w = tg.parameter(np.array([1e10, -3e10]), name="w")
    g = tg.Graph(tg.sum(w ** 3))
    assert tg.gradcheck(g).ok
    assert not tg.gradcheck(g, step=DEFAULT_STEP / 1e10).ok  # what an unscaled step would be here
    assert not tg.gradcheck(g, step=1e-1).ok  # too big a step: truncation error shows
    assert DEFAULT_STEP == pytest.approx(np.finfo(float).eps ** (1 / 3))


# --- the user's graph is never left changed -------------------------------------------

def test_parameters_are_left_exactly_as_they_were():
    g, feeds, w, b = logistic_regression(dim=5, m=3, dtype=np.float32)
    before = w.value.copy(), b.value.copy()
    for mode in MODES:
        tg.gradcheck(g, feeds, mode=mode)
        assert w.value.dtype == np.float32 and np.array_equal(w.value, before[0]) and np.array_equal(b.value, before[1])


def test_parameters_survive_a_failing_run():
    class Fragile(Tanh):
        calls = 0

        def forward(self, x):
            Fragile.calls += 1
            if Fragile.calls > 4:
                raise RuntimeError("boom")
            return super().forward(x)

    w = tg.parameter(np.array([0.3, -0.2, 0.1]), name="w")
    before = w.value.copy()
    g = tg.Graph(tg.sum(Fragile()(w)))
    with pytest.raises(tg.OpError, match="boom"):
        tg.gradcheck(g)
    assert np.array_equal(w.value, before)


# --- wrong backwards are caught --------------------------------------------------------

class TwiceSigmoid(Sigmoid):
    name = "twice_sigmoid"

    def gradient(self, grad, x, *, output):
        return (2 * grad * output * (1 - output),)


class FlippedSigmoid(Sigmoid):
    name = "flipped_sigmoid"

    def gradient(self, grad, x, *, output):
        return (-grad * output * (1 - output),)


class TransposedMatMul(MatMul):
    name = "transposed_matmul"

    def gradient(self, grad, a, b, *, output):
        grad_a, grad_b = super().gradient(grad, a, b, output=output)
        return grad_a.T, grad_b


class BatchMean(Mean):
    """Divides by the batch size once more than a mean should."""

    name = "batch_mean"

    def gradient(self, grad, x, *, output):
        (grad,) = super().gradient(grad, x, output=output)
        return (grad / tg.sum(tg.ops.broadcast_like(1.0, x)),)  # x is (1, batch): its size is the batch


def two_branch_graph(bug, m=6, n=4, seed=0):
    """cost = mean(sigmoid(v·tanh(W X) + b)·Y) + mean(tanh(u·X)²): the bug sits on W's branch only."""
    rng = np.random.default_rng(seed)
    X = tg.placeholder((n, None), name="X")
    Y = tg.placeholder((1, None), name="Y")
    W = tg.parameter(rng.normal(0, 0.5, (n, n)), name="W")
    v = tg.parameter(rng.normal(0, 0.5, (1, n)), name="v")
    u = tg.parameter(rng.normal(0, 0.5, (1, n)), name="u")
    hidden = tg.tanh((TransposedMatMul() if bug == "transposed" else MatMul())(W, X))
    squash = {"twice": TwiceSigmoid, "flipped": FlippedSigmoid}.get(bug, Sigmoid)()
    mean = BatchMean() if bug == "batch" else Mean()
    cost = mean(squash(v @ hidden) * Y) + tg.mean(tg.tanh(u @ X) ** 2)
    feeds = {X: rng.normal(size=(n, m)), Y: rng.random((1, m))}
    return tg.Graph(cost, rewrites=False), feeds


BUGS = {
    # bug: (nodes it reaches, words in the cause, the suspect op)
    "twice": ({"W", "v"}, "2 x numeric", "twice_sigmoid"),
    "flipped": ({"W", "v"}, "-numeric", "flipped_sigmoid"),
    "transposed": ({"W"}, "transposed", "transposed_matmul"),
    "batch": ({"W", "v"}, "batch size", "batch_mean"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bug", sorted(BUGS))
def test_a_wrong_backward_is_caught_on_the_right_node(bug, mode):
    reached, words, suspect = BUGS[bug]
    g, feeds = two_branch_graph(bug)
    report = tg.gradcheck(g, feeds, mode=mode)
    assert not report.ok
    failed = {n.name for n in report.nodes if not n.ok}
    assert failed == reached  # u's branch is right and says so
    assert report.worst[0].node in reached and not report.worst[0].ok
    for node in report.nodes:
        if node.name in reached:
            assert words in node.cause, str(report)
    assert [s.op.split("[")[0] for s in report.suspects] == [suspect]
    assert suspect in str(report) and words in str(report)


def test_the_same_graph_without_the_bug_passes():
    for mode in MODES:
        assert tg.gradcheck(*two_branch_graph(None), mode=mode).ok


def test_fast_mode_narrows_down_to_a_single_wrong_element():
    class Glitch(Tanh):
        def backward(self, grad_output, x, *, output):  # a numpy rule, over Tanh's graph-level one
            grad = grad_output * (1 - output * output)
            grad[613] *= 3  # wrong in one element of a thousand
            return (grad,)

    w = tg.parameter(np.linspace(-1, 1, 1000), name="w")
    g = tg.Graph(tg.sum(Glitch()(w)))
    fast = tg.gradcheck(g, mode="fast")
    assert not fast.ok and fast.worst[0].index == (613,)
    assert fast.forward_runs < 60  # bisection: about 2 runs per halving, not 2 per element


# --- kinks -------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_a_perturbation_across_a_kink_is_a_kink_not_a_bug(mode):
    w = tg.parameter(np.array([0.0, 1e-7, 0.5, -0.3]), name="w")
    g = tg.Graph(tg.sum(3 * tg.relu(w) + tg.abs(w)))
    report = tg.gradcheck(g, mode=mode)
    assert report.ok, str(report)
    assert report.kinks and all("kink at 0" in k.kink for k in report.kinks)
    assert "kink" in str(report)
    if mode == "full":
        assert sorted(k.index for k in report.kinks) == [(0,), (1,)]


def test_away_from_kinks_relu_and_abs_are_checked_normally():
    w = tg.parameter(np.array([1.0, -0.5, 0.25]), name="w")
    report = tg.gradcheck(tg.Graph(tg.sum(tg.relu(w) * tg.abs(w))))
    assert report.ok and not report.kinks and report.elements == 3


# --- the report --------------------------------------------------------------------------

def test_report_table_reads_well():
    report = tg.gradcheck(*two_branch_graph("twice"))
    text = str(report)
    for piece in ("gradcheck FAILED", "relative error", "worst elements", "likely cause", "analytic", "numeric"):
        assert piece in text
    assert "FAILED" in repr(report)
    worst = report.worst[0]
    assert worst.abs_error == pytest.approx(abs(worst.analytic - worst.numeric))
    assert worst.analytic == pytest.approx(2 * worst.numeric, rel=1e-6)


def test_relative_error_is_the_courses_metric():
    report = tg.gradcheck(*two_branch_graph("flipped"), wrt=["v"])
    # a = -n everywhere: ||a - n|| / (||a|| + ||n||) = 2||n|| / 2||n|| = 1
    assert report.relative_error == pytest.approx(1.0, rel=1e-6)


# --- choosing a step -------------------------------------------------------------------------

def test_step_study_finds_the_bottom_of_the_v(tmp_path):
    g, feeds, w, b = logistic_regression(dim=50, m=8)
    study = tg.step_study(g, feeds)
    assert len(study.steps) == len(study.errors) == 23
    assert study.steps[0] == pytest.approx(1e-1) and study.steps[-1] == pytest.approx(1e-12)
    best = int(np.argmin(study.errors))
    assert 0 < best < len(study.steps) - 1 and study.best_step == study.steps[best]
    # both arms of the V rise far above its bottom: truncation on the right, round-off on the left
    assert study.errors[0] > 1e3 * study.best_error and study.errors[-1] > 1e3 * study.best_error
    assert study.best_error < 1e-8
    assert tg.gradcheck(g, feeds, step=study.best_step).ok
    assert "best step" in str(study)
    pytest.importorskip("matplotlib")
    path = study.plot(tmp_path / "steps.png")
    assert (tmp_path / "steps.png").stat().st_size > 0 and path.endswith("steps.png")


# --- the command line ----------------------------------------------------------------------

def test_command_line_runs_the_check_and_the_study(tmp_path, monkeypatch, capsys):
    from tinygraph.cli import main

    monkeypatch.setenv("TINYGRAPH_HOME", str(tmp_path))  # the synthetic stand-in goes here
    monkeypatch.delenv("TINYGRAPH_DATA", raising=False)
    plot = tmp_path / "v.png"
    assert main(["gradcheck", "--examples", "8", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "w (12288, 1)" in out and "gradcheck passed" in out and "best step" in out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "install matplotlib" in out
    else:
        assert plot.stat().st_size > 0
    assert main(["gradcheck", "--data", str(tmp_path / "missing"), "--no-study"]) == 1


# --- checks in the graph's own dtype -----------------------------------------------------

class _DoubledSigmoid(Sigmoid):
    def gradient(self, grad, x, *, output):
        return (grad * output * (1 - output) * 2,)


def _float_logistic(dtype, sigmoid=tg.sigmoid, dim=20, m=7):
    rng = np.random.default_rng(0)
    X = tg.placeholder((dim, None), name="X", dtype=dtype)
    w = tg.parameter(rng.normal(0.0, 0.5, (dim, 1)).astype(dtype), name="w")
    b = tg.parameter(np.asarray(0.1, dtype=dtype), name="b")
    A = sigmoid(w.T @ X + b)
    cost = tg.mean(A * A)
    return tg.Graph(cost), {X: rng.random((dim, m)).astype(dtype)}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_a_correct_low_precision_graph_passes_where_float64_tolerances_fail_it(dtype, mode):
    g, feeds = _float_logistic(dtype)
    report = tg.gradcheck(g, feeds, dtype=dtype, mode=mode)
    assert report.ok and report.budget and report.checked_dtype == np.dtype(dtype).name, str(report)
    assert all(0 < n.error_ratio <= 1 for n in report.nodes)
    if mode == "full":  # float64's verdict on the same elements would be FAILED
        assert any(e.abs_error > ATOL + RTOL * abs(e.numeric) for e in report.checks)
    assert report.step == pytest.approx(np.cbrt(np.finfo(dtype).eps))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_a_real_bug_still_fails_in_low_precision(dtype, mode):
    g, feeds = _float_logistic(dtype, sigmoid=_DoubledSigmoid())
    report = tg.gradcheck(g, feeds, dtype=dtype, mode=mode)
    assert not report.ok and all(n.error_ratio > 3 for n in report.nodes), str(report)
    assert any("sigmoid" in s.op for s in report.suspects)


def test_a_budget_is_per_element_and_the_report_says_so():
    g, feeds = _float_logistic(np.float32)
    report = tg.gradcheck(g, feeds, dtype=np.float32)
    assert len({e.tolerance for e in report.checks}) > 1
    assert "rounding budget" in str(report) and "error/budget" in str(report)
    with pytest.raises(ValueError, match="floating dtype"):
        tg.gradcheck(g, feeds, dtype=np.int32)


# --- random ops ------------------------------------------------------------------------------

def test_a_graph_with_an_unseeded_random_op_is_refused_saying_how_to_check_it():
    w = tg.parameter(np.linspace(-1, 1, 6), name="w")
    g = tg.Graph(tg.sum(tg.dropout(w, 0.5) ** 2))
    with pytest.raises(tg.GradientError, match=r"dropout_mask.*is random.*seed=0.*tg.training\(False\)"):
        tg.gradcheck(g)
    seeded = tg.Graph(tg.sum(tg.dropout(w, 0.5, seed=0) ** 2))
    assert tg.gradcheck(seeded).ok  # the same mask every run: checkable
    with tg.training(False):
        assert tg.gradcheck(g).ok  # outside training dropout is the identity


def test_the_likely_cause_says_what_was_measured_before_guessing_why():
    report = tg.gradcheck(*two_branch_graph("twice"))
    assert any("analytic = 2 x numeric: twice the true gradient (a rule's factor doubled, or" in c
               for c in report.causes)
