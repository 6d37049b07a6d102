"""Course 2 Week 1 "Gradient Checking" on tinygraph graphs: the published differences, and the diagnosis.

Published numbers: the 2021 notebook's public_tests.py (gradient_check_test: 2.919335883291695e-10 for
x, theta = 2, 4) and the gradient_check_n cell's expected values [0.2850931567761623,
1.1890913024229996e-07] (with the planted bugs, and once they are fixed).
"""

from __future__ import annotations

import numpy as np
import pytest

from models import gradient_checking as gc
from models.three_layer import PARAMETER_KEYS


@pytest.fixture
def case():
    X, Y, parameters = gc.gradient_check_n_test_case()
    cost, cache = gc.forward_propagation_n(X, Y, parameters)
    return X, Y, parameters, cost, cache


def course_backward_propagation_n(X, Y, cache):
    """gc_utils' backward_propagation_n with the notebook's two bugs removed, as the course writes it."""
    m = X.shape[1]
    Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = cache
    dZ3 = A3 - Y
    dW3 = 1. / m * np.dot(dZ3, A2.T)
    db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(W3.T, dZ3)
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1. / m * np.dot(dZ2, A1.T)
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1. / m * np.dot(dZ1, X.T)
    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


# --- 1-D ------------------------------------------------------------------------------

def test_one_dimensional_graders_cases(capsys):
    assert gc.forward_propagation(2, 4) == 8
    assert gc.backward_propagation(2, 4) == 2
    difference = gc.gradient_check(2, 4, print_msg=True)
    assert difference == pytest.approx(2.919335883291695e-10, rel=1e-12)
    assert capsys.readouterr().out == f"Your backward propagation works perfectly fine! difference = {difference}\n"


def test_one_dimensional_gradient_is_x():
    for x, theta in ((3.0, -1.5), (-0.25, 10.0)):
        assert gc.backward_propagation(x, theta) == x
        assert gc.gradient_check(x, theta) < 1e-7


# --- N-D: the published differences ------------------------------------------------------

def test_forward_propagation_n_is_the_course_formula(case):
    X, Y, parameters, cost, cache = case
    A3 = cache[9]
    course = 1. / 3 * np.sum(np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y))
    assert cost == course  # every op as written: the same floating-point result
    Z1 = parameters["W1"] @ X + parameters["b1"]
    np.testing.assert_allclose(cache[0], Z1, rtol=1e-15)
    assert len(cache) == 12


def test_the_planted_bugs_give_the_published_difference(case, capsys):
    X, Y, parameters, _, cache = case
    gradients = gc.backward_propagation_n(X, Y, cache, planted_bugs=True)
    difference = gc.gradient_check_n(parameters, gradients, X, Y, 1e-7, True)
    assert difference == pytest.approx(0.2850931567761623, rel=1e-14)  # copies print ...623 and ...624
    assert capsys.readouterr().out == f"There is a mistake in the backward propagation! difference = {difference}\n"


def test_the_graphs_backward_gives_the_published_difference_once_fixed(case, capsys):
    X, Y, parameters, _, cache = case
    gradients = gc.backward_propagation_n(X, Y, cache)
    difference = gc.gradient_check_n(parameters, gradients, X, Y, 1e-7, True)
    # This difference is the round-off of the cost formula over 2ε, so it depends on the last bits of every
    # J(θ ± ε): the grader expects 1.1890913024229996e-07, another copy prints 1.1890913022840002e-07.
    # They agree to ten digits, and so does this.
    assert difference == pytest.approx(1.1890913024229996e-07, rel=1e-9)
    assert capsys.readouterr().out.startswith("Your backward propagation works perfectly fine! difference = 1.18909")


