"""tinygraph.init: the course's seeded initialisations, bit for bit, and clear errors.

The expected arrays are the course's published test outputs (public_tests.py of
Course 1 Week 4 and Course 2 Week 1, printed to 8 decimals); the rest compares
with the course's own formulas, written here as the notebooks write them.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygraph import init


def course_loop(layer_dims, seed, scale):
    """The notebooks' initialise_parameters_*: ``np.random.seed(seed)``, then one draw per layer."""
    np.random.seed(seed)
    return [scale(np.random.randn(n_out, n_in), n_in)
            for n_in, n_out in zip(layer_dims[:-1], layer_dims[1:], strict=True)]


def layer_by_layer(layer_dims, initializer, rng):
    rng = init.as_rng(rng)
    return [initializer((n_out, n_in), rng=rng) for n_in, n_out in zip(layer_dims[:-1], layer_dims[1:], strict=True)]


def test_normal_reproduces_initialize_parameters_deep():
    """C1 W4 initialize_parameters_deep([5, 4, 3]): np.random.seed(3), randn * 0.01 per layer."""
    W1, W2 = layer_by_layer([5, 4, 3], init.normal, 3)
    expected_W1 = [[0.01788628, 0.0043651, 0.00096497, -0.01863493, -0.00277388],
                   [-0.00354759, -0.00082741, -0.00627001, -0.00043818, -0.00477218],
                   [-0.01313865, 0.00884622, 0.00881318, 0.01709573, 0.00050034],
                   [-0.00404677, -0.0054536, -0.01546477, 0.00982367, -0.01101068]]
    expected_W2 = [[-0.01185047, -0.0020565, 0.01486148, 0.00236716],
                   [-0.01023785, -0.00712993, 0.00625245, -0.00160513],
                   [-0.00768836, -0.00230031, 0.00745056, 0.01976111]]
    np.testing.assert_allclose(W1, expected_W1, rtol=0, atol=1e-8)
    np.testing.assert_allclose(W2, expected_W2, rtol=0, atol=1e-8)


def test_normal_reproduces_the_two_layer_initialize_parameters():
    """C1 W4 initialize_parameters(3, 2, 1): np.random.seed(1), randn * 0.01."""
    W1, W2 = layer_by_layer([3, 2, 1], init.normal, 1)
    np.testing.assert_allclose(W1, [[0.01624345, -0.00611756, -0.00528172],
                                    [-0.01072969, 0.00865408, -0.02301539]], rtol=0, atol=1e-8)
    np.testing.assert_allclose(W2, [[0.01744812, -0.00761207]], rtol=0, atol=1e-8)


def test_he_reproduces_initialize_parameters_he():
    """C2 W1 initialize_parameters_he([3, 1, 2]) with np.random.seed(3)."""
    W1, W2 = layer_by_layer([3, 1, 2], init.he, 3)
    np.testing.assert_allclose(W1, [[1.46040903, 0.3564088, 0.07878985]], rtol=0, atol=1e-8)
    np.testing.assert_allclose(W2, [[-2.63537665], [-0.39228616]], rtol=0, atol=1e-8)


def test_large_normal_reproduces_initialize_parameters_random():
    """C2 W1 initialize_parameters_random([3, 2, 1]): randn * 10 with np.random.seed(3)."""
    W1, W2 = layer_by_layer([3, 2, 1], lambda shape, rng: init.normal(shape, 10, rng), 3)
    np.testing.assert_allclose(W1, [[17.88628473, 4.36509851, 0.96497468],
                                    [-18.63492703, -2.77388203, -3.54758979]], rtol=0, atol=1e-7)
    np.testing.assert_allclose(W2, [[-0.82741481, -6.27000677]], rtol=0, atol=1e-7)


@pytest.mark.parametrize(("initializer", "scale"), [
    (init.normal, lambda draws, n_in: draws * 0.01),                     # initialize_parameters_deep
    (init.xavier, lambda draws, n_in: draws / np.sqrt(n_in)),            # the Week 4 application's variant
    (init.he, lambda draws, n_in: draws * np.sqrt(2. / n_in)),           # initialize_parameters_he
], ids=["normal", "xavier", "he"])
def test_bit_for_bit_with_the_course_formulas_on_the_cat_network(initializer, scale):
    dims = [12288, 20, 7, 5, 1]
    expected = course_loop(dims, 1, scale)
    for got, want in zip(layer_by_layer(dims, initializer, 1), expected, strict=True):
        np.testing.assert_array_equal(got, want)


@given(n_out=st.integers(1, 6), n_in=st.integers(1, 6), seed=st.integers(0, 2**32 - 1),
       name=st.sampled_from(["normal", "xavier", "he"]))
def test_a_random_state_draws_randn_times_the_scale(n_out, n_in, seed, name):
    scale = {"normal": 0.01, "xavier": 1 / np.sqrt(n_in), "he": np.sqrt(2 / n_in)}[name]
    got = init.get(name)((n_out, n_in), rng=np.random.RandomState(seed))
    np.testing.assert_allclose(got, np.random.RandomState(seed).randn(n_out, n_in) * scale, rtol=1e-15, atol=0)


def test_none_draws_from_the_global_state_as_the_notebooks_do():
    np.random.seed(3)
    got = init.he((4, 2))
    np.random.seed(3)
    np.testing.assert_array_equal(got, np.random.randn(4, 2) * np.sqrt(2 / 2))


def test_a_seed_leaves_the_global_state_alone():
    np.random.seed(7)
    expected_next = np.random.RandomState(7).randn(3)
    init.normal((5, 5), rng=3)
    np.testing.assert_array_equal(np.random.randn(3), expected_next)


def test_a_generator_draws_standard_normal():
    got = init.he((3, 2), rng=np.random.default_rng(5))
    np.testing.assert_array_equal(got, np.random.default_rng(5).standard_normal((3, 2)) * np.sqrt(2 / 2))


def test_zeros_and_fan_in():
    assert np.array_equal(init.zeros((3, 1), rng=1), np.zeros((3, 1)))
    assert init.fan_in((7, 5)) == 5
    assert init.fan_in((3, 3, 4, 8)) == 36  # a (f, f, C_in, C_out) kernel
    assert init.he((3, 3, 4, 8), rng=0).std() == pytest.approx(np.sqrt(2 / 36), rel=0.2)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="rng must be a seed"):
        init.normal((2, 2), rng="three")
    with pytest.raises(TypeError, match="rng must be a seed"):
        init.normal((2, 2), rng=True)
    with pytest.raises(ValueError, match="unknown initialiser 'glorot'.*'zeros', 'normal', 'xavier', 'he'"):
        init.get("glorot")
    with pytest.raises(ValueError, match=r"fan-in of shape \(2, 3, 4\)"):
        init.xavier((2, 3, 4))
    with pytest.raises(ValueError, match="non-negative"):
        init.zeros((2, -1))
    with pytest.raises(TypeError, match="shape of ints"):
        init.zeros((2, 1.5))
