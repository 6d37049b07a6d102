"""Second derivatives of every differentiable registered op, kinked ones included (away from
their kinks), on each op's examples and on hypothesis-drawn inputs.

tests/test_gradients_as_graph.py checks the ops without kinks; here relu, abs, clip,
leaky_relu, where, max and the pools join them, since their gradient rules must be
differentiable too (the second derivative is 0 or a mask between kinks).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph.testing import check_op, op_inputs

DIFFERENTIABLE = sorted(name for name, cls in tg.OPS.items() if cls.differentiable)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_second_derivatives_of_the_examples(name):
    for op in tg.OPS[name].examples():
        assert check_op(op, order=2).ok


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@given(data=st.data())
def test_second_derivatives_on_drawn_inputs(name, data):
    op = data.draw(st.sampled_from(tg.OPS[name].examples()), label="op")
    inputs = data.draw(op_inputs(op), label="inputs")
    assert check_op(op, *inputs, order=2).ok
