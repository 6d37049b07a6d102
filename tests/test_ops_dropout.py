"""Dropout: the kept fraction, the gradient, seeds, purity, and tg.training."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg


def test_the_kept_fraction_is_keep_prob_within_a_few_standard_errors():
    keep_prob, n = 0.8, 200_000
    x = tg.placeholder((n,), name="x")
    kept = tg.Graph(tg.dropout(x, keep_prob, seed=7)).forward({x: np.ones(n)})
    fraction = np.mean(kept != 0)
    assert abs(fraction - keep_prob) < 4 * np.sqrt(keep_prob * (1 - keep_prob) / n)
    np.testing.assert_allclose(kept[kept != 0], 1 / keep_prob)  # inverted dropout: kept values scaled up


def test_a_seed_draws_the_course_mask_every_run_and_the_gradient_is_mask_over_keep_prob():
    keep_prob, x_value = 0.7, np.random.default_rng(0).standard_normal((3, 5))
    x = tg.placeholder(x_value.shape, name="x")
    y = tg.dropout(x, keep_prob, seed=1)
    g = tg.Graph([y] + tg.grad(tg.sum(y), [x]))
    mask = np.random.RandomState(1).rand(3, 5) < keep_prob
    for _ in range(2):  # the same mask on every run
        value, dx = g.forward({x: x_value})
        np.testing.assert_allclose(value, x_value * mask / keep_prob)
        np.testing.assert_allclose(dx, mask / keep_prob)


def test_without_a_seed_each_run_draws_a_new_mask_and_backward_reuses_the_forwards():
    x = tg.placeholder((50,), name="x")
    y = tg.dropout(x, 0.5)
    g = tg.Graph([y] + tg.grad(tg.sum(y), [x]))
    first, dx = g.forward({x: np.ones(50)})
    np.testing.assert_array_equal(dx, first)  # gradient of sum(x * mask) is the mask of this very run
    second, _ = g.forward({x: np.ones(50)})
    assert not np.array_equal(first, second)


def test_outside_training_dropout_is_the_identity_and_the_mode_nests():
    x = tg.placeholder((4, 6), name="x")
    value = np.random.default_rng(1).standard_normal((4, 6))
    g = tg.Graph(tg.dropout(x, 0.5, seed=0))
    assert tg.is_training()
    with tg.training(False):
        np.testing.assert_array_equal(g.forward({x: value}), value)
        with tg.training(True):
            assert not np.array_equal(g.forward({x: value}), value)
        assert not tg.is_training()
    assert tg.is_training()


def test_random_masks_are_never_folded_or_merged():
    c = tg.constant(np.ones(1000))
    a, b = tg.dropout(c, 0.5), tg.dropout(c, 0.5)
    g = tg.Graph(a - b)  # rewrites on: two masks of one constant stay two draws
    assert np.any(g.forward() != 0)


def test_keep_prob_is_checked():
    with pytest.raises(ValueError, match="keep_prob"):
        tg.dropout(tg.placeholder((2,)), 1.5)


def test_gradcheck_through_a_seeded_dropout_passes():
    x = tg.placeholder((3, 4), name="x")
    g = tg.Graph(tg.sum(tg.square(tg.dropout(x, 0.6, seed=2))))
    assert tg.gradcheck(g, {x: np.random.default_rng(2).standard_normal((3, 4))}, wrt=[x]).ok
