"""The engine's structure: broadcasting, graph shapes, errors, custom ops, numerics.

Per-op gradients against finite differences live in test_ops_gradients.py;
here the expected gradients come from the math of each small graph.
"""

from __future__ import annotations

import itertools
import re
import traceback
import warnings

import numpy as np
import pytest

import tinygraph as tg
import tinygraph.run

M, N = 3, 4
BROADCAST_SHAPES = [(), (N,), (M, N), (1, N)]

# op -> (d out/d a, d out/d b) as numpy functions of the inputs
BINARY_PARTIALS = {
    tg.add: (lambda a, b: np.ones_like(a + b), lambda a, b: np.ones_like(a + b)),
    tg.sub: (lambda a, b: np.ones_like(a + b), lambda a, b: -np.ones_like(a + b)),
    tg.mul: (lambda a, b: b + 0 * a, lambda a, b: a + 0 * b),
    tg.div: (lambda a, b: 1 / b + 0 * a, lambda a, b: -a / b**2),
}
NUMPY_OF = {tg.add: np.add, tg.sub: np.subtract, tg.mul: np.multiply, tg.div: np.divide}


@pytest.fixture(autouse=True, params=["compiled", "interpreted"])
def executor(request, monkeypatch):
    """Every test here runs twice: graphs compiled to Python, and graphs run by the interpreter loop."""
    if request.param == "interpreted":
        monkeypatch.setattr(tinygraph.run, "MAX_COMPILED_STEPS", 0)
    return request.param


def sum_to_shape(array: np.ndarray, shape: tuple) -> np.ndarray:
    """Independent of tg.shapes.unbroadcast: sum every broadcast element into its source."""
    out = np.zeros(shape)
    source = np.broadcast_to(np.arange(int(np.prod(shape))).reshape(shape), array.shape)
    np.add.at(out.reshape(-1), source.reshape(-1), array.reshape(-1))
    return out


@pytest.mark.parametrize("op", list(BINARY_PARTIALS), ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape_a,shape_b", list(itertools.product(BROADCAST_SHAPES, repeat=2)), ids=str)
def test_broadcast_matrix(op, shape_a, shape_b):
    rng = np.random.default_rng(0)
    a = tg.parameter(rng.uniform(0.5, 2.0, shape_a), name="a")
    b = tg.parameter(rng.uniform(0.5, 2.0, shape_b), name="b")
    out = op(a, b)
    expected_value = NUMPY_OF[op](a.value, b.value)
    assert out.shape == expected_value.shape
    upstream = rng.normal(size=expected_value.shape)
    g = tg.Graph(tg.sum(out * upstream))
    g.forward()
    np.testing.assert_allclose(g.value(out), expected_value)
    grads = g.backward()
    partial_a, partial_b = BINARY_PARTIALS[op]
    for node, partial in ((a, partial_a), (b, partial_b)):
        assert grads[node].shape == node.shape
        expected = sum_to_shape(upstream * partial(a.value, b.value), node.shape)
        np.testing.assert_allclose(grads[node], expected, rtol=1e-12, atol=1e-12)


def test_fan_out_accumulates():
    a = tg.parameter(np.array([1.0, -2.0, 3.0]), name="a")
    b = a + a
    c = b + b
    g = tg.Graph(tg.sum(c))
    assert g.forward() == pytest.approx(4 * a.value.sum())
    np.testing.assert_array_equal(g.backward()[a], [4.0, 4.0, 4.0])


def test_diamond():
    a = tg.parameter(np.array([1.0, 2.0]), name="a")
    b = tg.parameter(np.array([0.5, -3.0]), name="b")
    x = a + b
    y = x * a
    g = tg.Graph(tg.sum(y))
    g.forward()
    grads = g.backward()
    np.testing.assert_allclose(grads[a], 2 * a.value + b.value)
    np.testing.assert_allclose(grads[b], a.value)


def test_backward_twice_gives_the_same_answer():
    a = tg.parameter(np.array([[1.0, 2.0], [3.0, 4.0]]), name="a")
    g = tg.Graph(tg.sum(a * a + a))
    g.forward()
    first = g.backward()[a]
    second = g.backward()[a]
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, 2 * a.value + 1)


