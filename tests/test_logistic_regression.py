"""Logistic regression as one tinygraph graph: the course's checks, properties, and its published run."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygraph as tg
from models import logistic_regression as lr
from models.datasets import load_dataset


def naive_sigmoid(z):
    with np.errstate(over="ignore"):  # e^1000 is inf, and 1 / inf is the right 0
        return 1 / (1 + np.exp(-z))


def course_cost(A, Y):
    """The course's cross-entropy, written exactly as the notebook does (may be inf/NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))


@st.composite
def problems(draw, scale=2.0):
    """Random (w, b, X, Y) of the course's shapes: w (dim, 1), b a float, X (dim, m), Y (1, m) of 0/1."""
    dim, m = draw(st.integers(1, 4)), draw(st.integers(1, 7))
    values = st.floats(-scale, scale, allow_nan=False, allow_infinity=False)
    w = draw(hnp.arrays(np.float64, (dim, 1), elements=values))
    b = draw(values)
    X = draw(hnp.arrays(np.float64, (dim, m), elements=values))
    Y = draw(hnp.arrays(np.int64, (1, m), elements=st.integers(0, 1)))
    return w, b, X, Y


# --- the notebook's own checks -----------------------------------------------------------

SEED_W, SEED_B = np.array([[1.0], [2.0]]), 2.0
SEED_X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])


def test_seed_check_sigmoid_of_the_linear_part():
    expected = [[0.99987661, 0.99999386, 0.00449627]]
    np.testing.assert_allclose(lr.sigmoid(SEED_W.T @ SEED_X + SEED_B), expected, atol=1e-8)
    np.testing.assert_allclose(lr.predict_proba(SEED_W, SEED_B, SEED_X), expected, atol=1e-8)
    # ... and read straight off a freshly built graph's A node.
    graph = lr.build_graph(2)
    graph.w.value, graph.b.value = SEED_W, SEED_B
    graph.graph.forward({graph.X: SEED_X, graph.Y: np.ones((1, 3))})
    np.testing.assert_allclose(graph.graph.value(graph.A), expected, atol=1e-8)


def test_course_examples_for_propagate_optimize_predict():
    Y = np.array([[1, 0, 1]])
    grads, cost = lr.propagate(SEED_W, SEED_B, SEED_X, Y)
    np.testing.assert_allclose(grads["dw"], [[0.99845601], [2.39507239]], atol=1e-8)
    assert grads["db"] == pytest.approx(0.00145557813678, abs=1e-12)
    assert cost == pytest.approx(5.801545319394553, rel=1e-12)

    params, grads, costs = lr.optimize(SEED_W, SEED_B, SEED_X, Y, num_iterations=100, learning_rate=0.009)
    np.testing.assert_allclose(params["w"], [[0.19033591], [0.12259159]], atol=1e-8)
    assert params["b"] == pytest.approx(1.92535983008, abs=1e-10)
    np.testing.assert_allclose(grads["dw"], [[0.67752042], [1.41625495]], atol=1e-8)
    assert grads["db"] == pytest.approx(0.219194504541, abs=1e-10)
    assert len(costs) == 1 and costs[0] == pytest.approx(5.801545319394553, rel=1e-12)

    w, b = np.array([[0.1124579], [0.23106775]]), -0.3
    X = np.array([[1.0, -1.1, -3.2], [1.2, 2.0, 0.1]])
    np.testing.assert_array_equal(lr.predict(w, b, X), [[1.0, 1.0, 0.0]])


def test_initialize_with_zeros_returns_the_course_types():
    w, b = lr.initialize_with_zeros(2)
    assert w.shape == (2, 1) and not w.any()
    assert type(b) is float and b == 0.0


def test_propagate_return_types():
    grads, cost = lr.propagate(SEED_W, SEED_B, SEED_X, np.array([[1, 0, 1]]))
    assert grads["dw"].shape == (2, 1) and grads["dw"].dtype == np.float64
    assert isinstance(grads["db"], float) and np.ndim(grads["db"]) == 0
    assert isinstance(cost, float) and np.ndim(cost) == 0


# --- properties -------------------------------------------------------------------------

FUSIONS = ("fuse_affine", "fuse_sigmoid_cross_entropy")


