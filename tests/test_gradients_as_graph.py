"""Gradients are graph nodes: tg.grad, derivatives of any order, feeding any node, the checks on users' ops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import tinygraph as tg
import tinygraph.run
from tinygraph.testing import arrays_in

# --- tg.grad builds nodes -----------------------------------------------------------------------

def test_grad_returns_nodes_with_inferred_shapes_that_run_like_any_graph():
    x = tg.placeholder((None, 3), name="x")
    w = tg.parameter(np.arange(6.0).reshape(3, 2) / 10, name="w")
    loss = tg.mean(tg.tanh(x @ w))
    dx, dw = tg.grad(loss, [x, w])
    assert isinstance(dw, tg.Node) and dw.shape == (3, 2) and dx.shape == (None, 3)
    feed = np.random.default_rng(0).normal(size=(5, 3))
    got_dx, got_dw = tg.Graph([dx, dw]).forward({x: feed})
    t = np.tanh(feed @ w.value)
    np.testing.assert_allclose(got_dw, feed.T @ (1 - t**2) / t.size)
    np.testing.assert_allclose(got_dx, (1 - t**2) @ w.value.T / t.size)
    assert dw.grad_of is not None  # each gradient node says whose rule made it


def test_a_node_the_output_does_not_depend_on_gets_zeros():
    x, unused = tg.parameter(np.ones(2), name="x"), tg.parameter(np.ones(3), name="unused")
    (d,) = tg.grad(tg.sum(x), [unused])
    np.testing.assert_array_equal(tg.Graph(d).forward(), np.zeros(3))


def test_grad_of_a_non_scalar_needs_grad_output():
    x = tg.placeholder((3,), name="x")
    with pytest.raises(tg.GradientError, match="not one element"):
        tg.grad(tg.tanh(x), [x])
    (vjp,) = tg.grad(tg.tanh(x), [x], grad_output=np.array([1.0, 2.0, 3.0]))
    value = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(tg.Graph(vjp).forward({x: value}), [1, 2, 3] * (1 - np.tanh(value) ** 2))


def test_broadcast_gradients_are_summed_by_a_node_known_at_build_time():
    b = tg.parameter(np.zeros((1, 3)), name="b")
    x = tg.placeholder((4, 3), name="x")
    (db,) = tg.grad(tg.sum(x + b), [b])
    assert db.kind == "sum_to_shape" and db.shape == (1, 3)  # shapes known: the axes are worked out now
    y = tg.placeholder((None, 3), name="y")
    (db,) = tg.grad(tg.sum(y * b), [b])
    assert db.shape == (1, 3)
    np.testing.assert_allclose(tg.Graph(db).forward({y: np.ones((5, 3))}), 5 * np.ones((1, 3)))


# --- any order --------------------------------------------------------------------------------

# (second derivatives of every registered op: tests/test_ops_second_order.py)

def test_third_derivative_of_a_polynomial():
    x = tg.placeholder((), name="x")
    y = x ** 4 + 2 * x ** 3
    d1 = tg.grad(y, [x])[0]
    d2 = tg.grad(d1, [x])[0]
    d3 = tg.grad(d2, [x])[0]
    value = 1.5
    np.testing.assert_allclose(tg.Graph([d1, d2, d3]).forward({x: value}),
                               [4 * value**3 + 6 * value**2, 12 * value**2 + 12 * value, 24 * value + 12])


def test_hessian_vector_products_of_a_small_mlp_match_finite_differences():
    rng = np.random.default_rng(3)
    X = tg.constant(rng.normal(size=(3, 7)))
    Y = tg.constant((rng.random((1, 7)) > 0.5).astype(float))
    net = tg.nn.MLP([3, 4, 1], hidden="tanh", output="sigmoid", init="xavier", rng=1)
    loss = tg.nn.binary_cross_entropy(net(X), Y)
    params = net.parameters()
    grads = tg.grad(loss, params)
    directions = [rng.normal(size=p.shape) for p in params]
    inner = tg.sum(grads[0] * directions[0])
    for g_node, v in zip(grads[1:], directions[1:], strict=True):
        inner = inner + tg.sum(g_node * v)
    hvp = tg.Graph(tg.grad(inner, params))
    gradient = tg.Graph(grads)
    analytic = hvp.forward()
    h = 1e-5
    start = [p.value.copy() for p in params]
    shifted = []
    for sign in (1, -1):
        for p, p0, v in zip(params, start, directions, strict=True):
            p.value = p0 + sign * h * v
        shifted.append(gradient.forward())
    for p, p0 in zip(params, start, strict=True):
        p.value = p0
    for a, plus, minus in zip(analytic, *shifted, strict=True):
        np.testing.assert_allclose(a, (plus - minus) / (2 * h), rtol=1e-6, atol=1e-8)


def test_ten_thousand_node_chain_through_grad():
    x = tg.placeholder((2,), name="x")
    y = x
    for _ in range(10_000):
        y = tg.tanh(y) * 0.5 + y * 0.5  # stays near x, so the gradient neither vanishes nor explodes
    (dx,) = tg.grad(tg.sum(y), [x])
    g = tg.Graph(dx)
    value = np.array([0.3, -0.2])
    got = g.forward({x: value})
    # the same recursion by hand: d/dx of the chain is the product of (0.5 (1 - tanh(y)^2) + 0.5)
    expected, current = np.ones(2), value.copy()
    for _ in range(10_000):
        expected *= 0.5 * (1 - np.tanh(current) ** 2) + 0.5
        current = np.tanh(current) * 0.5 + current * 0.5
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_a_numpy_backward_differentiates_once_and_then_says_how_to_go_further():
    class Cube(tg.Op):
        arity = 1

        def forward(self, x):
            return x**3

        def backward(self, grad_output, x, *, output):
            return (3 * x**2 * grad_output,)

        def infer_shape(self, shape):
            return shape

    x = tg.placeholder((2,), name="x")
    (dx,) = tg.grad(tg.sum(Cube()(x)), [x])
    np.testing.assert_allclose(tg.Graph(dx).forward({x: np.array([1.0, 2.0])}), [3.0, 12.0])
    with pytest.raises(tg.GradientError, match=r"'cube'.*differentiated once.*gradient\(self, grad"):
        tg.grad(tg.sum(dx), [x])


def test_x_to_the_zero_has_gradient_zero_at_zero():
    x = tg.parameter(np.array([0.0, 2.0]), name="x")
    g = tg.Graph(tg.sum(x ** 0))
    g.forward()
    np.testing.assert_array_equal(g.backward()[x], [0.0, 0.0])


# --- feeding any node ------------------------------------------------------------------------------

def test_a_fed_intermediate_is_taken_as_given_and_backward_goes_through_it():
    X = tg.placeholder((2, None), name="X")
    W1 = tg.parameter(np.array([[1.0, -1.0], [0.5, 2.0]]), name="W1")
    W2 = tg.parameter(np.array([[0.3, -0.7]]), name="W2")
    A1 = tg.tanh(W1 @ X)
    cost = tg.sum(W2 @ A1)
    g = tg.Graph(cost, rewrites=False)
    X_value = np.array([[1.0, 2.0], [3.0, -1.0]])
    cached = np.array([[0.1, 0.2], [0.3, 0.4]])  # not what W1 @ X would give
    assert g.forward({X: X_value, A1: cached}) == pytest.approx(float(np.sum(W2.value @ cached)))
    grads = g.backward([W1, W2])
    np.testing.assert_allclose(grads[W2], np.sum(cached, axis=1, keepdims=True).T)
    dZ1 = W2.value.T @ np.ones((1, 2)) * (1 - cached**2)  # tanh's rule reads the fed output
    np.testing.assert_allclose(grads[W1], dZ1 @ X_value.T)
    g.forward({X: X_value})  # back to computing A1
    np.testing.assert_allclose(g.value(A1), np.tanh(W1.value @ X_value))


def test_a_fed_node_with_a_wrong_shape_is_named():
    X = tg.placeholder((2, None), name="X")
    hidden = tg.tanh(X)
    g = tg.Graph(tg.sum(hidden))
    with pytest.raises(tg.FeedError, match=r"node 'tanh_\d+' \(tanh\) expects shape \(2, \?\), was fed shape \(3,"):
        g.forward({hidden: np.ones((3, 1))})


def test_a_constant_cannot_be_fed():
    c = tg.constant(np.ones(2), name="c")
    g = tg.Graph(tg.sum(c * 2.0), rewrites=False)
    with pytest.raises(tg.FeedError, match="constant 'c' cannot be fed"):
        g.forward({c: np.zeros(2)})
    assert g.forward() == 4.0


# --- one executor -----------------------------------------------------------------------------------

@given(arrays_in((3, 4)), arrays_in((4, 2)))
def test_compiled_and_interpreted_runs_give_the_same_bits(a, b):
    x, w = tg.placeholder((3, 4), name="x"), tg.placeholder((4, 2), name="w")
    out = tg.sum(tg.softmax(tg.sigmoid(x @ w) * tg.tanh(x @ w), axis=0) ** 2)
    nodes = [out, *tg.grad(out, [x, w])]
    slots = tinygraph.run.Slots()
    compiled = tinygraph.run.Program(slots, nodes, given={x, w})
    slots.values[slots.index[x]], slots.values[slots.index[w]] = a, b
    assert compiled.compiled
    first = compiled(slots.values)
    second = compiled.interpret(slots.values)
    for one, other in zip(first, second, strict=True):
        np.testing.assert_array_equal(one, other)


# --- bad input from a user's op ---------------------------------------------------------------------

class Claims(tg.Op):
    """Says its output is the input's shape, returns something else."""

    arity = 1

    def __init__(self, returns):
        self.returns = returns

    def forward(self, x):
        return self.returns(x)

    def backward(self, grad_output, x, *, output):
        return (grad_output,)

    def infer_shape(self, shape):
        return shape


