"""tinygraph.studies: the Taylor test's slope is the verdict (2 right, 1 wrong; 3 at second order),
jvp is forward mode from the gradient graph, reports round-trip through JSON and replay exactly,
trace_backward shows the backward as it runs, and the rewrite audit catches a broken rewrite."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import ops, studies
from tinygraph.ops import MatMul, Tanh


class DoubledTanh(Tanh):
    """A planted bug: the gradient counted twice."""

    def gradient(self, grad, x, *, output):
        return (grad * (1 - output * output) * 2,)


class SignedTanh(Tanh):
    """A planted bug: the sign flipped."""

    def gradient(self, grad, x, *, output):
        return (-(grad * (1 - output * output)),)


class TransposedMatMul(MatMul):
    """A planted bug: a's gradient transposed (right shape only because a is square)."""

    def gradient(self, grad, a, b, *, output):
        ga, gb = super().gradient(grad, a, b, output=output)
        return (ops.transpose(ga), gb)


class Twice(tg.Op):
    """2x, whose own gradient is wrong (3): only a second derivative through it sees that."""

    def forward(self, x):
        return 2 * x

    def gradient(self, grad, x, *, output):
        return (grad * 3.0,)


class Square(tg.Op):
    """x², with a right first derivative built from Twice."""

    def forward(self, x):
        return x * x

    def gradient(self, grad, x, *, output):
        return (grad * Twice()(x),)


def tanh_graph(tanh=tg.tanh, matmul=tg.matmul):
    x = tg.placeholder((4, 3), name="x")
    W = tg.parameter(np.linspace(-1, 1, 9).reshape(3, 3), name="W")
    A = tg.parameter(np.linspace(-0.5, 0.7, 16).reshape(4, 4), name="A")
    out = tg.sum(tanh(matmul(A, x @ W)) * np.linspace(0.5, 2, 12).reshape(4, 3))
    return tg.Graph(out), {x: np.linspace(0, 1, 12).reshape(4, 3)}, x, W, A


BUGS = {"x2": dict(tanh=DoubledTanh()), "sign": dict(tanh=SignedTanh()), "transpose": dict(matmul=TransposedMatMul())}


# --- Taylor test ---------------------------------------------------------------------------

def test_a_right_gradient_has_slope_two():
    g, feeds, *_ = tanh_graph()
    report = studies.taylor_test(g, feeds)
    assert report.ok and report.slope == pytest.approx(2, abs=0.1), str(report)
    assert len(report.fitted) >= 3 and "passed" in str(report)


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_a_wrong_gradient_has_slope_one(bug):
    g, feeds, *_ = tanh_graph(**BUGS[bug])
    report = studies.taylor_test(g, feeds)
    assert not report.ok and report.slope == pytest.approx(1, abs=0.1), str(report)


def test_a_tiny_error_still_shows_at_small_steps():
    """A gradient off by 1e-7 relative looks right at large steps; the fit's small-step end catches it."""
    class Slightly(Tanh):
        def gradient(self, grad, x, *, output):
            return (grad * (1 - output * output) * (1 + 1e-6),)

    g, feeds, *_ = tanh_graph(tanh=Slightly())
    assert not studies.taylor_test(g, feeds).ok


def test_round_off_is_detected_not_fitted():
    g, feeds, *_ = tanh_graph()
    report = studies.taylor_test(g, feeds, steps=np.logspace(-1, -12, 23))
    assert report.ok and not report.clean[-1]  # the smallest steps are round-off and left out of the fit


def test_second_order_has_slope_three_and_sees_a_wrong_second_derivative():
    g, feeds, *_ = tanh_graph()
    right = studies.taylor_test(g, feeds, order=2)
    assert right.ok and right.slope == pytest.approx(3, abs=0.15), str(right)
    w = tg.parameter(np.array([0.3, -1.2, 2.0]), name="w")
    g2 = tg.Graph(tg.sum(tg.sin(Square()(w))))
    assert studies.taylor_test(g2).ok  # the first derivative is right
    wrong = studies.taylor_test(g2, order=2)
    assert not wrong.ok and wrong.slope == pytest.approx(2, abs=0.15), str(wrong)


def test_an_exactly_linear_function_passes_with_no_slope():
    w = tg.parameter(np.array([1.0, 2.0]), name="w")
    report = studies.taylor_test(tg.Graph(tg.sum(w * 3.0)))
    assert report.ok and np.isnan(report.slope) and "exact" in report.note


