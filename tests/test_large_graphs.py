"""A graph of 100,000 nodes: built without recursion, run in the interpreter loop.

Apart from test_engine.py, whose tests each run twice (compiled and interpreted):
a graph this size is always interpreted, since compiling it would cost more than it saves.
"""

import numpy as np
import pytest

import tinygraph as tg


def test_hundred_thousand_node_chain():
    a = tg.parameter(np.array([1.5, -0.5]), name="a")
    y = a
    for _ in range(100_000):
        y = -y
    g = tg.Graph(tg.sum(y * 3.0))
    assert len(g.nodes) > 100_000
    assert g.forward() == pytest.approx(3.0 * a.value.sum())
    np.testing.assert_array_equal(g.backward()[a], [3.0, 3.0])