def _owned(array: np.ndarray) -> bool:
    return type(array) is np.ndarray and array.base is None and array.flags.writeable


def test_each_gradient_is_an_array_of_the_callers_own():
    a = tg.parameter(np.ones((2, 2)), name="a")
    b = tg.parameter(np.ones((2, 2)), name="b")
    c = tg.parameter(np.ones((3, 2)), name="c")
    unused = tg.parameter(np.ones(3, dtype=np.float32), name="unused")
    out = tg.sum(a + b) + tg.sum(tg.transpose(c) * 2.0) + 0.0 * tg.sum(tg.reshape(c, (6,)))
    g = tg.Graph([out, tg.sum(unused)])  # unused is in the graph, but out does not depend on it
    g.forward()
    grads = g.backward(wrt=[a, b, c, unused, out])
    # add hands the same upstream array to a and b, transpose and reshape hand back views,
    # unused gets no gradient at all, and out's own gradient is the (read-only) seed
    assert all(_owned(grad) for grad in grads.values())
    assert len({id(grad) for grad in grads.values()}) == len(grads)
    np.testing.assert_array_equal(grads[unused], np.zeros(3, dtype=np.float32))
    assert grads[unused].dtype == np.float32
    for node in (a, c, unused, out):  # one at a time: no other gradient to be shared with
        assert _owned(g.backward(wrt=[node])[node])
    for grad in grads.values():
        grad *= 100.0  # the caller's to change: the next backward is unaffected
    again = g.backward(wrt=[a, b, c, unused, out])
    np.testing.assert_array_equal(again[a], np.ones((2, 2)))
    np.testing.assert_array_equal(again[c], np.full((3, 2), 2.0))
    assert again[out] == 1.0


def test_the_callers_grad_output_is_never_handed_back():
    x = tg.parameter(np.array([1.0, 2.0]), name="x")
    y = x * 1.0
    g = tg.Graph(y)
    g.forward()
    seed = np.array([3.0, 4.0])
    grads = g.backward(wrt=[x, y], grad_output=seed)
    assert grads[y] is not seed and _owned(grads[y])
    np.testing.assert_array_equal(grads[x], seed)


def test_forward_reads_parameter_updates_and_value_of_intermediates():
    x = tg.placeholder((None, 2), name="x")
    w = tg.parameter(np.ones((2, 1)), name="w")
    z = x @ w
    g = tg.Graph(tg.sum(z))
    feed = {"x": np.array([[1.0, 2.0], [3.0, 4.0]])}
    assert g.forward(feed) == 10.0
    w.value = w.value * 2
    assert g.forward(feed) == 20.0
    np.testing.assert_array_equal(g.value(z), [[6.0], [14.0]])
    np.testing.assert_array_equal(g.value("x"), feed["x"])
    assert g.parameters == (w,)


def test_several_outputs_and_choosing_what_to_differentiate():
    a = tg.parameter(np.array([1.0, 2.0]), name="a")
    s = tg.sum(a * a)
    m = tg.mean(a)
    g = tg.Graph([s, m])
    assert g.forward() == (5.0, 1.5)
    np.testing.assert_allclose(g.backward()[a], 2 * a.value)
    np.testing.assert_allclose(g.backward(output=m)[a], [0.5, 0.5])


def test_gradient_with_respect_to_placeholder_and_intermediate():
    x = tg.placeholder((3,), name="x")
    h = tg.exp(x)
    g = tg.Graph(tg.sum(h * 2.0))
    value = np.array([0.0, 1.0, -1.0])
    g.forward({x: value})
    grads = g.backward([x, h])
    np.testing.assert_allclose(grads[x], 2 * np.exp(value))
    np.testing.assert_allclose(grads[h], [2.0, 2.0, 2.0])


