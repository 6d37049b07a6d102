"""tinygraph.optim against the course's published test cases and hand-written numpy.

The published numbers are from Course 2 Week 2's public_tests.py (the 2021
notebook), whose inputs come from testCases.py: ``np.random.seed(1)``, then
W1 (2, 3), b1 (2, 1), W2 (3, 2), b2 (3, 1) and their gradients by ``randn``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn, optim

SHAPES = {"W1": (2, 3), "b1": (2, 1), "W2": (3, 2), "b2": (3, 1)}


def course_test_case():
    """update_parameters_with_{gd,momentum,adam}_test_case: parameters then gradients, all from seed 1."""
    np.random.seed(1)
    params = {name: np.random.randn(*shape) for name, shape in SHAPES.items()}
    grads = {name: np.random.randn(*shape) for name, shape in SHAPES.items()}
    return params, grads


def as_parameters(arrays):
    return {name: tg.parameter(value, name=name) for name, value in arrays.items()}


def by_node(params, grads):
    return {params[name]: grads[name] for name in params}


def values(params):
    return {name: p.value for name, p in params.items()}


def assert_close_to_print(got, expected):
    """The notebooks print 8 decimals."""
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8)


def test_gd_reproduces_update_parameters_with_gd():
    arrays, grads = course_test_case()
    params = as_parameters(arrays)
    optim.GD(params, learning_rate=0.01).step(by_node(params, grads))
    assert_close_to_print(params["W1"].value, [[1.63312395, -0.61217855, -0.5339999],
                                               [-1.06196243, 0.85396039, -2.3105546]])
    assert_close_to_print(params["b1"].value, [[1.73978682], [-0.77021546]])
    assert_close_to_print(params["W2"].value, [[0.32587637, -0.24814147], [1.47146563, -2.05746183],
                                               [-0.32772076, -0.37713775]])
    assert_close_to_print(params["b2"].value, [[1.13773698], [-1.09301954], [-0.16397615]])


def test_momentum_reproduces_update_parameters_with_momentum():
    arrays, grads = course_test_case()
    params = as_parameters(arrays)
    opt = optim.Momentum(params, learning_rate=0.01, beta=0.9)
    opt.step(by_node(params, grads))
    assert_close_to_print(params["W1"].value, [[1.62522322, -0.61179863, -0.52875457],
                                               [-1.071868, 0.86426291, -2.30244029]])
    assert_close_to_print(params["b1"].value, [[1.74430927], [-0.76210776]])
    assert_close_to_print(params["W2"].value, [[0.31972282, -0.24924749], [1.46304371, -2.05987282],
                                               [-0.32294756, -0.38336269]])
    assert_close_to_print(params["b2"].value, [[1.1341662], [-1.09920409], [-0.171583]])
    v = {name: opt.state_dict()[f"{i}.v"] for i, name in enumerate(SHAPES)}
    assert_close_to_print(v["W1"], [[-0.08778584, 0.00422137, 0.05828152], [-0.11006192, 0.11447237, 0.09015907]])
    assert_close_to_print(v["b1"], [[0.05024943], [0.09008559]])
    assert_close_to_print(v["W2"], [[-0.06837279, -0.01228902], [-0.09357694, -0.02678881],
                                    [0.05303555, -0.06916608]])
    assert_close_to_print(v["b2"], [[-0.03967535], [-0.06871727], [-0.08452056]])


def test_adam_reproduces_update_parameters_with_adam():
    """The test calls the update with t = 2 and zero moments; the published values are first rows."""
    arrays, grads = course_test_case()
    params = as_parameters(arrays)
    opt = optim.Adam(params, learning_rate=0.02, beta1=0.8, beta2=0.888, epsilon=1e-2)
    state = opt.state_dict()
    state["t"] = 1  # one step already taken, so this one is t = 2
    opt.load_state_dict(state)
    opt.step(by_node(params, grads))
    assert opt.t == 2
    assert_close_to_print(params["W1"].value[0], [1.63937725, -0.62327448, -0.54308727])
    assert_close_to_print(params["W2"].value[0], [0.33400549, -0.23563857])
    assert_close_to_print(params["b1"].value[0], [1.72995096])
    assert_close_to_print(params["b2"].value[0], [1.14852557])
    saved = opt.state_dict()
    v = {name: saved[f"{i}.v"][0] for i, name in enumerate(SHAPES)}
    s = {name: saved[f"{i}.s"][0] for i, name in enumerate(SHAPES)}
    assert_close_to_print(v["W1"], [-0.17557168, 0.00844275, 0.11656304])
    assert_close_to_print(v["W2"], [-0.13674557, -0.02457805])
    assert_close_to_print(v["b1"], [0.10049887])
    assert_close_to_print(v["b2"], [-0.07935071])
    assert_close_to_print(s["W1"], [0.08631117, 0.00019958, 0.03804344])
    assert_close_to_print(s["W2"], [0.05235818, 0.00169142])
    assert_close_to_print(s["b1"], [0.02828006])
    assert_close_to_print(s["b2"], [0.0176303])


def test_schedules_reproduce_update_lr_and_schedule_lr_decay():
    assert optim.inverse_time_decay(0.5, 2, 1) == pytest.approx(0.16666666666666666)
    assert optim.scheduled_decay(0.5, 100, 1, time_interval=100) == pytest.approx(0.25)
    assert optim.scheduled_decay(0.5, 10, 1, time_interval=100) == pytest.approx(0.5)
    assert optim.scheduled_decay(0.3, 1000, 0.25, time_interval=100) == pytest.approx(0.085714285)
    assert optim.scheduled_decay(0.3, 100, 0.25, time_interval=100) == pytest.approx(0.24)
    assert optim.scheduled_decay(0.3, 1999, 0.25) == optim.scheduled_decay(0.3, 1000, 0.25)  # steps of 1000
    with pytest.raises(ValueError, match="time_interval must be positive"):
        optim.scheduled_decay(0.3, 10, 0.25, time_interval=0)


# --- against hand-written numpy, the course's formulas, over several steps -----------------

def numpy_gd(p, g, state, lr):
    return {k: p[k] - lr * g[k] for k in p}


def numpy_momentum(p, g, state, lr, beta=0.9):
    v = state.setdefault("v", {k: np.zeros_like(x) for k, x in p.items()})
    out = {}
    for k in p:
        v[k] = beta * v[k] + (1 - beta) * g[k]
        out[k] = p[k] - lr * v[k]
    return out


def numpy_rmsprop(p, g, state, lr, beta=0.999, epsilon=1e-8):
    s = state.setdefault("s", {k: np.zeros_like(x) for k, x in p.items()})
    out = {}
    for k in p:
        s[k] = beta * s[k] + (1 - beta) * np.power(g[k], 2)
        out[k] = p[k] - lr * g[k] / (np.sqrt(s[k]) + epsilon)
    return out


def numpy_adam(p, g, state, lr, beta1=0.9, beta2=0.999, epsilon=1e-8):
    v = state.setdefault("v", {k: np.zeros_like(x) for k, x in p.items()})
    s = state.setdefault("s", {k: np.zeros_like(x) for k, x in p.items()})
    t = state["t"] = state.get("t", 0) + 1
    out = {}
    for k in p:
        v[k] = beta1 * v[k] + (1 - beta1) * g[k]
        v_corrected = v[k] / (1 - np.power(beta1, t))
        s[k] = beta2 * s[k] + (1 - beta2) * np.power(g[k], 2)
        s_corrected = s[k] / (1 - np.power(beta2, t))
        out[k] = p[k] - lr * v_corrected / (np.sqrt(s_corrected) + epsilon)
    return out


CASES = {
    "GD": (lambda ps, lr: optim.GD(ps, lr), numpy_gd),
    "Momentum": (lambda ps, lr: optim.Momentum(ps, lr, beta=0.8), lambda p, g, s, lr: numpy_momentum(p, g, s, lr, 0.8)),
    "RMSprop": (lambda ps, lr: optim.RMSprop(ps, lr, beta=0.9, epsilon=1e-6),
                lambda p, g, s, lr: numpy_rmsprop(p, g, s, lr, 0.9, 1e-6)),
    "Adam": (lambda ps, lr: optim.Adam(ps, lr), numpy_adam),
}


@pytest.mark.parametrize("name", CASES)
def test_several_steps_match_hand_written_numpy_bit_for_bit(name):
    make, reference = CASES[name]
    rng = np.random.default_rng(0)
    start = {k: rng.standard_normal(shape) for k, shape in SHAPES.items()}
    params = as_parameters(start)
    opt = make(params, 0.05)
    expected, state = dict(start), {}
    for step in range(6):
        lr = 0.05 if step < 3 else 0.01  # learning_rate may change between steps
        opt.learning_rate = lr
        grads = {k: rng.standard_normal(shape) for k, shape in SHAPES.items()}
        opt.step(by_node(params, grads))
        expected = reference(expected, grads, state, lr)
        for k in SHAPES:
            np.testing.assert_array_equal(params[k].value, expected[k], err_msg=f"{name} step {step} {k}")


@pytest.mark.parametrize("name", CASES)
def test_updates_are_in_place_in_the_optimizers_buffer_and_keep_the_dtype(name):
    params = as_parameters({k: np.ones(shape, np.float32) for k, shape in SHAPES.items()})
    given = {k: p.value for k, p in params.items()}
    opt = CASES[name][0](params, 0.1)
    arrays = {k: p.value for k, p in params.items()}  # views into the optimizer's one float32 buffer
    assert all(a.base is arrays["W1"].base for a in arrays.values())
    for _ in range(2):
        opt.step(by_node(params, {k: np.full(shape, 0.5, np.float32) for k, shape in SHAPES.items()}))
    for k, p in params.items():
        assert p.value is arrays[k] and p.value.dtype == np.float32
        assert np.all(p.value < 1)
        np.testing.assert_array_equal(given[k], 1)  # the arrays the parameters had were copied in, not written


def test_a_value_assigned_between_steps_is_copied_into_the_buffer():
    w = tg.parameter(np.ones(3), name="w")
    opt = optim.GD([w], 0.5)
    view = w.value
    replacement = np.full(3, 4.0)
    w.value = replacement
    opt.step({w: np.ones(3)})
    np.testing.assert_array_equal(w.value, [3.5, 3.5, 3.5])
    assert w.value is view
    np.testing.assert_array_equal(replacement, 4.0)


def test_a_read_only_value_is_replaced_not_written():
    w = tg.parameter(np.ones(3), name="w")
    frozen = np.ones(3)
    frozen.flags.writeable = False
    w.value = frozen
    optim.GD([w], 0.5).step({w: np.ones(3)})
    np.testing.assert_array_equal(w.value, [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(frozen, [1, 1, 1])


def test_trains_a_graph_from_backward():
    model = nn.MLP([2, 3, 1], hidden="tanh", rng=0)
    X, Y = tg.placeholder((2, None), name="X"), tg.placeholder((1, None), name="Y")
    g = tg.Graph(nn.binary_cross_entropy(model(X), Y))
    rng = np.random.default_rng(1)
    feeds = {X: rng.standard_normal((2, 40)), Y: (rng.random((1, 40)) < 0.5).astype(float)}
    opt = optim.Adam(model, learning_rate=0.05)  # a module is accepted as well as its parameters()
    first = g.forward(feeds)
    for _ in range(30):
        g.forward(feeds)
        opt.step(g.backward())
    assert g.forward(feeds) < first


# --- checkpoints -------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_state_dict_round_trip_continues_the_same_run(name):
    make = CASES[name][0]
    rng = np.random.default_rng(2)
    start = {k: rng.standard_normal(shape) for k, shape in SHAPES.items()}
    grads = [{k: rng.standard_normal(shape) for k, shape in SHAPES.items()} for _ in range(5)]

    straight = as_parameters(start)
    opt = make(straight, 0.1)
    for g in grads:
        opt.step(by_node(straight, g))

    first = as_parameters(start)
    opt = make(first, 0.1)
    for g in grads[:3]:
        opt.step(by_node(first, g))
    saved = opt.state_dict()
    assert all(isinstance(v, (int, float, np.ndarray)) for v in saved.values())
    resumed = as_parameters(values(first))
    opt = make(resumed, 0.7)  # the saved learning rate wins
    opt.load_state_dict(saved)
    assert opt.learning_rate == 0.1
    for g in grads[3:]:
        opt.step(by_node(resumed, g))
    for k in SHAPES:
        np.testing.assert_array_equal(resumed[k].value, straight[k].value)


def test_state_dict_is_a_copy():
    w = tg.parameter(np.ones(2), name="w")
    opt = optim.Momentum([w], 0.1)
    opt.step({w: np.ones(2)})
    saved = opt.state_dict()
    saved["0.v"][...] = 99
    assert opt.state_dict()["0.v"][0] != 99


def test_load_state_dict_lists_every_difference_and_changes_nothing():
    w = tg.parameter(np.ones((2, 3)), name="w")
    b = tg.parameter(np.ones((2, 1)), name="b")
    opt = optim.Adam([w, b], 0.1)
    opt.step({w: np.ones((2, 3)), b: np.ones((2, 1))})
    before = opt.state_dict()
    bad = dict(before)
    del bad["beta2"]
    bad["0.v"] = np.zeros((3, 2))
    bad["momentum"] = 0.9
    with pytest.raises(optim.OptimizerError) as caught:
        opt.load_state_dict(bad)
    message = str(caught.value)
    assert "missing 'beta2'" in message and "unexpected 'momentum'" in message
    assert "'0.v' has shape (3, 2), parameter 'w' has shape (2, 3)" in message
    after = opt.state_dict()
    assert after.keys() == before.keys() and all(np.array_equal(after[k], before[k]) for k in before)


def test_a_state_from_another_optimizer_is_refused():
    w = tg.parameter(np.ones(2), name="w")
    gd_state = optim.GD([w], 0.1).state_dict()
    with pytest.raises(optim.OptimizerError, match="into Momentum: missing 'beta'; missing '0.v'"):
        optim.Momentum([w], 0.1).load_state_dict(gd_state)


# --- bad input -----------------------------------------------------------------------------

def test_a_missing_gradient_is_named():
    w, b = tg.parameter(np.ones(2), name="w"), tg.parameter(0.0, name="bias")
    with pytest.raises(optim.OptimizerError, match="Adam.step: no gradient for parameter.s. 'bias'"):
        optim.Adam([w, b]).step({w: np.ones(2)})


def test_a_gradient_for_a_parameter_it_does_not_hold_is_named():
    w, other = tg.parameter(np.ones(2), name="w"), tg.parameter(np.ones(2), name="other")
    with pytest.raises(optim.OptimizerError, match="gradients for 'other', which this optimizer does not update"):
        optim.GD([w], 0.1).step({w: np.ones(2), other: np.ones(2)})


def test_a_gradient_of_the_wrong_shape_is_named():
    w = tg.parameter(np.ones((3, 1)), name="w")
    with pytest.raises(optim.OptimizerError, match=r"gradient of parameter 'w' has shape \(1, 1\).*\(3, 1\)"):
        optim.GD([w], 0.1).step({w: np.ones((1, 1))})  # would broadcast silently into w


def test_bad_parameter_lists():
    w = tg.parameter(np.ones(2), name="w")
    with pytest.raises(TypeError, match="updates parameters"):
        optim.GD([w, tg.placeholder((2,), name="x")], 0.1)
    with pytest.raises(ValueError, match="'w' is listed twice"):
        optim.GD([w, w], 0.1)
    with pytest.raises(ValueError, match="at least one parameter"):
        optim.GD([], 0.1)


# --- the training loop ---------------------------------------------------------------------

def test_training_loop_keeps_the_courses_cost_history(capsys):
    w = tg.parameter(3.0, name="w")
    g = tg.Graph(w * w)
    opt = optim.GD([w], 0.1)
    loop = optim.TrainingLoop(25, every=10, print_cost=True)
    every_cost = []
    for _ in loop:
        cost = g.forward()
        opt.step(g.backward())
        every_cost.append(loop.record(cost))
    assert loop.iteration == 24 and len(every_cost) == 25
    assert loop.recorded_at == [0, 10, 20] and loop.costs == [every_cost[0], every_cost[10], every_cost[20]]
    assert every_cost[0] == 9.0 and every_cost[10] == pytest.approx(9 * 0.8 ** 20)
    assert capsys.readouterr().out.splitlines() == [f"Cost after iteration {i}: {c:f}"
                                                    for i, c in zip(loop.recorded_at, loop.costs, strict=True)]


def test_training_loop_with_a_bar_prints_the_same_lines(capsys):
    loop = optim.TrainingLoop(3, every=2, print_cost=True, bar=True, message="{i}: {cost:.1f}")
    for i in loop:
        loop.record(i / 2)
    assert loop.costs == [0.0, 1.0]
    assert capsys.readouterr().out.splitlines() == ["0: 0.0", "2: 1.0"]


def test_training_loop_stops_at_the_first_cost_that_is_not_finite():
    w = tg.parameter(1.0, name="w")
    g = tg.Graph(tg.exp(w * w))
    opt = optim.GD([w], 2.0)  # far too large: the cost grows without bound
    loop = optim.TrainingLoop(100)
    with np.errstate(over="ignore"), pytest.raises(optim.TrainingError) as caught:
        for _ in loop:
            cost = g.forward()
            opt.step(g.backward())
            loop.record(cost)
    message = str(caught.value)
    assert re.fullmatch(r"the cost became inf at iteration (\d+) \(it was \S+ at iteration (\d+)\); "
                        r"a smaller learning rate, or a loss the graph can make stable, may help", message), message
    stopped, before = map(int, re.search(r"iteration (\d+) .*iteration (\d+)", message).groups())
    assert 0 < stopped < 100 and before == stopped - 1
    loop = optim.TrainingLoop(5)
    with pytest.raises(optim.TrainingError, match="the cost became nan at iteration 0; a smaller"):
        for _ in loop:
            loop.record(np.float64("nan"))
    with pytest.raises(ValueError, match="every must be positive"):
        optim.TrainingLoop(5, every=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gd_multiplies_as_by_the_python_number(dtype):
    """The rate goes in as a 0-d array of the buffer's dtype (faster): the bits of ``w -= lr * g``."""
    rng = np.random.default_rng(3)
    start, grad = rng.standard_normal((4, 3)).astype(dtype), rng.standard_normal((4, 3)).astype(dtype)
    w = tg.parameter(start.copy(), name="w")
    opt = optim.GD([w], 0.0123)
    expected = start.copy()
    for lr in (0.0123, 0.7, 1e-5):
        opt.learning_rate = lr
        opt.step({w: grad})
        expected -= lr * grad
        assert w.value.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(w.value, expected)
    assert optim.number(0.7, np.dtype(dtype)) is optim.number(0.7, np.dtype(dtype))
    assert not optim.number(0.7, np.dtype(dtype)).flags.writeable