def test_taylor_direction_is_checked_and_replayed():
    g, feeds, x, W, A = tanh_graph()
    first = studies.taylor_test(g, feeds, seed=None)
    again = studies.replay(first, g, feeds)
    assert studies.compare_reports(first, again) == []
    with pytest.raises(ValueError, match="shape"):
        studies.taylor_test(g, feeds, wrt=[W], direction=np.ones(3))


def test_taylor_leaves_the_graph_unchanged():
    g, feeds, x, W, A = tanh_graph()
    before = W.value.copy()
    studies.taylor_test(g, feeds, order=2)
    assert np.array_equal(W.value, before)


# --- jvp --------------------------------------------------------------------------------

def test_jvp_is_forward_mode():
    g, feeds, x, W, A = tanh_graph()
    y = tg.tanh(x @ W)
    t = np.linspace(-1, 1, 9).reshape(3, 3)
    (jt,) = studies.jvp(y, [W], [t])
    got = tg.Graph(jt).forward(feeds)
    h = 1e-6
    numeric = (np.tanh(feeds[x] @ (W.value + h * t)) - np.tanh(feeds[x] @ (W.value - h * t))) / (2 * h)
    np.testing.assert_allclose(got, numeric, rtol=1e-7, atol=1e-9)


def test_adjoint_identity_and_a_wrong_rule():
    g, feeds, x, W, A = tanh_graph()
    check = studies.jvp_check([tg.tanh(x @ W), tg.sin(x) * 2.0], [W, x], feeds)
    assert check.ok and check.adjoint_error < 1e-12, str(check)
    bad = studies.jvp_check(DoubledTanh()(x @ W), [W], feeds)
    assert not bad.ok and bad.numeric_error > 0.1 and bad.adjoint_error < 1e-12, str(bad)


def test_jvp_needs_one_tangent_per_input():
    x = tg.placeholder((2,), name="x")
    with pytest.raises(ValueError, match="one tangent per input"):
        studies.jvp(tg.sin(x), [x], [])


# --- reports on disk ---------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["full", "fast"])
def test_gradcheck_reports_round_trip_and_replay_exactly(tmp_path, mode):
    g, feeds, *_ = tanh_graph(**BUGS["x2"])
    report = tg.gradcheck(g, feeds, mode=mode, seed=None)  # a fresh seed, recorded
    path = report.to_json(tmp_path / "check.json")
    loaded = studies.load_report(path)
    assert loaded == report and not loaded.ok
    assert len(loaded.checks) == report.elements and isinstance(loaded.seed, int)
    again = studies.replay(path, g, feeds)
    assert studies.compare_reports(again, report) == []


def test_a_replayed_direction_is_the_one_recorded(tmp_path):
    g, feeds, *_ = tanh_graph()
    report = tg.gradcheck(g, feeds, mode="fast", seed=None)
    directions = {p.node: [p.direction_array()] for p in report.projections[:1]}
    single = tg.gradcheck(g, feeds, mode="fast", directions=directions, wrt=list(directions))
    assert single.projections[0].numeric == report.projections[0].numeric


def test_step_study_and_taylor_reports_round_trip(tmp_path):
    g, feeds, *_ = tanh_graph()
    study = tg.step_study(g, feeds, steps=[1e-3, 1e-5])
    assert studies.load_report(study.to_json(tmp_path / "s.json")) == study
    taylor = studies.taylor_test(g, feeds)
    assert studies.load_report(taylor.to_json(tmp_path / "t.json")) == taylor


def test_compare_reports_names_what_differs_and_bad_files_say_why(tmp_path):
    g, feeds, *_ = tanh_graph()
    a = tg.gradcheck(g, feeds, mode="fast", seed=1)
    b = tg.gradcheck(g, feeds, mode="fast", seed=2)
    assert any(d.startswith("projections") for d in studies.compare_reports(a, b))
    (tmp_path / "x.json").write_text(json.dumps({"kind": "nonsense"}))
    with pytest.raises(ValueError, match="not a tinygraph report"):
        studies.load_report(tmp_path / "x.json")
    a.to_json(tmp_path / "a.json")
    with pytest.raises(ValueError, match="not a 'taylor_test'"):
        studies.TaylorReport.from_json(tmp_path / "a.json")


# --- the backward, step by step ------------------------------------------------------------