def test_vector_jacobian_product_with_grad_output():
    a = tg.parameter(np.array([1.0, 2.0, 3.0]), name="a")
    g = tg.Graph(a * a)
    g.forward()
    upstream = np.array([1.0, 0.0, -1.0])
    np.testing.assert_allclose(g.backward(grad_output=upstream)[a], 2 * a.value * upstream)


def test_operators_and_reflected_forms():
    a = tg.parameter(np.array([[1.0, 2.0], [3.0, 4.0]]), name="a")
    v = a.value
    cases = {
        "1 - a": (1 - a, 1 - v), "2 * a": (2 * a, 2 * v), "a / 2": (a / 2, v / 2), "2 / a": (2 / a, 2 / v),
        "a ** 3": (a**3, v**3), "-a": (-a, -v), "a.T": (a.T, v.T), "a @ a": (a @ a, v @ v),
        "ndarray + a": (np.ones(2) + a, np.ones(2) + v), "ndarray @ a": (np.eye(2) @ a, v),
        "3 + a": (3 + a, 3 + v), "a - 1": (a - 1, v - 1),
    }
    g = tg.Graph([node for node, _ in cases.values()])
    for (label, (_, expected)), got in zip(cases.items(), g.forward(), strict=False):
        np.testing.assert_allclose(got, expected, err_msg=label)


def test_functions_match_numpy():
    rng = np.random.default_rng(1)
    v = rng.uniform(0.5, 2.0, (3, 4))
    x = tg.placeholder((3, 4), name="x")
    cases = [
        (tg.exp(x), np.exp(v)), (tg.log(x), np.log(v)), (tg.tanh(x), np.tanh(v)), (tg.abs(-x), v),
        (tg.relu(x - 1), np.maximum(v - 1, 0)), (tg.sigmoid(x), 1 / (1 + np.exp(-v))),
        (tg.sum(x, axis=1, keepdims=True), v.sum(1, keepdims=True)), (tg.mean(x, axis=0), v.mean(0)),
        (tg.transpose(x), v.T), (tg.reshape(x, (2, -1)), v.reshape(2, -1)),
        (tg.softmax(x), np.exp(v) / np.exp(v).sum(-1, keepdims=True)), (tg.power(x, 0.5), np.sqrt(v)),
        (tg.softplus(x), np.log1p(np.exp(v))), (tg.neg(x), -v), (tg.matmul(x, x.T), v @ v.T),
    ]
    g = tg.Graph([node for node, _ in cases])
    for (node, expected), got in zip(cases, g.forward({x: v}), strict=False):
        assert node.shape == expected.shape, node
        np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=repr(node))


def test_registry_lists_every_contract_op():
    contract = {"matmul", "add", "sub", "mul", "div", "neg", "exp", "log", "sigmoid", "tanh", "relu", "abs",
                "sum", "mean", "transpose", "reshape", "softmax", "power"}
    assert contract <= set(tg.OPS)
    for name, cls in tg.OPS.items():
        assert issubclass(cls, tg.Op) and cls.name == name


# --- shape inference and errors ------------------------------------------------

@pytest.mark.parametrize(
    "build,expected",
    [
        (lambda x, w: x @ w, (None, 1)),
        (lambda x, w: w.T @ x.T, (1, None)),
        (lambda x, w: tg.sum(x, axis=0), (3,)),
        (lambda x, w: tg.sum(x, axis=1, keepdims=True), (None, 1)),
        (lambda x, w: tg.mean(x), ()),
        (lambda x, w: x + np.zeros((1, 3)), (None, 3)),
        (lambda x, w: x * tg.placeholder((5, 1)), (5, 3)),
        (lambda x, w: tg.reshape(w, (-1,)), (3,)),
        (lambda x, w: tg.reshape(x, (-1, 1)), (None, 1)),
        (lambda x, w: tg.softmax(x, axis=0), (None, 3)),
    ],
)
def test_shapes_are_inferred_with_unknown_sizes(build, expected):
    x = tg.placeholder((None, 3), name="x")
    w = tg.parameter(np.zeros((3, 1)), name="w")
    assert build(x, w).shape == expected


