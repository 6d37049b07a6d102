"""The fast training step, ``opt.minimize(g, feeds)`` (and ``Graph.gradient_step`` under it).

It must be the plain step, ``g.forward(feeds)`` then ``opt.step(g.backward(opt.params))``,
to the bit, and raise the same errors for bad feeds; and it must really be the
compiled program that runs once feeds of a shape have been seen.
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygraph as tg
import tinygraph.run
from tinygraph import data, nn, optim

OPTIMIZERS = {
    "gd": lambda params, dtype: optim.GD(params, 0.1),
    "momentum": lambda params, dtype: optim.Momentum(params, 0.05, beta=0.8),
    "rmsprop": lambda params, dtype: optim.RMSprop(params, 0.01),
    "adam": lambda params, dtype: optim.Adam(params, 0.02),
}


class CubeOp(tg.Op):
    """A user's op with a numpy backward: the fast path runs it through the same checks."""

    def forward(self, x):
        return x * x * x

    def backward(self, grad_output, x, *, output):
        return (3 * x * x * grad_output,)

    def infer_shape(self, shape):
        return shape


def mlp_binary(dims, hidden, dtype, seed):
    model = nn.MLP(dims[:-1] + [1], hidden=hidden, output="sigmoid", rng=seed, dtype=dtype)
    X = tg.placeholder((dims[0], None), name="X", dtype=dtype)
    Y = tg.placeholder((1, None), name="Y", dtype=dtype)
    return model.parameters(), X, Y, nn.binary_cross_entropy(model(X), Y)


def softmax_l2(dims, hidden, dtype, seed):
    """Three classes, softmax cross-entropy plus an L2 penalty (the b's left out)."""
    model = nn.MLP(dims[:-1] + [3], hidden=hidden, output=None, rng=seed, dtype=dtype)
    X = tg.placeholder((dims[0], None), name="X", dtype=dtype)
    Y = tg.placeholder((3, None), name="Y", dtype=dtype)
    cost = nn.softmax_cross_entropy(model(X), Y) + nn.l2_penalty([layer.W for layer in model.layers], 0.3, 40)
    return model.parameters(), X, Y, cost


def broadcast_and_user_op(dims, hidden, dtype, seed):
    """A bias row broadcast against a batch of unknown width, and a user's op: gradients summed at run time."""
    rng = np.random.default_rng(seed)
    W = tg.parameter(rng.normal(size=(1, dims[0])).astype(dtype), name="W")
    c = tg.parameter(rng.normal(size=(1, 1)).astype(dtype), name="c")
    X = tg.placeholder((dims[0], None), name="X", dtype=dtype)
    Y = tg.placeholder((1, None), name="Y", dtype=dtype)
    Z = CubeOp()(tg.tanh(W @ X)) + c
    return [W, c], X, Y, tg.mean(tg.square(Z - Y))


MODELS = {"mlp_binary": mlp_binary, "softmax_l2": softmax_l2, "broadcast_and_user_op": broadcast_and_user_op}


def two_runs(model, dims, hidden, dtype, seed, optimizer):
    """The same model built twice (same start), each with its optimizer."""
    runs = []
    for _ in range(2):
        params, X, Y, cost = MODELS[model](dims, hidden, dtype, seed)
        g = tg.Graph(cost)
        runs.append((g, OPTIMIZERS[optimizer](params, dtype), params, X, Y))
    return runs


def labels(Y_node, m, rng, dtype):
    if Y_node.shape[0] == 3:
        return np.eye(3, dtype=dtype)[:, rng.integers(0, 3, m)]
    return (rng.random((1, m)) < 0.5).astype(dtype)


@given(
    model=st.sampled_from(sorted(MODELS)),
    dims=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    hidden=st.sampled_from(["relu", "tanh", "sigmoid"]),
    batch=st.integers(1, 40),
    optimizer=st.sampled_from(sorted(OPTIMIZERS)),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**16),
)
def test_minimize_gives_the_bits_of_forward_backward_step(model, dims, hidden, batch, optimizer, dtype, seed):
    rng = np.random.default_rng(seed)
    X_train = rng.normal(size=(dims[0], 40)).astype(dtype)
    (g1, opt1, p1, X1, Y1), (g2, opt2, p2, X2, Y2) = two_runs(model, dims, hidden, dtype, seed, optimizer)
    Y_train = labels(Y1, 40, rng, dtype)
    for epoch in range(3):  # batches of `batch` and a remainder: two signatures, each compiled after its first
        for X_batch, Y_batch in data.minibatches(X_train, Y_train, batch, seed=epoch):
            plain = g1.forward({X1: X_batch, Y1: Y_batch})
            opt1.step(g1.backward(opt1.params))
            fast = opt2.minimize(g2, {"X": X_batch, Y2: Y_batch})  # by name or by node, alike
            assert np.array_equal(plain, fast) and np.result_type(fast) == np.result_type(plain)
            for a, b in zip(p1, p2, strict=True):
                assert np.array_equal(a.value, b.value), (a.name, epoch)
                assert b.value.dtype == np.dtype(dtype)
    assert opt1.state_dict().keys() == opt2.state_dict().keys()
    for key, value in opt1.state_dict().items():
        assert np.array_equal(value, opt2.state_dict()[key]), key


