"""tinygraph.testing: the strategies keep their promises and check_op catches wrong ops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph.testing import (
    KINK_MARGIN,
    arrays_in,
    broadcastable_shapes,
    check_op,
    domain_of,
    example_inputs,
    floats_in,
    input_shapes,
    matmul_shapes,
    op_inputs,
    op_problems,
)


class Square(tg.Op):
    arity = 1
    domain = (-3.0, 3.0)

    def infer_shape(self, shape):
        return shape

    def forward(self, x):
        return x * x

    def backward(self, grad_output, x, *, output):
        return (2 * x * grad_output,)


class SquareTwice(Square):
    def backward(self, grad_output, x, *, output):
        return (4 * x * grad_output,)  # x2: a gradient counted twice


class Scaled(Square):
    """An op whose constructor needs an argument, with the examples() that says which."""

    def __init__(self, factor):
        self.factor = factor

    @classmethod
    def examples(cls):
        return (cls(2.0), cls(-0.5))

    def forward(self, x):
        return self.factor * x

    def backward(self, grad_output, x, *, output):
        return (self.factor * grad_output,)


def test_check_op_passes_a_correct_op_of_your_own():
    report = check_op(Square())
    assert report.ok and report.elements == 12  # example inputs of shape (3, 4)
    assert check_op(Square(), np.array([[0.5, -1.5]])).ok


def test_check_op_catches_a_wrong_op_and_says_why():
    with pytest.raises(AssertionError, match="2 x numeric") as caught:
        check_op(SquareTwice())
    assert "squaretwice" in str(caught.value)
    report = check_op(SquareTwice(), raise_on_failure=False)
    assert not report.ok and report.suspects and report.suspects[0].op == "squaretwice"


def test_check_op_catches_a_wrong_static_shape():
    class Flat(Square):
        def infer_shape(self, shape):
            return (None,)  # claims one axis

    with pytest.raises(tg.OpError, match=r"flat.*returned shape \(2, 2\).*says \(\?,\).*infer_shape"):
        check_op(Flat(), np.ones((2, 2)))  # the engine checks a user's op on every run


def test_op_problems_names_what_is_missing():
    class NoDomain(tg.Op):
        def forward(self, x):
            return x

        def backward(self, grad_output, x, *, output):
            return (grad_output,)

    class NoBackward(tg.Op):
        domain = (-1.0, 1.0)

        def forward(self, x):
            return x

    class NeedsArguments(Square):
        def __init__(self, factor):
            self.factor = factor

    assert any("domain" in p for p in op_problems(NoDomain))
    assert any("backward" in p for p in op_problems(NoBackward))
    assert any("examples()" in p for p in op_problems(NeedsArguments))
    assert op_problems(Square) == [] and op_problems(Scaled) == []


def test_per_input_domains():
    div = tg.OPS["div"]()
    assert domain_of(div, 0) == (-2.0, 2.0) and domain_of(div, 1) == (0.5, 2.0)
    low, high = domain_of(div, 1)
    _, b = example_inputs(div)
    assert np.all((b >= low) & (b <= high))


@given(floats_in(-1.0, 1.0, kinks=(0.0,)))
def test_floats_stay_away_from_kinks(x):
    assert -1.0 - KINK_MARGIN <= x <= 1.0 + KINK_MARGIN and abs(x) >= KINK_MARGIN


@given(arrays_in((3, 4), tg.OPS["relu"].domain, tg.OPS["relu"].kinks))
def test_arrays_stay_in_domain_and_away_from_kinks(x):
    assert x.shape == (3, 4) and x.dtype == np.float64
    assert np.all(np.abs(x) >= KINK_MARGIN) and np.all(np.abs(x) <= 2.0)


@given(broadcastable_shapes())
def test_broadcastable_shapes_broadcast(shapes):
    np.broadcast_shapes(*shapes)


@given(matmul_shapes())
def test_matmul_shapes_multiply(shapes):
    a, b = (np.ones(s) for s in shapes)
    assert (a @ b).shape == tg.matmul(tg.constant(a), tg.constant(b)).shape


@given(st.data())
def test_input_shapes_follow_the_signature(data):
    op = data.draw(st.sampled_from(tg.OPS["transpose"].examples() + tg.OPS["sum"].examples()))
    (shape,) = data.draw(input_shapes(op))
    op.infer_shape(shape)  # accepted
    if getattr(op, "axes", None) is not None:
        assert len(shape) == len(op.axes)


@given(st.data())
def test_a_users_op_with_arguments_is_property_tested(data):
    op = data.draw(st.sampled_from(Scaled.examples()))
    (x,) = data.draw(op_inputs(op))
    assert check_op(op, x).ok