@pytest.mark.parametrize(
    "build,words",
    [
        (lambda: tg.placeholder((2, 3)) @ tg.placeholder((4, 5)), ["matmul", "(2, 3)", "(4, 5)"]),
        (lambda: tg.placeholder((2, 3)) + tg.placeholder((4,)), ["add", "(2, 3)", "(4,)"]),
        (lambda: tg.placeholder((None, 3)) * tg.placeholder((None, 2)), ["mul", "(?, 3)", "(?, 2)"]),
        (lambda: tg.reshape(tg.placeholder((2, 3)), (4, 2)), ["reshape", "(2, 3)"]),
        (lambda: tg.sum(tg.placeholder((2, 3)), axis=2), ["sum", "axis 2"]),
        (lambda: tg.transpose(tg.placeholder((2, 3)), (0, 0)), ["transpose"]),
        (lambda: tg.softmax(tg.placeholder((2,)), axis=1), ["softmax"]),
    ],
)
def test_impossible_shapes_raise_shape_error_naming_op_and_shapes(build, words):
    with pytest.raises(tg.ShapeError) as info:
        build()
    assert isinstance(info.value, ValueError)
    for word in words:
        assert word in str(info.value)


def test_parameter_value_keeps_its_shape():
    w = tg.parameter(np.zeros((3, 1)), name="w")
    with pytest.raises(tg.ShapeError, match=r"'w'.*\(3, 1\).*\(3,\)"):
        w.value = np.zeros(3)


class TestFeeds:
    def setup_method(self):
        self.x = tg.placeholder((None, 3), name="x")
        self.y = tg.placeholder((1, None), name="y")
        self.g = tg.Graph(tg.sum(self.x) + tg.sum(self.y))

    def test_by_node_and_by_name(self):
        assert self.g.forward({self.x: np.ones((2, 3)), "y": np.ones((1, 4))}) == 10.0

    def test_missing_feed(self):
        with pytest.raises(tg.FeedError, match=r"'y'.*\(1, \?\).*not fed"):
            self.g.forward({self.x: np.ones((2, 3))})

    def test_unknown_feed(self):
        with pytest.raises(tg.FeedError, match=r"unknown feed 'z'.*'x', 'y'"):
            self.g.forward({"x": np.ones((2, 3)), "y": np.ones((1, 2)), "z": 1.0})

    def test_unknown_placeholder_node(self):
        other = tg.placeholder((3,), name="other")
        with pytest.raises(tg.FeedError, match="unknown feed 'other'"):
            self.g.forward({"x": np.ones((2, 3)), "y": np.ones((1, 2)), other: np.ones(3)})

    @pytest.mark.parametrize("bad,shown", [((2, 4), "(2, 4)"), ((3,), "(3,)"), ((2, 3, 1), "(2, 3, 1)")])
    def test_wrong_shape_names_placeholder_expected_and_given(self, bad, shown):
        with pytest.raises(tg.FeedError) as info:
            self.g.forward({"x": np.ones(bad), "y": np.ones((1, 2))})
        message = str(info.value)
        assert "'x'" in message and "expects shape (?, 3)" in message and f"fed shape {shown}" in message
        assert isinstance(info.value, ValueError)

    def test_feeds_are_converted_to_the_placeholder_dtype(self):
        self.g.forward({"x": np.ones((2, 3), dtype=np.uint8), "y": [[1, 2]]})
        assert self.g.value(self.x).dtype == np.float64


def test_non_scalar_backward_is_a_clear_error():
    a = tg.parameter(np.ones(3), name="a")
    g = tg.Graph(tg.exp(a))
    g.forward()
    with pytest.raises(tg.GradientError, match="scalar"):
        g.backward()


def test_backward_before_forward():
    g = tg.Graph(tg.sum(tg.parameter(np.ones(2))))
    with pytest.raises(RuntimeError, match="forward"):
        g.backward()


def test_runtime_shape_mismatch_names_the_op_node():
    x = tg.placeholder((None,), name="x")
    y = tg.placeholder((None,), name="y")
    g = tg.Graph(tg.sum(x * y))
    with pytest.raises(tg.OpError, match=r"mul.*\(2,\).*\(3,\)"):
        g.forward({x: np.ones(2), y: np.ones(3)})