@pytest.mark.parametrize("model", sorted(MODELS))
def test_a_program_too_long_to_compile_runs_as_the_loop_with_the_same_bits_and_checks(model, monkeypatch):
    monkeypatch.setattr(tinygraph.run, "MAX_COMPILED_STEPS", 0)
    (g1, opt1, p1, X1, Y1), (g2, opt2, p2, X2, Y2) = two_runs(model, [3, 4, 1], "tanh", np.float64, 5, "adam")
    rng = np.random.default_rng(5)
    for m in (7, 7, 3, 7, 3):
        feeds = {"X": rng.normal(size=(3, m)), "Y": labels(Y1, m, rng, np.float64)}
        assert g1.forward(feeds) == opt2.minimize(g2, feeds)
        opt1.step(g1.backward(opt1.params))
        for a, b in zip(p1, p2, strict=True):
            assert np.array_equal(a.value, b.value), a.name
    bad = {"X": rng.normal(size=(4, 7)), "Y": labels(Y1, 7, rng, np.float64)}
    assert error_of(lambda: opt2.minimize(g2, bad)) == error_of(lambda: g1.forward(bad)) is not None


def small_net():
    model = nn.MLP([2, 3, 1], hidden="relu", rng=0)
    X, Y = tg.placeholder((2, None), name="X"), tg.placeholder((1, None), name="Y")
    return model, X, Y, tg.Graph(nn.binary_cross_entropy(model(X), Y))