def test_trace_backward_runs_in_order_sums_fan_out_and_ends_at_the_gradients():
    w = tg.parameter(np.array([0.5, -1.0]), name="w")
    b = tg.parameter(np.array(0.25), name="b")
    loss = tg.sum(tg.tanh(w * w + b) * w)  # w is read three times: its gradients are summed
    g = tg.Graph(loss, rewrites=False)
    g.forward()
    trace = studies.trace_backward(g)
    grads = g.backward()
    names = [s.name for s in trace.steps]
    for k, s in enumerate(trace.steps):  # each step reads only steps before it (or forward values)
        assert all(i not in names[k:] for i in s.inputs)
    fan = [s for s in trace.steps if s.sums_fan_out]
    assert [s.rule_of for s in fan] == ["w"] and fan[0].name == "dw"
    by_name = {s.name: s for s in trace.steps}
    np.testing.assert_allclose(by_name[trace.gradients["w"]].value, grads[w])
    np.testing.assert_allclose(by_name[trace.gradients["b"]].value, grads[b])
    text = str(trace)
    assert "fan-out summed" in text and "tanh" in text


def test_trace_backward_of_a_large_node_shows_its_shape_and_norm():
    w = tg.parameter(np.ones((30, 2)), name="w")
    g = tg.Graph(tg.sum(tg.sin(w)))
    g.forward()
    trace = studies.trace_backward(g)
    last = trace.steps[-1]
    assert last.value is None and last.shape == (30, 2)
    assert last.norm == pytest.approx(np.linalg.norm(np.cos(np.ones((30, 2)))))
    assert "(30, 2) |" in str(trace)


# --- auditing the rewrites ----------------------------------------------------------------

def _cross_entropy(z_values):
    x = tg.placeholder((len(z_values),), name="x")
    w = tg.parameter(np.array(1.0), name="w")
    loss = -tg.sum(tg.log(1 - tg.sigmoid(x * w)))
    return loss, {x: np.asarray(z_values, dtype=float)}


def test_the_stable_rewrite_keeps_the_function_and_gains_accuracy():
    loss, feeds = _cross_entropy([5.0, 12.0, 20.0])  # where long double itself keeps enough digits
    g = tg.Graph(loss, disable=("fuse_sigmoid_cross_entropy",))
    audit = studies.audit_rewrites(g, feeds, scales=(1, 1.1))
    (stable,) = [r for r in audit.rewrites if r.name == "stable_log_sigmoid"]
    assert audit.ok and stable.ok and stable.compared == 2
    # 1 - sigmoid(20) = 2e-9 loses 9 of float64's 16 digits; -softplus(20) keeps them.
    assert stable.error_as_written > 1e-9 and stable.gain > 100, str(audit)


def test_a_broken_rewrite_fails_the_audit():
    @tg.register_rewrite("broken_log_sigmoid")
    def broken(node):
        if node.kind == "log" and node.inputs[0].kind == "sigmoid":
            return -tg.softplus(node.inputs[0].inputs[0])  # the sign inside is missing
        return None

    try:
        x = tg.placeholder((3,), name="x")
        w = tg.parameter(np.array(0.5), name="w")
        g = tg.Graph(tg.sum(tg.log(tg.sigmoid(x * w))), disable=("stable_log_sigmoid",))
        audit = studies.audit_rewrites(g, {x: np.array([-1.0, 0.5, 2.0])})
    finally:
        del tg.REWRITES["broken_log_sigmoid"]
    (found,) = [r for r in audit.rewrites if r.name == "broken_log_sigmoid"]
    assert not found.ok and not audit.ok and found.value_error > 0.1
    assert "NO" in str(audit)


def test_a_rewrite_with_a_wrong_gradient_fails_the_audit():
    class Exp2(tg.Op):  # exp, with a gradient counted twice
        def forward(self, x):
            return np.exp(x)

        def gradient(self, grad, x, *, output):
            return (grad * output * 2.0,)

    @tg.register_rewrite("broken_exp")
    def broken(node):
        return Exp2()(node.inputs[0]) if node.kind == "exp" else None

    try:
        w = tg.parameter(np.array([0.1, 0.2]), name="w")
        g = tg.Graph(tg.sum(tg.exp(w)))
        audit = studies.audit_rewrites(g)
    finally:
        del tg.REWRITES["broken_exp"]
    (found,) = audit.rewrites
    assert not found.ok and found.value_error == 0 and found.gradient_error > 0.1
