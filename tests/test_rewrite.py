"""Rewrite passes: each pass's pattern hit and miss, the mechanism, and a property
test that a rewritten graph computes what the original does (values and gradients)."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygraph as tg
import tinygraph.run
from tinygraph.ops import stable_sigmoid
from tinygraph.rewrite import REWRITES, MergeDuplicates

BUILT_IN = ("stable_log_sigmoid", "constant_folding", "merge_duplicates")


def kinds(graph: tg.Graph) -> list[str]:
    return [n.kind for n in graph.nodes]


def applied(graph: tg.Graph) -> list[str]:
    return [name for name, _, _ in graph.rewrites_applied]


def only(*names: str) -> tuple[str, ...]:
    """``disable=`` keeping just ``names`` on, so a test sees one pass at work."""
    return tuple(n for n in REWRITES if n not in names)


@pytest.fixture
def user_pass():
    """Register a pass for one test and remove it afterwards, whatever happens."""
    added = []

    def add(name, rewrite_pass):
        tg.register_rewrite(name)(rewrite_pass)
        added.append(name)
        return rewrite_pass

    yield add
    for name in added:
        REWRITES.pop(name, None)


def test_built_in_passes_are_registered_in_order():
    names = list(REWRITES)
    assert [n for n in names if n in BUILT_IN] == list(BUILT_IN)


# --- stable_log_sigmoid -----------------------------------------------------------

def test_log_sigmoid_hit_is_finite_for_huge_logits():
    z = tg.placeholder((3,), name="z")
    out = tg.sum(tg.log(tg.sigmoid(z)))
    g = tg.Graph(out, disable=only("stable_log_sigmoid"))
    assert applied(g) == ["stable_log_sigmoid"]
    assert "log" not in kinds(g) and "softplus" in kinds(g)
    logits = np.array([-1000.0, 0.0, 1000.0])
    assert g.forward({z: logits}) == pytest.approx(-1000.0 - np.log(2.0))
    np.testing.assert_allclose(g.backward(wrt=[z])[z], [1.0, 0.5, 0.0])  # 1 - sigmoid(z)
    with np.errstate(all="ignore"):
        assert tg.Graph(out, rewrites=False).forward({z: logits}) == -np.inf  # what it replaced


def test_log_one_minus_sigmoid_hit_is_finite_for_huge_logits():
    z = tg.placeholder((3,), name="z")
    out = tg.sum(tg.log(1 - tg.sigmoid(z)))
    g = tg.Graph(out, disable=only("stable_log_sigmoid"))
    assert applied(g) == ["stable_log_sigmoid"]
    logits = np.array([-1000.0, 0.0, 1000.0])
    assert g.forward({z: logits}) == pytest.approx(-1000.0 - np.log(2.0))
    np.testing.assert_allclose(g.backward(wrt=[z])[z], [-0.0, -0.5, -1.0])  # -sigmoid(z)


@pytest.mark.parametrize(
    "build",
    [
        lambda z: tg.log(z * z + 1),  # log of something else
        lambda z: tg.log(2 - tg.sigmoid(z)),  # not 1 - sigmoid
        lambda z: tg.log(tg.sigmoid(z) - 1 + 2),  # sigmoid on the wrong side
        lambda z: tg.log(1 - tg.tanh(z) + 1),  # not sigmoid
        lambda z: tg.exp(tg.sigmoid(z)),  # not log
    ],
    ids=["log-other", "two-minus", "sigmoid-first", "tanh", "exp"],
)
def test_log_sigmoid_misses(build):
    z = tg.placeholder((3,), name="z")
    g = tg.Graph(tg.sum(build(z)), disable=only("stable_log_sigmoid"))
    assert applied(g) == []


def test_log_one_minus_sigmoid_misses_when_the_one_broadcasts_wider():
    z = tg.placeholder((), name="z")
    out = tg.log(np.ones(3) - tg.sigmoid(z))  # shape (3,), but -softplus(z) would be ()
    g = tg.Graph(tg.sum(out), disable=only("stable_log_sigmoid"))
    assert applied(g) == []
    assert g.forward({z: 0.0}) == pytest.approx(3 * np.log(0.5))


def test_textbook_cost_gradient_reaches_z_as_sigmoid_minus_y():
    z = tg.placeholder((1, None), name="z")
    y = tg.placeholder((1, None), name="y")
    a = tg.sigmoid(z)
    cost = -tg.mean(y * tg.log(a) + (1 - y) * tg.log(1 - a))
    g = tg.Graph(cost)
    logits = np.array([[-800.0, -3.0, 0.5, 40.0, 900.0]])
    labels = np.array([[1.0, 0.0, 1.0, 0.0, 0.0]])
    value = g.forward({z: logits, y: labels})
    expected = np.mean(np.logaddexp(0, logits) - labels * logits)  # the stable closed form
    assert np.isfinite(value) and value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(g.backward(wrt=[z])[z], (stable_sigmoid(logits) - labels) / 5, rtol=1e-12, atol=0)


# --- constant_folding -------------------------------------------------------------

def test_folding_hit_turns_a_constant_subgraph_into_one_constant():
    x = tg.placeholder((2,), name="x")
    c = tg.constant([1.0, 2.0])
    folded = tg.exp(c) * 2 + tg.sum(c)
    out = tg.sum(folded * x)
    g = tg.Graph(out, disable=only("constant_folding"))
    assert "exp" not in kinds(g) and kinds(g).count("constant") == 1
    assert set(applied(g)) == {"constant_folding"}
    feed = {x: np.array([1.0, -1.0])}
    expected = np.exp([1.0, 2.0]) * 2 + 3.0
    assert g.forward(feed) == pytest.approx(expected @ feed[x])
    np.testing.assert_allclose(g.value(folded), expected)  # the user's node still reads back
    np.testing.assert_allclose(g.backward(wrt=[x, folded])[folded], feed[x])


def test_folding_misses_parameters_and_placeholders():
    w = tg.parameter([1.0, 2.0], name="w")
    x = tg.placeholder((2,), name="x")
    out = tg.sum(tg.exp(w) * 2 + tg.tanh(x))
    g = tg.Graph(out, disable=only("constant_folding"))
    assert applied(g) == []
    assert "exp" in kinds(g) and "tanh" in kinds(g)
    w.value = [0.0, 0.0]  # the next run reads the parameter: nothing was baked in
    assert g.forward({x: np.zeros(2)}) == pytest.approx(4.0)
    np.testing.assert_allclose(g.backward()[w], [2.0, 2.0])


def test_folding_keeps_non_finite_results_for_anomaly_detection():
    x = tg.placeholder((), name="x")
    planted = tg.log(tg.constant(0.0))
    g = tg.Graph(planted * x, disable=only("constant_folding"))
    assert "log" in kinds(g)  # folded, it would leave nothing to blame


def test_folding_misses_impure_ops():
    class Noise(tg.Op):
        pure = False
        arity = 1

        def forward(self, x):
            return x + np.random.default_rng().normal(size=np.shape(x))

        def backward(self, grad_output, x, *, output):
            return (grad_output,)

    g = tg.Graph(Noise()(tg.constant(1.0)) * tg.placeholder(()), disable=only("constant_folding"))
    assert "noise" in kinds(g)


def test_folded_constant_inputs_have_no_gradient_and_say_why():
    x = tg.placeholder((), name="x")
    c = tg.constant(2.0, name="c")
    g = tg.Graph(tg.exp(c) * x)
    g.forward({x: 1.0})
    for read in (g.value, lambda node: g.backward(wrt=[node])):  # c is gone from the graph: both say why
        with pytest.raises(KeyError, match="constant_folding"):
            read(c)
    unfolded = tg.Graph(tg.exp(c) * x, disable=("constant_folding",))
    unfolded.forward({x: 1.0})
    assert unfolded.backward(wrt=[c])[c] == pytest.approx(np.exp(2.0))


# --- merge_duplicates -------------------------------------------------------------

def test_merge_hit_computes_a_repeated_subexpression_once():
    x = tg.placeholder((3,), name="x")
    a, b = tg.exp(x * 2), tg.exp(x * 2)  # two constants 2, equal by value
    g = tg.Graph(tg.sum(a * b), disable=only("merge_duplicates"))
    assert kinds(g).count("exp") == 1 and kinds(g).count("mul") == 2
    assert applied(g) == ["merge_duplicates", "merge_duplicates"]
    feed = {x: np.array([0.1, -0.2, 0.3])}
    assert g.forward(feed) == pytest.approx(np.sum(np.exp(4 * feed[x])))
    np.testing.assert_allclose(g.value(a), g.value(b))
    np.testing.assert_allclose(g.backward(wrt=[x])[x], 4 * np.exp(4 * feed[x]))


def test_merged_nodes_have_no_gradient_of_their_own():
    x = tg.placeholder((3,), name="x")
    a, b = tg.tanh(x), tg.tanh(x)
    out = tg.sum(a * 3 + b)
    g = tg.Graph(out, disable=only("merge_duplicates"))
    g.forward({x: np.zeros(3)})
    for node in (a, b):  # in the merged graph their gradients would be summed: refuse, name the pass
        with pytest.raises(tg.GradientError, match="merge_duplicates"):
            g.backward(wrt=[node])
    apart = tg.Graph(out, rewrites=False)
    apart.forward({x: np.zeros(3)})
    np.testing.assert_allclose(apart.backward(wrt=[a])[a], [3.0, 3.0, 3.0])


@pytest.mark.parametrize(
    "pair",
    [
        lambda x, y: (tg.sum(x, axis=0), tg.sum(x, axis=1)),  # different params
        lambda x, y: (tg.exp(x), tg.exp(y)),  # different inputs
        lambda x, y: (x * 2, x * 3),  # constants of different value
        lambda x, y: (x - y, y - x),  # same inputs, other order
        lambda x, y: (x * tg.constant(np.float32(2)), x * 2.0),  # same value, other dtype
    ],
    ids=["params", "inputs", "constant-values", "order", "constant-dtypes"],
)
def test_merge_misses(pair):
    x = tg.placeholder((2, 2), name="x")
    y = tg.placeholder((2, 2), name="y")
    first, second = pair(x, y)
    g = tg.Graph([first, second], disable=only("merge_duplicates"))
    assert applied(g) == []


def test_merge_compares_user_ops_by_params_or_attributes():
    class Scale(tg.Op):  # no params(): its attributes decide
        arity = 1

        def __init__(self, k):
            self.k = k

        def forward(self, x):
            return self.k * x

        def backward(self, grad_output, x, *, output):
            return (self.k * grad_output,)

    class Tagged(Scale):  # an attribute that cannot be compared safely: never merged
        def __init__(self, k):
            super().__init__(k)
            self.tags = {"a"}

    x = tg.placeholder((2,), name="x")
    same = tg.Graph([Scale(2.0)(x), Scale(2.0)(x)], disable=only("merge_duplicates"))
    assert applied(same) == ["merge_duplicates"]
    other = tg.Graph([Scale(2.0)(x), Scale(3.0)(x)], disable=only("merge_duplicates"))
    assert applied(other) == []
    tagged = tg.Graph([Tagged(2.0)(x), Tagged(2.0)(x)], disable=only("merge_duplicates"))
    assert applied(tagged) == []


def test_merge_misses_impure_ops_and_large_constants():
    class Dropout(tg.Op):
        pure = False
        arity = 1

        def forward(self, x):
            return x * (np.random.default_rng().random(np.shape(x)) > 0.5)

        def backward(self, grad_output, x, *, output):
            return (grad_output * (output != 0),)

    x = tg.placeholder((2,), name="x")
    g = tg.Graph([Dropout()(x), Dropout()(x)], disable=only("merge_duplicates"))
    assert applied(g) == []
    big = np.ones(MergeDuplicates.MAX_CONSTANT_SIZE + 1)
    v = tg.placeholder(big.shape, name="v")
    g = tg.Graph([v * big, v * big], disable=only("merge_duplicates"))
    assert applied(g) == []


# --- the mechanism ----------------------------------------------------------------

def test_user_pass_is_applied_and_can_be_switched_off_by_name(user_pass):
    def double_negation(node):
        if node.kind == "neg" and node.inputs[0].kind == "neg":
            return node.inputs[0].inputs[0]
        return None

    user_pass("double_negation", double_negation)
    x = tg.placeholder((2,), name="x")
    out = tg.sum(tg.neg(tg.neg(tg.tanh(x))))
    g = tg.Graph(out)
    assert "double_negation" in applied(g) and "neg" not in kinds(g)
    assert g.forward({x: np.array([0.5, -0.5])}) == pytest.approx(0.0)
    assert "neg" in kinds(tg.Graph(out, disable=("double_negation",)))


def test_user_pass_as_a_class_gets_a_fresh_instance_per_graph(user_pass):
    instances = []

    class Counting:
        def __init__(self):
            self.seen = 0
            instances.append(self)

        def __call__(self, node):
            self.seen += 1
            return None

    user_pass("counting", Counting)
    x = tg.placeholder((2,), name="x")
    tg.Graph(tg.sum(tg.exp(x)))
    tg.Graph(tg.sum(tg.exp(x)))
    assert len(instances) == 2 and instances[0] is not instances[1]
    assert instances[0].seen == 2  # exp and sum: passes see op nodes and constants, not placeholders


def test_registering_a_taken_name_and_disabling_an_unknown_one_fail():
    with pytest.raises(ValueError, match="already registered"):
        tg.register_rewrite("constant_folding")(lambda node: None)
    with pytest.raises(ValueError, match="unknown rewrite"):
        tg.Graph(tg.placeholder(()) * 2, disable=("no_such_pass",))


def test_a_pass_changing_the_shape_is_refused_by_name(user_pass):
    user_pass("broken", lambda node: tg.sum(node) if node.kind == "exp" else None)
    with pytest.raises(tg.ShapeError, match="broken"):
        tg.Graph(tg.sum(tg.exp(tg.placeholder((2,)))))


def test_a_pass_that_never_settles_is_stopped_by_name(user_pass):
    user_pass("forever", lambda node: tg.tanh(node.inputs[0]) if node.kind == "tanh" else None)
    with pytest.raises(RuntimeError, match="forever"):
        tg.Graph(tg.sum(tg.tanh(tg.placeholder((2,)))))


def test_rewrites_never_mutate_the_users_nodes_and_can_be_off():
    z = tg.placeholder((2,), name="z")
    a = tg.sigmoid(z)
    log_a = tg.log(a)
    out = tg.sum(log_a)
    before = [(n, n.op, n.inputs) for n in tg.topological_order([out])]
    tg.Graph(out)
    assert [(n, n.op, n.inputs) for n in tg.topological_order([out])] == before
    plain = tg.Graph(out, rewrites=False)
    assert plain.rewrites_applied == [] and "log" in kinds(plain)


def test_new_nodes_point_at_the_users_line():
    z = tg.placeholder((2,), name="z")
    log_a = tg.log(tg.sigmoid(z)); line = sys._getframe().f_lineno  # noqa: E702
    g = tg.Graph(tg.sum(log_a))
    made = [n for n in g.nodes if n.kind in ("softplus", "neg")]
    assert made and all(n.trace == (__file__, line) for n in made)


def test_value_of_a_node_a_rewrite_went_around_says_which_pass():
    z = tg.placeholder((2,), name="z")
    a = tg.sigmoid(z)
    g = tg.Graph(tg.sum(tg.log(a)))
    g.forward({z: np.zeros(2)})
    for read in (g.value, lambda node: g.backward(wrt=[node])):
        with pytest.raises(KeyError, match="stable_log_sigmoid"):
            read(a)
    kept = tg.Graph([tg.sum(tg.log(a)), a])  # an output is always computed
    kept.forward({z: np.zeros(2)})
    np.testing.assert_allclose(kept.value(a), [0.5, 0.5])
    with pytest.raises(tg.GradientError, match="stable_log_sigmoid"):
        kept.backward(wrt=[a])  # but its gradient no longer includes the log's share


def test_gradient_with_respect_to_a_node_collapsed_onto_its_ancestor(user_pass):
    user_pass("double_negation", lambda n: n.inputs[0].inputs[0] if n.kind == "neg" and n.inputs[0].kind == "neg"
              else None)
    p = tg.parameter([0.3, -0.7], name="p")
    t = tg.tanh(p)
    inner = -t
    out = tg.sum(-inner * t)  # -(-t) collapses onto t: t's gradient is unchanged, inner's is gone
    g = tg.Graph(out)
    g.forward()
    np.testing.assert_allclose(g.backward(wrt=[t])[t], 2 * np.tanh(p.value))
    with pytest.raises(KeyError, match="double_negation"):  # the rewritten graph no longer has it
        g.backward(wrt=[inner])


def test_a_long_constant_chain_folds_and_reports_blocked_nodes():
    c0 = tg.constant(1.0)
    c = c0
    for _ in range(3000):
        c = c * 1.0001
    x = tg.placeholder((), name="x")
    g = tg.Graph(c * x)
    assert kinds(g) == ["constant", "placeholder", "mul"]
    assert g.forward({x: 1.0}) == pytest.approx(1.0001 ** 3000)
    with pytest.raises(KeyError, match="constant_folding"):
        g.backward(wrt=[c0])


# --- the property: a rewritten graph computes what the original does -----------------

UNARY = ("neg", "tanh", "sigmoid", "softplus", "exp_tanh", "log_sigmoid", "log_one_minus_sigmoid", "square_tanh")
BINARY = ("add", "sub", "mul_tanh")


def _apply(kind: str, a: tg.Node, b: tg.Node) -> tg.Node:
    """One step of a random graph. Every value stays bounded (|v| grows at most linearly with depth),
    and the logits fed to the log-sigmoid patterns stay within ±10, where the textbook form is
    still accurate enough to compare with."""
    if kind == "neg":
        return -a
    if kind in ("tanh", "sigmoid", "softplus"):
        return getattr(tg, kind)(a)
    if kind == "exp_tanh":
        return tg.exp(tg.tanh(a))
    if kind == "square_tanh":
        return tg.tanh(a) ** 2
    if kind == "log_sigmoid":
        return tg.log(tg.sigmoid(10 * tg.tanh(a)))
    if kind == "log_one_minus_sigmoid":
        return tg.log(1 - tg.sigmoid(10 * tg.tanh(a)))
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    return a * tg.tanh(b)


step = st.tuples(st.sampled_from(UNARY + BINARY), st.integers(0, 1000), st.integers(0, 1000))
values = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, width=64)


@given(
    steps=st.lists(step, min_size=1, max_size=12),
    repeat=st.lists(st.integers(0, 1000), max_size=4),
    x=st.lists(values, min_size=3, max_size=3),
    p=st.lists(values, min_size=3, max_size=3),
    c=values,
)
def test_rewritten_graph_gives_the_same_values_and_gradients(steps, repeat, x, p, c):
    xs = tg.placeholder((3,), name="x")
    ps = tg.parameter(p, name="p")
    q = tg.parameter(0.5, name="q")
    nodes = [xs, ps, q, tg.constant(c), tg.constant(0.25)]  # constants: subgraphs for folding
    made = []
    for kind, i, j in steps + [steps[k % len(steps)] for k in repeat]:  # repeats: duplicates to merge
        node = _apply(kind, nodes[i % len(nodes)], nodes[j % len(nodes)])
        nodes.append(node)
        made.append(node)
    out = tg.sum(made[-1]) + 0.1 * tg.sum(xs * ps * q)  # every leaf in the graph, so every gradient exists
    for node in made[:-1]:
        out = out + 0.5 * tg.mean(node)
    feeds = {xs: np.array(x)}
    wrt = [xs, ps, q]

    original = tg.Graph(out, rewrites=False)
    rewritten = tg.Graph(out)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        expected = original.forward(feeds)
        got = rewritten.forward(feeds)
        expected_grads = original.backward(wrt=wrt)
        grads = rewritten.backward(wrt=wrt)
        interpreted = tg.Graph(out)  # the same graph, run by the interpreter loop instead of compiled code
        limit, tinygraph.run.MAX_COMPILED_STEPS = tinygraph.run.MAX_COMPILED_STEPS, 0
        try:
            np.testing.assert_array_equal(interpreted.forward(feeds), got)
            interpreted_grads = interpreted.backward(wrt=wrt)
        finally:
            tinygraph.run.MAX_COMPILED_STEPS = limit
    for node in wrt:  # the same ops in the same order: the same bits
        np.testing.assert_array_equal(interpreted_grads[node], grads[node])
    if not np.isfinite(expected):
        return  # nothing to compare with (never happens within these domains, but the claim is "where finite")
    assert np.isfinite(got)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    for node in wrt:
        if np.all(np.isfinite(expected_grads[node])):
            np.testing.assert_allclose(grads[node], expected_grads[node], rtol=1e-7, atol=1e-9)
    for node in made:  # every user node the rewritten graph still computes reads back the same
        try:
            value = rewritten.value(node)
        except KeyError:
            continue
        np.testing.assert_allclose(value, original.value(node), rtol=1e-9, atol=1e-9)


@given(logits=st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=8), data=st.data())
def test_rewritten_cost_stays_finite_where_the_textbook_one_overflows(logits, data):
    labels = data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=len(logits), max_size=len(logits)))
    z = tg.placeholder((1, None), name="z")
    y = tg.placeholder((1, None), name="y")
    a = tg.sigmoid(z)
    cost = -tg.mean(y * tg.log(a) + (1 - y) * tg.log(1 - a))
    zs, ys = np.array([logits]), np.array([labels])
    g = tg.Graph(cost)
    value = g.forward({z: zs, y: ys})
    expected = np.mean(np.logaddexp(0, zs) - ys * zs)
    assert np.isfinite(value)
    assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)
    grad = g.backward(wrt=[z])[z]
    np.testing.assert_allclose(grad, (stable_sigmoid(zs) - ys) / zs.size, rtol=1e-9, atol=1e-15)