def composed_propagate(w, b, X, Y):
    """``propagate`` on the graph as composed (matmul, add, sigmoid, log, mean, ...): only the
    stability rewrite runs, so the gradient comes from the chain rule through every op's rule."""
    lg = lr.build_graph(X.shape[0])
    graph = tg.Graph((lg.cost, lg.A), disable=FUSIONS)
    assert not {"affine", "sigmoid_cross_entropy"} & {n.kind for n in graph.nodes + graph.gradients()}
    lg.w.value, lg.b.value = w, b
    cost, _ = graph.forward({lg.X: X, lg.Y: Y})
    grads = graph.backward((lg.w, lg.b))
    return {"dw": grads[lg.w], "db": float(grads[lg.b])}, float(cost)


PROPAGATES = pytest.mark.parametrize("propagate", [lr.propagate, composed_propagate], ids=["fused", "composed"])


@PROPAGATES
@given(problems())
def test_gradients_equal_the_closed_form(propagate, problem):
    w, b, X, Y = problem
    grads, _ = propagate(w, b, X, Y)
    A = naive_sigmoid(w.T @ X + b)
    m = X.shape[1]
    np.testing.assert_allclose(grads["dw"], X @ (A - Y).T / m, rtol=1e-9, atol=1e-12)
    assert grads["db"] == pytest.approx(np.mean(A - Y), rel=1e-9, abs=1e-12)


@PROPAGATES
@given(problems())
def test_gradients_match_central_differences(propagate, problem):
    w, b, X, Y = problem
    grads, _ = propagate(w, b, X, Y)

    def cost(w_, b_):
        return propagate(w_, b_, X, Y)[1]

    h = 1e-6
    numeric_dw = np.zeros_like(w)
    for i in range(w.shape[0]):
        step = np.zeros_like(w)
        step[i] = h
        numeric_dw[i] = (cost(w + step, b) - cost(w - step, b)) / (2 * h)
    numeric_db = (cost(w, b + h) - cost(w, b - h)) / (2 * h)
    np.testing.assert_allclose(grads["dw"], numeric_dw, rtol=1e-5, atol=1e-7)
    assert grads["db"] == pytest.approx(numeric_db, rel=1e-5, abs=1e-7)


@given(problems())
def test_cost_equals_the_course_formula(problem):
    w, b, X, Y = problem  # |z| <= 2 * 4 * 2 + 2 = 18: the textbook formula is finite and accurate here
    _, cost = lr.propagate(w, b, X, Y)
    expected = course_cost(naive_sigmoid(w.T @ X + b), Y)
    assert np.isfinite(expected)
    assert cost == pytest.approx(expected, rel=1e-7, abs=1e-9)


@given(problems(scale=40.0))
def test_cost_is_finite_for_large_logits_and_equals_the_formula_where_finite(problem):
    w, b, X, Y = problem  # logits up to ±6440: e^z overflows, 1 - A rounds to 0
    grads, cost = lr.propagate(w, b, X, Y)
    z = w.T @ X + b
    exact = np.mean(Y * np.logaddexp(0, -z) + (1 - Y) * np.logaddexp(0, z))  # -log σ(z) = softplus(-z)
    assert np.isfinite(cost) and cost >= 0
    assert cost == pytest.approx(exact, rel=1e-12, abs=1e-12)
    assert np.all(np.isfinite(grads["dw"])) and np.isfinite(grads["db"])
    textbook = course_cost(naive_sigmoid(z), Y)
    if np.all(np.abs(z) < 20):  # where the textbook formula is finite *and* not yet cancelling
        assert cost == pytest.approx(textbook, rel=1e-7, abs=1e-9)


def test_cost_is_finite_at_z_plus_minus_1000():
    w, b = np.array([[1.0]]), 0.0
    X = np.array([[1000.0, -1000.0, 1000.0, -1000.0]])
    Y = np.array([[0, 1, 1, 0]])  # two confidently wrong, two confidently right
    grads, cost = lr.propagate(w, b, X, Y)
    assert cost == pytest.approx(500.0)  # softplus(1000) = 1000 for each wrong one, 0 for the right ones
    assert grads["dw"][0, 0] == pytest.approx(500.0) and grads["db"] == pytest.approx(0.0)
    # The same graph without rewrites is the textbook's: it overflows to inf or NaN here.
    lg = lr.build_graph(1)
    raw = tg.Graph(lg.cost, rewrites=False)
    lg.w.value, lg.b.value = w, b
    with np.errstate(all="ignore"):
        assert not np.isfinite(raw.forward({lg.X: X, lg.Y: Y}))


# --- one graph, built once -----------------------------------------------------------------