def test_each_graph_runs_compiled_or_interpreted_as_its_size_says(executor):
    x = tg.parameter(np.array([0.5, -0.25]), name="x")
    g = tg.Graph(tg.sum(tg.tanh(x) * x))
    expected = np.sum(np.tanh(x.value) * x.value)
    assert g.forward({}) == pytest.approx(expected)
    program = tinygraph.run.Program(tinygraph.run.Slots(), g.run_outputs)
    assert program.compiled == (executor == "compiled")
    grad = g.backward()[x]
    np.testing.assert_allclose(grad, np.tanh(x.value) + x.value * (1 - np.tanh(x.value) ** 2))


def test_source_shows_the_code_forward_and_backward_run():
    x = tg.placeholder((None, 3), name="x")
    w = tg.parameter(np.ones((3, 1)), name="w")
    loss = tg.mean(tg.sigmoid(x @ w))
    loss.name = "loss"
    source = tg.Graph(loss).source()
    assert source.startswith("# forward\ndef run(values):\n")
    assert "# backward\ndef run(values):" in source
    assert "# loss = mean[" in source and "= sigmoid(matmul_" in source
    compile(source, "<source>", "exec")  # what it shows is Python


def test_any_node_name_compiles():
    x = tg.parameter(np.ones(2), name="x\n    raise SystemExit\0")
    y = tg.sum(x * x)
    y.name = "y\r\u2028z"
    g = tg.Graph(y)
    assert g.forward() == 2.0
    np.testing.assert_array_equal(g.backward()[x], [2.0, 2.0])
    assert "# y??z = sum" in g.source()


class RaisesInBackward(tg.Op):
    arity = 1

    def forward(self, x):
        return x

    def backward(self, grad_output, x, *, output):
        raise ZeroDivisionError("a bug in the user's backward")


def test_a_traceback_through_compiled_code_shows_its_line(executor):
    x = tg.parameter(np.ones(2), name="x")
    g = tg.Graph(tg.sum(RaisesInBackward()(x)))
    g.forward()
    with pytest.raises(tg.OpError, match="backward of raisesinbackward") as caught:
        g.backward()
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    text = "".join(traceback.format_exception(caught.value))
    if executor == "compiled":
        generated_frame = (r'File "<tinygraph program #\d+>", line \d+, in run\n'
                           r" +v\d+ = values\[\d+\] = f\d+\(v\d+, v\d+, v\d+\)  # numpy_backward")
        assert re.search(generated_frame, text)
    else:
        assert "<tinygraph program" not in text and "in interpret" in text


class FailsOnce(tg.Op):
    """A forward that raises the first time only."""

    arity = 1
    calls = 0

    def forward(self, x):
        FailsOnce.calls += 1
        if FailsOnce.calls == 1:
            raise ArithmeticError("flaky")
        return x


def test_a_failure_is_named_where_it_happened_even_if_it_would_not_happen_again():
    FailsOnce.calls = 0
    g = tg.Graph(FailsOnce()(tg.parameter(np.ones(2))))
    with pytest.raises(tg.OpError, match="forward of failsonce.*flaky") as caught:
        g.forward({})
    assert isinstance(caught.value.__cause__, ArithmeticError)
    np.testing.assert_array_equal(g.forward({}), np.ones(2))


# --- custom ops ----------------------------------------------------------------

class Cube(tg.Op):
    """A user's op: x**3, with a shape rule of its own."""

    arity = 1

    def forward(self, x):
        return x**3

    def backward(self, grad_output, x, *, output):
        return (3 * x**2 * grad_output,)

    def infer_shape(self, shape):
        return shape


def test_custom_op_end_to_end():
    x = tg.parameter(np.array([1.0, -2.0]), name="x")
    y = Cube()(x)
    assert y.shape == (2,) and y.kind == "cube"
    g = tg.Graph(tg.sum(y * 2))
    assert g.forward() == pytest.approx(2 * (1 - 8))
    np.testing.assert_allclose(g.backward()[x], 6 * x.value**2)