def error_of(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 (the test compares whatever is raised)
        return type(error), str(error)
    return None


GOOD = {"X": np.ones((2, 5)), "Y": np.zeros((1, 5))}
BAD_FEEDS = {
    "missing placeholder": {"X": np.ones((2, 5))},
    "wrong size": {"X": np.ones((3, 5)), "Y": np.zeros((1, 5))},
    "wrong number of axes": {"X": np.ones(5), "Y": np.zeros((1, 5))},
    "unknown name": {"X": np.ones((2, 5)), "Y": np.zeros((1, 5)), "Z": np.ones(1)},
    "not numbers": {"X": np.array([["a"] * 5] * 2), "Y": np.zeros((1, 5))},
    "batches that do not match": {"X": np.ones((2, 5)), "Y": np.zeros((1, 4))},
    "no feeds": None,
}


@pytest.mark.parametrize("case", sorted(BAD_FEEDS))
def test_a_bad_feed_raises_what_forward_raises_and_changes_nothing(case):
    model, X, Y, g = small_net()
    opt = optim.Adam(model, 0.1)
    for _ in range(3):  # compiled for the good feeds' signature by now
        opt.minimize(g, GOOD)
    before = [p.value.copy() for p in model.parameters()]
    state = opt.state_dict()
    expected = error_of(lambda: g.forward(BAD_FEEDS[case]))
    assert expected is not None
    assert error_of(lambda: opt.minimize(g, BAD_FEEDS[case])) == expected
    for p, value in zip(model.parameters(), before, strict=True):
        assert np.array_equal(p.value, value)
    assert opt.state_dict()["t"] == state["t"]
    opt.minimize(g, GOOD)  # and the fast path still works afterwards
    assert opt.t == state["t"] + 1


def test_feeds_of_another_dtype_or_lists_are_converted_as_forward_converts_them():
    runs = []
    for feeds in ({"X": np.ones((2, 5), np.float32), "Y": [[0, 1, 0, 1, 1]]}, {"X": np.ones((2, 5)),
                                                                                "Y": np.array([[0., 1, 0, 1, 1]])}):
        model, X, Y, g = small_net()
        opt = optim.GD(model, 0.1)
        costs = [opt.minimize(g, feeds) for _ in range(3)]
        runs.append((costs, [p.value for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        assert np.array_equal(a, b)


def test_the_second_step_with_a_seen_signature_runs_the_compiled_program(monkeypatch):
    model, X, Y, g = small_net()
    opt = optim.GD(model, 0.1)
    opt.minimize(g, GOOD)

    def refuse(*args, **kwargs):
        raise AssertionError("the plain path ran for feeds it has a program for")

    monkeypatch.setattr(g, "forward", refuse)
    monkeypatch.setattr(g, "backward", refuse)
    cost = opt.minimize(g, GOOD)
    assert np.isfinite(cost)
    assert g.value(X) is GOOD["X"]  # the run's values are the graph's, as after forward
    with pytest.raises(AssertionError, match="plain path"):  # a new shape takes the plain path again
        opt.minimize(g, {"X": np.ones((2, 6)), "Y": np.zeros((1, 6))})


def test_gradient_step_writes_what_backward_returns():
    model, X, Y, g = small_net()
    buffers = {p: np.full(p.shape, np.nan) for p in model.parameters()}
    step = g.gradient_step(buffers)
    feeds = {X: np.arange(10.0).reshape(2, 5) / 10, Y: np.array([[0.0, 1, 1, 0, 1]])}
    for _ in range(3):
        cost = step(feeds)
    assert cost == g.forward(feeds)
    for p, grad in g.backward(list(buffers)).items():
        assert np.array_equal(buffers[p], grad), p.name
    with pytest.raises(ValueError, match="has shape \\(3,\\)"):
        g.gradient_step({model.parameters()[0]: np.zeros(3)})


def test_minimize_names_a_parameter_the_graph_does_not_have():
    model, X, Y, g = small_net()
    stray = tg.parameter(np.ones(2), name="stray")
    with pytest.raises(optim.OptimizerError, match="stray"):
        optim.GD(model.parameters() + [stray], 0.1).minimize(g, GOOD)


def test_anomaly_mode_stops_the_fast_step_where_the_plain_one_stops():
    model, X, Y, g = small_net()
    opt = optim.GD(model, 0.1)
    opt.minimize(g, GOOD)
    opt.minimize(g, GOOD)
    bad = {"X": np.full((2, 5), np.nan), "Y": np.zeros((1, 5))}
    with tg.detect_anomaly():
        expected = error_of(lambda: g.forward(bad))
        assert expected is not None and expected[0] is tg.AnomalyError
        assert error_of(lambda: opt.minimize(g, bad)) == expected


def test_ten_thousand_steps_hold_no_more_memory_than_a_hundred():
    model, X, Y, g = small_net()
    opt = optim.Adam(model, 0.01)
    rng = np.random.default_rng(0)
    X_train, Y_train = rng.normal(size=(2, 320)), (rng.random((1, 320)) < 0.5).astype(float)
    batches = data.minibatches(X_train, Y_train, 64, seed=0) + data.minibatches(X_train[:, :300], Y_train[:, :300],
                                                                                  64, seed=1)
    tracemalloc.start()
    try:
        for i in range(10_000):
            X_batch, Y_batch = batches[i % len(batches)]
            opt.minimize(g, {X: X_batch, Y: Y_batch})
            if i == 99:
                after_100 = tracemalloc.get_traced_memory()[0]
        after_10000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after_10000 - after_100 < 16_384, (after_100, after_10000)


def test_a_graph_of_several_outputs_returns_them_as_forward_does():
    model = nn.MLP([2, 3, 1], hidden="relu", rng=0)
    X, Y = tg.placeholder((2, None), name="X"), tg.placeholder((1, None), name="Y")
    A = model(X)
    g = tg.Graph((nn.binary_cross_entropy(A, Y), A))
    opt = optim.GD(model, 0.1)
    for _ in range(3):
        expected = g.forward(GOOD)
        got = opt.minimize(g, GOOD)  # the gradient is the first output's
        assert isinstance(got, tuple) and len(got) == 2
        assert got[0] == expected[0] and np.array_equal(got[1], expected[1])


def test_minimize_needs_a_graph_and_keeps_the_steps_of_a_few():
    model, X, Y, g = small_net()
    opt = optim.GD(model, 0.1)
    with pytest.raises(TypeError, match="minimize takes a tg.Graph"):
        opt.minimize(g.outputs[0], GOOD)
    built = []
    for _ in range(optim.Optimizer.kept_steps + 3):  # a loop that builds a graph per epoch
        graph = tg.Graph(g.outputs[0])
        opt.minimize(graph, GOOD)
        opt.minimize(graph, GOOD)
        built.append(weakref.ref(graph))
    del graph
    gc.collect()
    alive = [ref() is not None for ref in built]
    assert alive == [False] * 3 + [True] * optim.Optimizer.kept_steps  # the optimizer holds only the last few
