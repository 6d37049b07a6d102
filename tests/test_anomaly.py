"""Anomaly detection (the first op making NaN or inf, forward and backward) and errors
that point at the user's line."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

import tinygraph as tg

HERE = __file__


def here() -> int:
    """The caller's line number."""
    return sys._getframe(1).f_lineno


@pytest.fixture(autouse=True)
def quiet_numpy():
    """The planted log(0)s make numpy warn in the normal run; these tests look at the error instead."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def test_planted_log_zero_names_the_op_its_inputs_and_the_users_line():
    x = tg.placeholder((3,), name="x")
    shifted = x - 1.0
    planted = tg.log(shifted); line = here()  # noqa: E702
    g = tg.Graph(tg.sum(planted * x))
    with pytest.raises(tg.AnomalyError) as caught:
        g.forward({x: np.array([1.0, 2.0, 3.0])}, check_finite=True)
    error = caught.value
    assert error.node is planted and error.phase == "forward"
    message = str(error)
    assert f"forward of {planted.name} = log({shifted.name})" in message
    assert f"{HERE}:{line}" in message and "planted = tg.log(shifted)" in message  # the file, line and code
    assert "-inf in 1 of 3 elements, first at index (0,)" in message
    assert f"input 0 {shifted.name}: shape (3,), min 0, max 2" in message


def test_planted_log_zero_of_a_constant_is_not_folded_away():
    x = tg.placeholder((), name="x")
    planted = tg.log(tg.constant(0.0)); line = here()  # noqa: E702
    g = tg.Graph(planted * x)
    with pytest.raises(tg.AnomalyError, match=f"forward of {planted.name} = log") as caught:
        g.forward({x: 1.0}, check_finite=True)
    assert f"{HERE}:{line}" in str(caught.value)


def test_the_first_anomaly_is_named_not_the_ones_it_causes():
    x = tg.placeholder((2,), name="x")
    first = tg.log(x)
    later = tg.exp(first * 0) + first  # 0 * -inf = nan: a second anomaly downstream
    g = tg.Graph(tg.sum(later))
    with pytest.raises(tg.AnomalyError) as caught:
        g.forward({x: np.array([0.0, 1.0])}, check_finite=True)
    assert caught.value.node is first


def test_backward_anomaly_names_the_op_and_the_input_whose_gradient_broke():
    x = tg.placeholder((2,), name="x")
    root = x ** 0.5; line = here()  # noqa: E702  (finite at 0 going forward, infinite slope there)
    g = tg.Graph(tg.sum(root))
    feed = {x: np.array([0.0, 4.0])}
    assert g.forward(feed, check_finite=True) == pytest.approx(2.0)  # forward is fine
    with pytest.raises(tg.AnomalyError) as caught:
        g.backward(wrt=[x], check_finite=True)
    error = caught.value
    assert error.node is root and error.phase == "backward"
    message = str(error)
    assert f"backward of {root.name} = power[exponent=0.5](x) produced +inf in 1 of 2 elements, first at index (0,)" \
        in message
    assert f"{HERE}:{line}" in message
    assert "input 0 x: shape (2,), min 0, max 4" in message


def test_backward_anomaly_from_gradients_that_overflow_when_summed():
    x = tg.placeholder((), name="x")
    g = tg.Graph(x * 1e308 + x * 9e307)  # each path's gradient is finite, their sum is not
    g.forward({x: 0.0})
    with pytest.raises(tg.AnomalyError, match="sum to \\+inf") as caught:
        g.backward(wrt=[x], check_finite=True)
    assert caught.value.node is x


def test_a_nan_fed_in_is_reported_as_the_placeholders():
    x = tg.placeholder((2,), name="x"); line = here()  # noqa: E702
    g = tg.Graph(tg.sum(tg.tanh(x)))
    with pytest.raises(tg.AnomalyError, match="placeholder 'x' holds nan") as caught:
        g.forward({x: np.array([np.nan, 0.0])}, check_finite=True)
    assert caught.value.node is x and f"{HERE}:{line}" in str(caught.value)


def test_a_nan_grad_output_is_reported():
    x = tg.placeholder((2,), name="x")
    g = tg.Graph(tg.tanh(x))
    g.forward({x: np.zeros(2)})
    with pytest.raises(tg.AnomalyError, match="grad_output holds nan"):
        g.backward(wrt=[x], grad_output=np.array([np.nan, 1.0]), check_finite=True)


def test_the_context_manager_checks_every_run_and_an_explicit_false_wins():
    x = tg.placeholder((2,), name="x")
    g = tg.Graph(tg.sum(tg.log(x)))
    feed = {x: np.array([0.0, 1.0])}
    assert g.forward(feed) == -np.inf  # off by default: the normal run, unchecked
    with tg.detect_anomaly():
        with pytest.raises(tg.AnomalyError):
            g.forward(feed)
        assert g.forward(feed, check_finite=False) == -np.inf
        with tg.detect_anomaly(False):
            assert g.forward(feed) == -np.inf
        with pytest.raises(tg.AnomalyError):  # the outer setting is back
            g.forward(feed)
    assert g.forward(feed) == -np.inf


def test_checked_runs_return_what_normal_runs_do():
    x = tg.placeholder((None, 3), name="x")
    w = tg.parameter(np.array([[0.5], [-1.0], [2.0]]), name="w")
    hidden = tg.tanh(x @ w)
    loss = tg.mean(tg.log(tg.sigmoid(hidden)))
    g = tg.Graph(loss)
    feed = {x: np.arange(12.0).reshape(4, 3) / 10}
    plain = g.forward(feed)
    plain_grads = g.backward(wrt=[w, hidden])
    assert g.forward(feed, check_finite=True) == plain
    np.testing.assert_array_equal(g.value(hidden), np.tanh(feed[x] @ w.value))  # values stored as usual
    checked = g.backward(wrt=[w, hidden], check_finite=True)
    assert checked.keys() == plain_grads.keys()
    for node in checked:
        np.testing.assert_array_equal(checked[node], plain_grads[node])


def test_an_op_failing_on_an_earlier_nan_blames_the_earlier_op():
    class Strict(tg.Op):
        arity = 1

        def forward(self, x):
            if np.isnan(x).any():
                raise ValueError("nan input")
            return x

        def backward(self, grad_output, x, *, output):
            return (grad_output,)

    x = tg.placeholder((2,), name="x")
    source = tg.log(x)
    g = tg.Graph(tg.sum(Strict()(source)))
    feed = {x: np.array([-1.0, 1.0])}
    with pytest.raises(tg.OpError, match="strict"):  # unchecked: the op that failed
        g.forward(feed)
    with pytest.raises(tg.AnomalyError) as caught:  # checked: the op that made the nan
        g.forward(feed, check_finite=True)
    assert caught.value.node is source  # found before the op that would fail on it runs


def test_anomaly_error_is_an_op_error_and_a_floating_point_error():
    assert issubclass(tg.AnomalyError, tg.OpError) and issubclass(tg.AnomalyError, FloatingPointError)


# --- errors from building a graph point at the user's line --------------------------

def test_shape_error_names_the_users_line_without_a_chained_traceback():
    a = tg.placeholder((2, 3), name="a")
    b = tg.placeholder((4, 5), name="b")
    with pytest.raises(tg.ShapeError) as caught:
        line = here() + 1
        a @ b  # noqa: B018
    error = caught.value
    assert "matmul" in str(error) and "(2, 3), (4, 5)" in str(error)
    assert f"(at {HERE}:{line})" in str(error)
    assert error.__cause__ is None and error.__suppress_context__


def test_shape_error_raised_by_an_ops_own_check_also_names_the_line():
    class Picky(tg.Op):
        arity = 1

        def infer_shape(self, shape):
            raise tg.ShapeError("picky wants a scalar")

    with pytest.raises(tg.ShapeError, match="picky wants a scalar") as caught:
        line = here() + 1
        Picky()(tg.placeholder((2,)))
    assert f"(at {HERE}:{line})" in str(caught.value)


def test_wrong_number_of_inputs_names_the_line():
    with pytest.raises(TypeError) as caught:
        line = here() + 1
        tg.ops.Exp()(tg.placeholder(()), tg.placeholder(()))
    assert f"(at {HERE}:{line})" in str(caught.value)
