"""tinygraph.data.minibatches: the course's random_mini_batches, batch for batch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygraph import data


def course_random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """Course 2 Week 2's random_mini_batches, as the notebook writes it."""
    np.random.seed(seed)
    m = X.shape[1]
    mini_batches = []
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation].reshape((1, m))
    num_complete_minibatches = math.floor(m / mini_batch_size)
    for k in range(0, num_complete_minibatches):
        mini_batches.append((shuffled_X[:, k * mini_batch_size:(k + 1) * mini_batch_size],
                             shuffled_Y[:, k * mini_batch_size:(k + 1) * mini_batch_size]))
    if m % mini_batch_size != 0:
        mini_batches.append((shuffled_X[:, num_complete_minibatches * mini_batch_size:],
                             shuffled_Y[:, num_complete_minibatches * mini_batch_size:]))
    return mini_batches


def test_reproduces_the_published_test_case():
    """public_tests.random_mini_batches_test: X randn(5, 7), Y randn(1, 7) < 0.5 from seed 1, batches of 2."""
    np.random.seed(1)
    X = np.random.randn(5, 7)
    Y = np.random.randn(1, 7) < 0.5
    batches = data.minibatches(X, Y, 2)
    expected_X = [
        [[1.74481176, -0.52817175], [-0.38405435, -0.24937038], [-1.10061918, -0.17242821],
         [-0.93576943, 0.50249434], [-0.67124613, -0.69166075]],
        [[-0.61175641, -1.07296862], [0.3190391, 1.46210794], [-1.09989127, -0.87785842],
         [0.90159072, 0.90085595], [0.53035547, -0.39675353]],
        [[1.62434536, -2.3015387], [-0.7612069, -0.3224172], [1.13376944, 0.58281521],
         [1.14472371, -0.12289023], [-0.26788808, -0.84520564]],
        [[0.86540763], [-2.06014071], [0.04221375], [-0.68372786], [-0.6871727]],
    ]
    expected_Y = [[[True, True]], [[True, False]], [[True, True]], [[False]]]
    assert len(batches) == 4
    for (X_batch, Y_batch), want_X, want_Y in zip(batches, expected_X, expected_Y, strict=True):
        np.testing.assert_allclose(X_batch, want_X, rtol=0, atol=1e-8)
        assert Y_batch.dtype == bool and Y_batch.tolist() == want_Y


def test_reproduces_the_notebooks_printed_sanity_check():
    """The notebook: X randn(12288, 148) from seed 1, batches of 64 -> 64, 64, 20 and a first row it prints."""
    np.random.seed(1)
    X = np.random.randn(12288, 148)
    Y = np.random.randn(1, 148) < 0.5
    batches = data.minibatches(X, Y, 64)
    assert [b[0].shape for b in batches] == [(12288, 64), (12288, 64), (12288, 20)]
    assert [b[1].shape for b in batches] == [(1, 64), (1, 64), (1, 20)]
    np.testing.assert_allclose(batches[0][0][0][0:3], [0.90085595, -0.7612069, 0.2344157], rtol=0, atol=1e-8)


@given(m=st.integers(0, 130), batch_size=st.integers(1, 70), seed=st.integers(0, 2**32 - 1))
def test_same_batches_as_the_course_function(m, batch_size, seed):
    rng = np.random.default_rng(m)
    X, Y = rng.standard_normal((3, m)), rng.standard_normal((1, m))
    ours = data.minibatches(X, Y, batch_size, seed)
    theirs = course_random_mini_batches(X, Y, batch_size, seed)
    assert len(ours) == len(theirs) == math.ceil(m / batch_size)
    for (X_ours, Y_ours), (X_theirs, Y_theirs) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(X_ours, X_theirs)
        np.testing.assert_array_equal(Y_ours, Y_theirs)


def test_keeps_dtypes_and_several_label_rows_and_the_global_state():
    X = np.arange(20, dtype=np.float32).reshape(2, 10)
    Y = np.arange(30, dtype=np.float32).reshape(3, 10)
    np.random.seed(5)
    expected_next = np.random.RandomState(5).rand()
    batches = data.minibatches(X, Y, 4, seed=1)
    assert np.random.rand() == expected_next  # numpy's global random state was not reseeded
    assert [b[0].shape for b in batches] == [(2, 4), (2, 4), (2, 2)]
    assert all(b[0].dtype == np.float32 and b[1].dtype == np.float32 for b in batches)
    for X_batch, Y_batch in batches:  # each label column still belongs to its example
        columns = X_batch[0].astype(int)  # row 0 of X numbers the examples
        np.testing.assert_array_equal(Y_batch, Y[:, columns])
    assert all(b[0].flags.c_contiguous for b in batches)


def test_bad_input_is_named():
    X, Y = np.zeros((2, 5)), np.zeros((1, 5))
    with pytest.raises(ValueError, match=r"X has 5 examples \(columns\) but Y has 4"):
        data.minibatches(X, np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"Y must be 2-D with examples as columns, got shape \(5,\)"):
        data.minibatches(X, np.zeros(5))
    for size in (0, -3, 1.5, "64"):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            data.minibatches(X, Y, size)
