"""Indexing, padding, joining and broadcasting against numpy, with their gradients."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import check_op

RNG = np.random.default_rng(12)
X = RNG.standard_normal((4, 5, 3))

KEYS = [
    1, -1, (slice(None), 2), (slice(None, None, -1),), (slice(3, 0, -2), slice(1, None, 2)), (None, Ellipsis, 0),
    (Ellipsis, None), (np.array([0, 2, 2, 3]),), (slice(None), np.array([[4, 0], [0, 0]])),
    (np.array([1, 1]), slice(None), np.array([2, 0])), (X[:, :, 0] > 0,), [3, 0, 3],
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_indexing_matches_numpy_and_repeated_indices_add_their_gradients(key):
    x = tg.placeholder(X.shape, name="x")
    y = x[key]
    value = tg.Graph(y).forward({x: X})
    np.testing.assert_array_equal(value, X[key])
    assert y.shape == X[key].shape
    upstream = RNG.standard_normal(np.shape(X[key]))
    (dx,) = tg.Graph(tg.grad(y, [x], grad_output=upstream)).forward({x: X})
    expected = np.zeros_like(X)
    np.add.at(expected, key if not isinstance(key, list) else np.array(key), upstream)
    np.testing.assert_allclose(dx, expected)


def test_a_repeated_index_gets_the_sum_and_second_order_goes_through_gather():
    x = tg.placeholder((3,), name="x")
    y = tg.sum(tg.square(x[np.array([0, 0, 2, 0])]))
    (dx,) = tg.grad(y, [x])
    value = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(tg.Graph(dx).forward({x: value}), [6 * 1.0, 0, 2 * 3.0])
    hessian_row = tg.Graph(tg.grad(dx[0], [x])).forward({x: value})[0]
    np.testing.assert_allclose(hessian_row, [6, 0, 0])


def test_unknown_sizes_stay_unknown_where_the_index_depends_on_them():
    x = tg.placeholder((None, 4), name="x")
    assert x[1:].shape == (None, 4)
    assert x[:2, ::2].shape == (2, 2)
    assert x[:, np.array([0, 0, 1])].shape == (None, 3)
    assert x[0].shape == (4,)


def test_bad_indices_are_clear_errors():
    x = tg.placeholder((2, 3), name="x")
    with pytest.raises(tg.ShapeError, match="index"):
        x[5]
    with pytest.raises(TypeError, match="not with a node"):
        x[x]
    with pytest.raises(TypeError, match="integers"):
        x[np.array([0.5])]


@pytest.mark.parametrize("widths", [1, (0, 2), ((1, 0), (0, 0), (2, 1))])
def test_pad_matches_numpy(widths):
    x = tg.placeholder(X.shape)
    node = tg.pad(x, widths)
    np.testing.assert_array_equal(tg.Graph(node).forward({x: X}), np.pad(X, widths))
    assert node.shape == np.pad(X, widths).shape
    check_op(tg.OPS["pad"](widths), X[:2, :3, :2], order=2)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_and_stack_match_numpy_and_split_the_gradient(axis):
    a, b = RNG.standard_normal((2, 3, 2)), RNG.standard_normal((2, 3, 2))
    A, B = tg.placeholder(a.shape), tg.placeholder((None,) + b.shape[1:])  # an unknown size joins too
    joined = tg.concat([A, B, A], axis=axis)
    np.testing.assert_array_equal(tg.Graph(joined).forward({A: a, B: b}), np.concatenate([a, b, a], axis=axis))
    stacked = tg.stack([A, B], axis=axis)
    np.testing.assert_array_equal(tg.Graph(stacked).forward({A: a, B: b}), np.stack([a, b], axis=axis))
    check_op(tg.OPS["concat"](axis, 3), a, b, a, order=2)
    check_op(tg.OPS["stack"](axis, 2), a, b, order=2)


def test_broadcast_to_sums_its_gradient_back():
    x = tg.placeholder((3, 1))
    value = RNG.standard_normal((3, 1))
    node = tg.broadcast_to(x, (2, 3, 4))
    np.testing.assert_array_equal(tg.Graph(node).forward({x: value}), np.broadcast_to(value, (2, 3, 4)))
    (dx,) = tg.Graph(tg.grad(tg.sum(node), [x])).forward({x: value})
    np.testing.assert_array_equal(dx, np.full((3, 1), 8.0))
    with pytest.raises(tg.ShapeError, match="broadcast"):
        tg.broadcast_to(x, (2, 4))


def test_expand_dims_and_squeeze_are_exported():
    x = tg.placeholder((3,))
    assert tg.squeeze(tg.expand_dims(x, (0, 2))).shape == (3,)
    assert tg.expand_dims(x, -1).shape == (3, 1)