@pytest.mark.parametrize("returns,said", [
    (lambda x: x.sum(), r"returned shape \(\), float64, but its node says \(\?, 1\), float64"),
    (lambda x: np.hstack([x, x]), r"returned shape \(2, 2\), float64, but its node says \(\?, 1\)"),
    (lambda x: x.astype(np.float32), r"returned shape \(2, 1\), float32, but its node says \(\?, 1\), float64"),
])
def test_a_users_forward_that_contradicts_its_shape_inference_is_an_error(returns, said):
    x = tg.placeholder((None, 1), name="x")
    g = tg.Graph(tg.sum(Claims(returns)(x)))
    with pytest.raises(tg.OpError, match=r"forward of claims_\d+ .*" + said):
        g.forward({x: np.ones((2, 1))})


def test_a_complex_gradient_for_a_real_input_is_an_error_naming_the_op():
    class Complexify(tg.Op):
        arity = 1

        def forward(self, x):
            return x

        def backward(self, grad_output, x, *, output):
            return (grad_output * (1 + 1j),)

    w = tg.parameter(np.ones(2), name="w")
    g = tg.Graph(tg.sum(Complexify()(w)))
    g.forward()
    with pytest.raises(tg.GradientError, match="backward of complexify returned a complex gradient"):
        g.backward()
    assert w.value.dtype == np.float64