def test_the_graph_is_the_course_formula_and_runs_the_stable_form():
    lg = lr.build_graph(3)
    assert isinstance(lg, lr.LogisticGraph)
    assert lg.X.shape == (3, None) and lg.Y.shape == (1, None)
    assert lg.w.shape == (3, 1) and lg.b.shape == ()
    built = {n.kind for n in tg.topological_order([lg.cost])}
    assert {"matmul", "add", "sigmoid", "log", "mul", "sub", "mean"} <= built
    ran = {n.kind for n in lg.graph.nodes}
    # log(σ(z)) and log(1 - σ(z)) were rewritten: to softplus, and that cross-entropy fused into one stable op
    assert {"softplus", "sigmoid_cross_entropy"} & ran and "log" not in ran
    assert set(lg.graph.parameters) == {lg.w, lg.b}


def test_training_builds_one_graph_and_reuses_it(monkeypatch):
    built = []
    original = lr.build_graph
    monkeypatch.setattr(lr, "build_graph", lambda dim: built.append(dim) or original(dim))
    lr._graph.cache_clear()
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 12)), (rng.random((1, 12)) > 0.5).astype(int)
    result = lr.model(X, Y, X[:, :4], Y[:, :4], num_iterations=250, learning_rate=0.1)
    lr.predict(result["w"], result["b"], X)
    assert built == [5]
    lr._graph.cache_clear()


def test_optimize_records_every_100_prints_the_course_line_and_leaves_inputs_alone(capsys):
    w, b = SEED_W.copy(), SEED_B
    seen = []
    params, _, costs = lr.optimize(w, b, SEED_X, np.array([[1, 0, 1]]), num_iterations=301, learning_rate=0.009,
                                   print_cost=True, callback=lambda i, c: seen.append((i, c)))
    assert len(costs) == 4 and [i for i, _ in seen] == list(range(301))
    assert [c for i, c in seen if i % 100 == 0] == costs
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Cost after iteration {i}: {c:f}" for i, c in zip((0, 100, 200, 300), costs, strict=True)]
    np.testing.assert_array_equal(w, SEED_W)
    assert not np.array_equal(params["w"], SEED_W)


def test_predict_thresholds_strictly_above_one_half():
    X = np.zeros((2, 3))
    np.testing.assert_array_equal(lr.predict(np.zeros((2, 1)), 0.0, X), [[0.0, 0.0, 0.0]])  # A = 0.5 exactly
    np.testing.assert_array_equal(lr.predict(np.zeros((2, 1)), 1e-9, X), [[1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(lr.predict(np.zeros(2), 1e-9, X), [[1.0, 1.0, 1.0]])  # w reshaped, as the course


def test_model_returns_the_course_dict():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(3, 10)), (rng.random((1, 10)) > 0.5).astype(int)
    d = lr.model(X, Y, X[:, :4], Y[:, :4], num_iterations=150, learning_rate=0.05)
    assert set(d) == {"costs", "Y_prediction_test", "Y_prediction_train", "w", "b", "learning_rate", "num_iterations"}
    assert d["Y_prediction_train"].shape == (1, 10) and d["Y_prediction_test"].shape == (1, 4)
    assert set(np.unique(d["Y_prediction_train"])) <= {0.0, 1.0}
    assert len(d["costs"]) == 2 and d["learning_rate"] == 0.05 and d["num_iterations"] == 150


def test_wrong_shapes_are_named():
    with pytest.raises(ValueError, match=r"w must have shape \(2, 1\).*\(3, 1\)"):
        lr.propagate(np.zeros((3, 1)), 0.0, SEED_X, np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"w must have shape \(2, 1\).*got \(3,\)"):
        lr.predict(np.zeros(3), 0.0, SEED_X)
    with pytest.raises(ValueError, match="features, examples"):
        lr.propagate(np.zeros((2, 1)), 0.0, np.zeros(3), np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"Y must be a \(1, 3\) row.*got shape \(1, 4\)"):
        lr.propagate(SEED_W, SEED_B, SEED_X, np.ones((1, 4)))


# --- the course's published run on its real data --------------------------------------------

def test_course_run_reproduces_the_published_numbers(course_data):
    train_x, train_y, test_x, test_y, _ = load_dataset(course_data)
    d = lr.model(lr.flatten(train_x), train_y, lr.flatten(test_x), test_y, num_iterations=2000, learning_rate=0.005)
    assert len(d["costs"]) == 20
    assert f"{d['costs'][0]:f}" == "0.693147"
    assert f"{d['costs'][19]:f}" == "0.140872"
    assert lr.accuracy(d["Y_prediction_train"], train_y) == 99.04306220095694
    assert lr.accuracy(d["Y_prediction_test"], test_y) == 70.0