def test_the_stable_cost_makes_the_same_check_a_hundred_times_tighter(case):
    """The course's 1.19e-07 measures log(1 - A3)'s round-off: tinygraph's stable cost has far less."""
    X, Y, parameters, _, cache = case
    gradients = gc.backward_propagation_n(X, Y, cache)
    as_written = gc.gradient_check_n(parameters, gradients, X, Y)
    stable = gc.gradient_check_n(parameters, gradients, X, Y, as_written=False)
    assert stable < as_written / 30 and stable < 1e-8


def test_backward_propagation_n_is_the_course_formula(case):
    X, Y, parameters, _, cache = case
    gradients = gc.backward_propagation_n(X, Y, cache)
    expected = course_backward_propagation_n(X, Y, cache)
    assert list(gradients) == list(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(gradients[key], value, rtol=1e-12, atol=1e-15, err_msg=key)


def test_the_planted_bugs_are_the_notebooks(case):
    X, Y, _, _, cache = case
    right = gc.backward_propagation_n(X, Y, cache)
    broken = gc.backward_propagation_n(X, Y, cache, planted_bugs=True)
    np.testing.assert_allclose(broken["dW2"], 2 * right["dW2"], rtol=1e-15)
    np.testing.assert_allclose(broken["db1"], 4 * right["db1"], rtol=1e-15)
    for key in set(right) - {"dW2", "db1"}:
        np.testing.assert_allclose(broken[key], right[key], rtol=1e-15, err_msg=key)


# --- what tinygraph's gradcheck says ---------------------------------------------------------

def test_gradcheck_names_the_broken_gradients_their_factors_and_ops(case):
    X, Y, parameters, _, _ = case
    report = gc.check_backward(parameters, X, Y, planted_bugs=True)
    assert not report.ok
    failed = {node.name: node for node in report.nodes if not node.ok}
    assert set(failed) == {"b1", "W2"}
    causes = "\n".join(report.causes)
    assert "b1: analytic = 4 x numeric everywhere: a constant factor is wrong in a backward rule" in causes
    assert "W2: analytic = 2 x numeric: twice the true gradient" in causes
    suspects = {(s.op, s.input_name) for s in report.suspects}
    assert suspects == {("add_with_db_quadrupled", "b1"), ("matmul_with_dW_doubled", "W2")}
    assert "suspect: Z1 = add_with_db_quadrupled(...)" in str(report)


def test_gradcheck_passes_the_graphs_own_backward(case):
    X, Y, parameters, _, _ = case
    report = gc.check_backward(parameters, X, Y)
    assert report.ok and not report.suspects
    assert report.relative_error < 1e-9
    assert {node.name for node in report.nodes} == set(PARAMETER_KEYS)


# --- gc_utils ------------------------------------------------------------------------------

def test_parameters_as_one_vector_round_trip(case):
    _, _, parameters, _, _ = case
    theta, keys = gc.dictionary_to_vector(parameters)
    assert theta.shape == (47, 1) and keys[:20] == ["W1"] * 20 and keys[-1] == "b3"
    back = gc.vector_to_dictionary(theta)
    for key in PARAMETER_KEYS:
        np.testing.assert_array_equal(back[key], parameters[key])
    grads = {f"d{key}": value for key, value in parameters.items()}
    np.testing.assert_array_equal(gc.gradients_to_vector(grads), theta)
    other = gc.vector_to_dictionary(np.arange(2 * 3 + 3 + 3 * 3 + 3 + 3 + 1), layers_dims=(2, 3, 3, 1))
    assert other["W2"].shape == (3, 3) and other["b3"].shape == (1, 1)
    with pytest.raises(ValueError, match="46 entries; layers .* have 47"):
        gc.vector_to_dictionary(theta[:-1])


def test_the_test_case_is_the_notebooks():
    np.random.seed(1)
    X = np.random.randn(4, 3)
    W1 = np.random.randn(5, 4)
    got_X, Y, parameters = gc.gradient_check_n_test_case()
    np.testing.assert_array_equal(got_X, X)
    np.testing.assert_array_equal(parameters["W1"], W1)
    assert Y.tolist() == [1, 1, 0] and parameters["b3"].shape == (1, 1)
