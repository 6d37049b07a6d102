"""conv2d and the pools against direct loop references, and their gradients by finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import check_op

RNG = np.random.default_rng(13)


def conv_reference(x, w, stride, padding):
    """The course's conv_forward: one window at a time."""
    m, H, W, _ = x.shape
    f, _, _, n_c = w.shape
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    Ho, Wo = (H + 2 * padding - f) // stride + 1, (W + 2 * padding - f) // stride + 1
    out = np.zeros((m, Ho, Wo, n_c))
    for i in range(m):
        for h in range(Ho):
            for v in range(Wo):
                window = xp[i, h * stride:h * stride + f, v * stride:v * stride + f, :]
                for c in range(n_c):
                    out[i, h, v, c] = np.sum(window * w[..., c])
    return out


def pool_reference(x, size, stride, reduce):
    m, H, W, C = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((m, Ho, Wo, C))
    for h in range(Ho):
        for v in range(Wo):
            out[:, h, v, :] = reduce(x[:, h * stride:h * stride + size, v * stride:v * stride + size, :], axis=(1, 2))
    return out


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("f", [1, 2, 3])
def test_conv2d_matches_the_loop_reference_and_finite_differences(stride, padding, f):
    x, w = RNG.standard_normal((2, 5, 6, 3)), RNG.standard_normal((f, f, 3, 4))
    X, Wn = tg.placeholder((None, 5, 6, 3), name="x"), tg.placeholder(w.shape, name="w")
    y = tg.conv2d(X, Wn, stride=stride, padding=padding)
    expected = conv_reference(x, w, stride, padding)
    np.testing.assert_allclose(tg.Graph(y).forward({X: x, Wn: w}), expected, atol=1e-12)
    assert y.shape == (None,) + expected.shape[1:]
    check_op(tg.OPS["conv2d"](stride, padding), x, w)


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
def test_conv2d_has_second_derivatives(stride, padding):
    x, w = RNG.standard_normal((1, 4, 4, 2)), RNG.standard_normal((3, 3, 2, 2))
    check_op(tg.OPS["conv2d"](stride, padding), x, w, order=2)


@pytest.mark.parametrize("name, reduce", [("max_pool2d", np.max), ("avg_pool2d", np.mean)])
@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (2, 1), (3, 3)])
def test_pools_match_the_loop_reference_and_finite_differences(name, reduce, size, stride):
    x = RNG.permutation(2 * 7 * 6 * 3).reshape(2, 7, 6, 3) / 50.0  # distinct values: no ties in a window
    X = tg.placeholder(x.shape, name="x")
    y = getattr(tg, name)(X, size, stride)
    expected = pool_reference(x, size, stride, reduce)
    np.testing.assert_allclose(tg.Graph(y).forward({X: x}), expected, atol=1e-12)
    assert y.shape == expected.shape
    check_op(tg.OPS[name](size, stride), x)


def test_max_pool_sends_the_gradient_to_the_maximum_and_shares_it_at_ties():
    x = np.array([[1.0, 4.0], [2.0, 3.0]]).reshape(1, 2, 2, 1)
    X = tg.placeholder(x.shape)
    (dx,) = tg.Graph(tg.grad(tg.sum(tg.max_pool2d(X, 2)), [X])).forward({X: x})
    np.testing.assert_array_equal(dx.ravel(), [0, 1, 0, 0])
    (dx,) = tg.Graph(tg.grad(tg.sum(tg.max_pool2d(X, 2)), [X])).forward({X: np.zeros((1, 2, 2, 1))})
    np.testing.assert_array_equal(dx.ravel(), [0.25] * 4)  # an all-zero window (after a relu, say)


def test_conv_shape_errors_name_the_op():
    x = tg.placeholder((None, 5, 5, 3), name="x")
    with pytest.raises(tg.ShapeError, match="channels"):
        tg.conv2d(x, tg.placeholder((3, 3, 2, 4)))
    with pytest.raises(tg.ShapeError, match="does not fit"):
        tg.conv2d(x, tg.placeholder((7, 7, 3, 4)))
    with pytest.raises(ValueError, match="stride must be"):
        tg.conv2d(x, tg.placeholder((3, 3, 3, 4)), stride=0)
    with pytest.raises(tg.ShapeError, match=r"\(m, H, W, C\)"):
        tg.max_pool2d(tg.placeholder((5, 5)), 2)
