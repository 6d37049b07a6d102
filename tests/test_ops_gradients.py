"""Every registered op's backward agrees with central differences of its forward.

The op list comes from the registry (``tg.OPS``), so an op registered without
a domain, a backward or test instances fails here the moment it is added.
Shapes are random (broadcasting, 1-D and batched matmul included); values stay
inside each op's declared smooth domain and away from its kinks.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph.testing import KINK_MARGIN, check_op, domain_of, op_inputs, op_problems, upstream_gradients

OP_NAMES = sorted(tg.OPS)


@pytest.mark.parametrize("name", OP_NAMES)
def test_op_declares_what_its_tests_need(name):
    assert op_problems(tg.OPS[name]) == []


@pytest.mark.parametrize("name", OP_NAMES)
@given(data=st.data())
def test_op_backward_matches_central_differences(name, data):
    op = data.draw(st.sampled_from(tg.OPS[name].examples()), label="op")
    inputs = data.draw(op_inputs(op), label="inputs")
    for i, x in enumerate(inputs):  # the strategy kept its promises
        low, high = domain_of(op, i)
        assert np.all((x >= low) & (x <= high))
        assert all(np.all(np.abs(x - kink) >= KINK_MARGIN) for kink in op.kinks)
    grad_output = data.draw(upstream_gradients(np.shape(op.forward(*inputs))), label="grad_output")
    report = check_op(op, *inputs, grad_output=grad_output)
    assert not report.kinks
    assert report.elements == sum(x.size for x in inputs)


@pytest.mark.parametrize("name", OP_NAMES)
def test_op_check_without_hypothesis(name):
    """check_op with no inputs draws them from the op's domain and signature."""
    for op in tg.OPS[name].examples():
        assert check_op(op).ok


def test_binary_ops_are_checked_with_broadcasting():
    """The broadcast matrix: every pair of (), (n,), (m, n), (1, n) for every binary op."""
    shapes = [(), (3,), (2, 3), (1, 3)]
    rng = np.random.default_rng(0)
    for name, cls in tg.OPS.items():
        op = cls.examples()[0]
        if op.arity != 2 or op.signature is not None:
            continue
        for a in shapes:
            for b in shapes:
                inputs = [rng.uniform(*domain_of(op, i), size=s) for i, s in enumerate((a, b))]
                assert check_op(op, *inputs).ok, (name, a, b)
