"""The op set's values against numpy, and the behaviours the registry-driven tests cannot see:
both branches of maximum/minimum/where, ties, masks, stability at logits of ±1000."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn
from tinygraph.testing import check_op

RNG = np.random.default_rng(11)
X = RNG.uniform(-2, 2, (3, 4, 5))


def run(node, feeds=None):
    return tg.Graph(node).forward(feeds or {})


@pytest.mark.parametrize("name, ours, theirs", [
    ("sqrt", lambda x: tg.sqrt(tg.abs(x)), lambda x: np.sqrt(np.abs(x))),
    ("square", tg.square, np.square),
    ("sin", tg.sin, np.sin),
    ("cos", tg.cos, np.cos),
    ("leaky_relu", tg.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    ("clip", lambda x: tg.clip(x, -0.5, 1), lambda x: np.clip(x, -0.5, 1)),
    ("max", lambda x: tg.max(x, axis=(0, 2)), lambda x: np.max(x, axis=(0, 2))),
    ("min", lambda x: tg.min(x, axis=-1, keepdims=True), lambda x: np.min(x, axis=-1, keepdims=True)),
    ("argmax", lambda x: tg.argmax(x, axis=1), lambda x: np.argmax(x, axis=1)),
    ("argmax flat", tg.argmax, np.argmax),
    ("logsumexp", lambda x: tg.logsumexp(x, axis=1), lambda x: np.log(np.sum(np.exp(x), axis=1))),
    ("var", lambda x: tg.var(x, axis=0), lambda x: np.var(x, axis=0)),
    ("std", lambda x: tg.std(x, ddof=1), lambda x: np.std(x, ddof=1)),
    ("log_softmax", lambda x: tg.log_softmax(x, axis=0),
     lambda x: np.log(np.exp(x) / np.exp(x).sum(axis=0, keepdims=True))),
])
def test_values_match_numpy(name, ours, theirs):
    x = tg.placeholder(X.shape, name="x")
    node = ours(x)
    value = run(node, {x: X})
    expected = theirs(X)
    assert node.shape == np.shape(expected) and np.asarray(value).dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ours, theirs", [
    (tg.maximum, np.maximum), (tg.minimum, np.minimum), (tg.less, np.less), (tg.less_equal, np.less_equal),
    (tg.greater, np.greater), (tg.greater_equal, np.greater_equal), (tg.equal, np.equal),
])
def test_binary_values_and_both_branches_of_the_gradient(ours, theirs):
    a, b = np.array([[0.5, -1.0, 2.0, 0.25]]), np.array([[1.0], [-2.0], [0.25]])  # ties at one place
    A, B = tg.placeholder(a.shape), tg.placeholder(b.shape)
    np.testing.assert_array_equal(run(ours(A, B), {A: a, B: b}), theirs(a, b).astype(float))
    if ours in (tg.maximum, tg.minimum):  # both branches, away from the tie
        b_apart = b + 0.1
        check_op(tg.OPS[ours.__name__](), a, b_apart)
        assert 0 < (theirs(a, b_apart) == a).mean() < 1


def test_ties_follow_the_documented_conventions():
    x = tg.placeholder((4,), name="x")
    value = np.array([3.0, 1.0, 3.0, 3.0])
    grads = tg.Graph([tg.max(x)] + tg.grad(tg.max(x), [x])).forward({x: value})
    np.testing.assert_allclose(grads[1], [1 / 3, 0, 1 / 3, 1 / 3])  # a k-way tie shares equally
    (dx,) = tg.Graph(tg.grad(tg.sum(tg.maximum(x, 3.0)), [x])).forward({x: value})
    np.testing.assert_array_equal(dx, [1, 0, 1, 1])  # maximum: a tie goes to the first input
    assert run(tg.argmax(x), {x: value}) == 0  # numpy's first index


def test_where_selects_and_sends_each_side_its_gradient():
    cond = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3,))
    C, A, B = tg.placeholder(cond.shape), tg.placeholder(a.shape), tg.placeholder(b.shape)
    out = tg.where(C, A, B)
    np.testing.assert_array_equal(run(out, {C: cond, A: a, B: b}), np.where(cond, a, b))
    da, db = tg.Graph(tg.grad(tg.sum(out * 2.0), [A, B])).forward({C: cond, A: a, B: b})
    np.testing.assert_array_equal(da, 2 * cond)
    np.testing.assert_array_equal(db, 2 * (1 - cond).sum(axis=0))
    check_op(tg.OPS["where"](), cond * 2 - 1, a, b)  # -1/1 masks: both branches under finite differences


def test_a_comparison_is_a_mask_with_no_gradient():
    x = tg.placeholder((5,), name="x")
    masked = x * tg.greater_equal(x, 0.0)
    value = np.array([-1.0, 2.0, -0.5, 0.5, 3.0])
    (dx,) = tg.Graph(tg.grad(tg.sum(masked), [x])).forward({x: value})
    np.testing.assert_array_equal(dx, value >= 0)


def test_clip_passes_gradient_only_inside():
    x = tg.placeholder((4,))
    (dx,) = tg.Graph(tg.grad(tg.sum(tg.clip(x, -1, 1)), [x])).forward({x: np.array([-2.0, -0.5, 0.5, 2.0])})
    np.testing.assert_array_equal(dx, [0, 1, 1, 0])
    with pytest.raises(ValueError, match="lo=2 is above hi=1"):
        tg.clip(x, 2, 1)


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_softmax_cross_entropy_is_finite_and_right_at_large_logits(scale):
    z = np.array([[1.0, -1.0, 0.5], [-1.0, 1.0, -0.5], [0.2, 0.0, 1.0]]) * scale
    y = np.eye(3)[:, [0, 2, 1]]
    Z, Y = tg.placeholder(z.shape, name="Z"), tg.placeholder(y.shape, name="Y")
    cost = nn.softmax_cross_entropy(Z, Y)
    g = tg.Graph(cost)
    value = g.forward({Z: z, Y: y})
    (dz,) = tg.Graph(tg.grad(cost, [Z])).forward({Z: z, Y: y})
    # reference in exact-enough arithmetic: logsumexp by the max shift, softmax likewise
    shifted = z - z.max(axis=0)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=0))
    assert np.isfinite(value) and value == pytest.approx(-np.mean(np.sum(y * log_p, axis=0)), rel=1e-12)
    np.testing.assert_allclose(dz, (np.exp(log_p) - y) / z.shape[1], atol=1e-15)
    if scale == 1:  # at ±1000 the loss is piecewise linear to the last bit: the closed form above is the check
        assert tg.gradcheck(g, {Z: z, Y: y}, wrt=[Z]).ok


def test_logsumexp_does_not_overflow():
    x = tg.placeholder((3,))
    assert run(tg.logsumexp(x), {x: np.array([1000.0, 1000.0, -1000.0])}) == pytest.approx(1000 + np.log(2))
    assert run(tg.logsumexp(x), {x: np.full(3, -np.inf)}) == -np.inf


def test_shape_errors_name_the_op():
    x = tg.placeholder((2, 3), name="x")
    with pytest.raises(tg.ShapeError, match="max"):
        tg.max(x, axis=2)
    with pytest.raises(TypeError, match="one axis"):
        tg.argmax(x, axis=(0, 1))


@pytest.mark.parametrize("size", [7, 256, 257, 5000], ids=lambda n: f"{n} elements")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softplus_is_log_1_plus_exp_on_small_and_large_arrays(size, dtype):
    """Small arrays take numpy's logaddexp, large ones a faster form: both match it to a few ulp,
    at the extremes too (no overflow, infinities and NaN as logaddexp gives them)."""
    rng = np.random.default_rng(size)
    x = np.concatenate([rng.normal(scale=30, size=size - 7), [800, -800, 0, 1e-30, np.inf, -np.inf, np.nan]])
    x = x.astype(dtype)
    with np.errstate(invalid="ignore"):  # logaddexp warns of the NaN
        expected = np.logaddexp(np.zeros((), dtype), x)
        got = tg.Graph(tg.softplus(tg.constant(x))).forward()
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, expected, rtol=4 * np.finfo(dtype).eps, atol=0)
    y = (rng.random(x.shape) < 0.5).astype(dtype)
    finite = np.isfinite(x)
    cost = tg.Graph(tg.sigmoid_cross_entropy(tg.constant(x[finite]), tg.constant(y[finite]))).forward()
    reference = np.mean(np.logaddexp(0, x[finite].astype(np.float64)) - y[finite] * x[finite].astype(np.float64))
    np.testing.assert_allclose(cost, reference, rtol=50 * np.finfo(dtype).eps)