class ScaleRows(tg.Op):
    """Returns the broadcast gradient of its (n, 1) input; the engine must reduce it."""

    def forward(self, column, matrix):
        return column * matrix

    def backward(self, grad_output, column, matrix, *, output):
        return grad_output * matrix, grad_output * column


def test_engine_reduces_a_custom_ops_broadcast_gradient():
    column = tg.parameter(np.array([[1.0], [2.0]]), name="column")
    matrix = tg.parameter(np.arange(6.0).reshape(2, 3), name="matrix")
    out = ScaleRows()(column, matrix)
    assert out.shape is None  # no infer_shape: unknown until run
    g = tg.Graph(tg.sum(out))
    g.forward()
    grads = g.backward()
    np.testing.assert_allclose(grads[column], matrix.value.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(grads[matrix], np.broadcast_to(column.value, (2, 3)))


class WrongCount(tg.Op):
    def forward(self, a, b):
        return a + b

    def backward(self, grad_output, a, b, *, output):
        return (grad_output,)


class WrongShape(tg.Op):
    def forward(self, a):
        return a.sum()

    def backward(self, grad_output, a, *, output):
        return (np.ones(a.size + 1),)


@pytest.mark.parametrize("op,words", [(WrongCount(), ["wrongcount", "1 gradients", "2 inputs"]),
                                      (WrongShape(), ["wrongshape", "(4,)", "(3,)"])])
def test_engine_checks_gradient_count_and_shape(op, words):
    inputs = [tg.parameter(np.ones(3)) for _ in range(2 if isinstance(op, WrongCount) else 1)]
    g = tg.Graph(tg.sum(op(*inputs)))
    g.forward()
    with pytest.raises(tg.GradientError) as info:
        g.backward()
    for word in words:
        assert word in str(info.value)


def test_op_without_backward_names_itself():
    class NoBackward(tg.Op):
        def forward(self, x):
            return x

    g = tg.Graph(tg.sum(NoBackward()(tg.parameter(np.ones(2)))))
    g.forward()
    with pytest.raises(tg.GradientError, match="nobackward.*defines no gradient"):
        g.backward()


# --- numerics and dtypes ------------------------------------------------------

def test_sigmoid_is_stable_for_any_float64():
    x = tg.placeholder((4,), name="x")
    g = tg.Graph(tg.sigmoid(x))
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out = g.forward({x: np.array([1e300, -1e300, 0.0, -745.0])})
    np.testing.assert_allclose(out, [1.0, 0.0, 0.5, np.exp(-745.0)])


def test_softmax_is_stable_for_large_inputs():
    x = tg.placeholder((None, 3), name="x")
    g = tg.Graph(tg.softmax(x))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = g.forward({x: np.array([[1000.0, 1000.0, 0.0], [-1e300, 0.0, 1e300]])})
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])


def test_float32_graph_stays_float32():
    rng = np.random.default_rng(2)
    x = tg.placeholder((None, 4), name="x", dtype=np.float32)
    w = tg.parameter(rng.normal(size=(4, 1)).astype(np.float32), name="w")
    b = tg.parameter(np.float32(0.1), name="b")
    a = tg.sigmoid(x @ w + b)
    loss = tg.mean(-(1 - a) * tg.log(a) + 2 * tg.tanh(a) ** 2 / 3)
    nodes = tg.topological_order([loss])
    assert all(n.dtype == np.float32 for n in nodes), [n for n in nodes if n.dtype != np.float32]
    g = tg.Graph(loss)
    assert g.forward({x: rng.normal(size=(5, 4))}).dtype == np.float32
    assert all(g.value(n).dtype == np.float32 for n in g.nodes)
    assert all(grad.dtype == np.float32 for grad in g.backward().values())


def test_parameters_default_to_float64_and_keep_other_floats():
    assert tg.parameter([1, 2]).value.dtype == np.float64
    assert tg.parameter(np.ones(2, dtype=np.float32)).value.dtype == np.float32
    assert tg.constant(3).dtype == np.float64
