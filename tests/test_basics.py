"""The course's "Python Basics with Numpy" functions: the notebook's own checks, and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from models import basics

floats = st.floats(-30, 30, allow_nan=False, allow_infinity=False)
arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5), elements=floats)


# --- the notebook's published values -------------------------------------------------

def test_basic_sigmoid_is_the_course_value_and_uses_math():
    assert basics.basic_sigmoid(1) == pytest.approx(0.7310585786300049, abs=1e-15)
    with pytest.raises(TypeError):  # math.exp takes numbers only, as the course points out
        basics.basic_sigmoid(np.array([1.0, 2.0, 3.0]))


def test_sigmoid_and_its_derivative_course_values():
    np.testing.assert_allclose(basics.sigmoid(np.array([1, 2, 3])), [0.73105858, 0.88079708, 0.95257413], atol=1e-8)
    np.testing.assert_allclose(
        basics.sigmoid_derivative(np.array([1, 2, 3])), [0.19661193, 0.10499359, 0.04517666], atol=1e-8
    )


def test_image2vector_course_shape_and_order():
    image = np.arange(3 * 3 * 2, dtype=np.float64).reshape(3, 3, 2)
    vector = basics.image2vector(image)
    assert vector.shape == (18, 1)
    np.testing.assert_array_equal(vector[:, 0], image.ravel())  # row-major, the course's reshape
    with pytest.raises(ValueError, match=r"\(length, height, depth\).*\(3, 6\)"):
        basics.image2vector(np.zeros((3, 6)))


def test_normalize_rows_course_value():
    np.testing.assert_allclose(
        basics.normalize_rows(np.array([[0, 3, 4], [1, 6, 4]])),
        [[0.0, 0.6, 0.8], [0.13736056, 0.82416338, 0.54944226]],
        atol=1e-8,
    )


def test_softmax_course_value_and_large_inputs():
    x = np.array([[9, 2, 5, 0, 0], [7, 5, 0, 0, 0]])
    s = basics.softmax(x)
    np.testing.assert_allclose(s[0], [9.80897665e-01, 8.94462891e-04, 1.79657674e-02, 1.21052389e-04, 1.21052389e-04],
                               rtol=1e-7)
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    big = basics.softmax(np.array([[1000.0, 1000.0, -1000.0]]))  # e^1000 overflows; the op shifts by the max
    np.testing.assert_allclose(big, [[0.5, 0.5, 0.0]])


def test_l1_l2_course_values():
    yhat = np.array([0.9, 0.2, 0.1, 0.4, 0.9])
    y = np.array([1, 0, 0, 1, 1])
    assert basics.L1(yhat, y) == pytest.approx(1.1)
    assert basics.L2(yhat, y) == pytest.approx(0.43)


# --- properties -------------------------------------------------------------------------

@given(st.floats(-700, 700))
def test_basic_sigmoid_matches_the_graph_sigmoid(x):
    assert basics.basic_sigmoid(x) == pytest.approx(float(basics.sigmoid(x)), rel=1e-12, abs=1e-300)


@given(arrays)
def test_sigmoid_derivative_from_backward_is_s_times_one_minus_s(x):
    s = 1 / (1 + np.exp(-x))
    d = basics.sigmoid_derivative(x)
    assert d.shape == x.shape
    np.testing.assert_allclose(d, s * (1 - s), rtol=1e-12, atol=1e-300)


@given(hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-8, 8)))
def test_sigmoid_derivative_matches_central_differences(x):
    h = 1e-5
    numeric = (basics.sigmoid(x + h) - basics.sigmoid(x - h)) / (2 * h)
    np.testing.assert_allclose(basics.sigmoid_derivative(x), numeric, rtol=1e-6, atol=1e-10)


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6), elements=floats))
def test_softmax_rows_are_distributions_invariant_to_shifts(x):
    s = basics.softmax(x)
    assert np.all(s >= 0)
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(basics.softmax(x + 7.0), s, rtol=1e-9, atol=1e-15)


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6), elements=st.floats(0.5, 10)))
def test_normalize_rows_gives_unit_rows_in_the_same_direction(x):
    n = basics.normalize_rows(x)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(n * np.linalg.norm(x, axis=1, keepdims=True), x, rtol=1e-12)


@given(hnp.arrays(np.float64, st.integers(1, 8), elements=floats), hnp.arrays(np.float64, 1, elements=floats))
def test_l1_l2_are_the_norms_of_the_difference(yhat, shift):
    y = yhat + shift
    assert basics.L1(yhat, y) == pytest.approx(float(np.linalg.norm(y - yhat, 1)), rel=1e-12, abs=1e-12)
    assert basics.L2(yhat, y) == pytest.approx(float(np.linalg.norm(y - yhat)) ** 2, rel=1e-12, abs=1e-12)
    assert math.isclose(basics.L1(y, y), 0.0) and math.isclose(basics.L2(y, y), 0.0)
