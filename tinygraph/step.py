"""A training step's forward and gradients as one program per feed signature (:meth:`Graph.gradient_step`).

The first run with feeds of a new signature (their keys, and each array's type,
dtype and shape) is the plain one, ``forward`` then ``backward``, so it checks
the feeds and raises exactly what they raise. Its feeds being valid, a
:class:`~tinygraph.run.Program` is then made for that signature: forward and
gradients in one piece of straight-line code, every size known (so a gradient
that needs no summing skips its ``sum_to``), each gradient written into its
array (an optimizer's buffer). Such a program checks that the feeds it is given
are of its signature before it runs, a few comparisons; feeds of any other go
the plain way again. An optimizer's ``minimize`` is built on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import anomaly
from .node import Node, Placeholder, topological_order
from .run import Program, Slots
from .shapes import format_shape


class GradientStep:
    """See :meth:`Graph.gradient_step`: the plain path for new feeds, then one program per feed signature.

    ``graph`` is the :class:`~tinygraph.Graph`; ``slots`` its value slots, ``single`` whether its
    forward returns one value (not a tuple), and ``ran(program)`` tells it which program ran last.

    Each program checks that the feeds are of its signature before running (it returns ``None``
    when they are not), so a run tries the programs made so far, the last one used first.
    """

    max_signatures = 16  # beyond this many, new signatures keep the plain path (each program costs ms to make)

    def __init__(self, graph: Any, into: Mapping[Any, np.ndarray], output: Any, *, slots: Slots, single: bool,
                 ran: Callable[[Program], None]):
        self.graph, self.output = graph, output
        self._slots, self._ran = slots, ran
        self.wrt = tuple(into)
        self.arrays = tuple(into.values())
        self.output_node = graph.node(output if output is not None else graph.outputs[0])
        for key, array in into.items():
            node = graph.node(key)  # KeyError naming it when it is not part of the graph
            if np.shape(array) != node.shape or np.result_type(array) != node.dtype:
                raise ValueError(f"gradient_step: the array for {node.name!r} has shape {format_shape(np.shape(array))}"
                                 f", {np.result_type(array)}; the node has {format_shape(node.shape)}, {node.dtype}")
        shape = self.output_node.shape
        self._compilable = shape is not None and None not in shape and int(np.prod(shape)) == 1  # a constant seed
        self._programs: list[Program] = []  # the last one used first
        self._gradient_nodes: list[Node] | None = None
        self._values = slots.values  # the graph's value slots (one list for its life)
        self._single, self._outputs = single, len(graph.run_outputs)  # forward returns one value, or a tuple

    def __call__(self, feeds: Mapping[Any, Any] | None = None) -> Any:
        if feeds is not None and not anomaly.enabled:
            for program in self._programs:
                results = program(self._values, feeds)
                if results is not None:
                    if program is not self._programs[0]:
                        self._programs.remove(program)
                        self._programs.insert(0, program)
                    self._ran(program)  # value() and backward() read this run's values
                    return results[0] if self._single else results[:self._outputs]
        return self._plain(feeds)

    def _plain(self, feeds: Mapping[Any, Any] | None) -> Any:
        """forward then backward, the gradients copied into the arrays; then, if these feeds can have a program
        (placeholders only, each already an array of its dtype), make it for the next run with their signature."""
        graph = self.graph
        value = graph.forward(feeds)
        grads = graph.backward(self.wrt, output=self.output)
        for key, array in zip(self.wrt, self.arrays, strict=True):
            np.copyto(array, grads[graph.node(key) if isinstance(key, str) else key])
        if feeds and self._compilable and len(self._programs) < self.max_signatures and not anomaly.enabled:
            nodes = [graph.node(key) for key in feeds]
            values, index = self._values, self._slots.index
            arrays = feeds.values()
            if all(n.__class__ is Placeholder and values[index[n]] is a for n, a in zip(nodes, arrays, strict=True)):
                self._programs.insert(0, self._program([(key, node, values[index[node]].shape)
                                                        for key, node in zip(feeds, nodes, strict=True)]))
        return value

    def _program(self, feeds: list[tuple[Any, Node, tuple[int, ...]]]) -> Program:
        graph = self.graph
        if self._gradient_nodes is None:  # those backward just ran: their slots then hold this program's results
            self._gradient_nodes = graph.gradients(self.wrt, output=self.output)
        outputs = [*graph.run_outputs, *self._gradient_nodes]  # what forward returns, then the gradients
        shapes = {node: shape for _, node, shape in feeds}
        for node in topological_order(outputs, known=shapes):  # every size, now that the feeds' are known
            if node.op is None:
                shapes[node] = node.shape
            else:
                try:
                    inferred = node.op.infer_shape(*(shapes[i] for i in node.inputs))
                except (ValueError, KeyError):
                    inferred = None
                if inferred is not None and None not in inferred:
                    shapes[node] = inferred
        into = list(zip(self._gradient_nodes, self.arrays, strict=True))
        return Program(self._slots, outputs, feeds=feeds, into=into, shapes=shapes)
