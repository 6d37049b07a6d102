"""The ``Op`` base class: what an operation computes, and how its gradient flows back.

An op has a numpy ``forward`` and a gradient rule. Built-in ops write the rule
with tinygraph ops, in :meth:`Op.gradient`, so the gradient is more graph and
can be differentiated again::

    class Sigmoid(Op):
        def forward(self, x):
            return 1 / (1 + np.exp(-x))

        def gradient(self, grad, x, *, output):     # nodes in, nodes out
            return (grad * output * (1 - output),)

A user's op may instead define the numpy-level ``backward(grad_output,
*inputs, output)`` of the contract. Its gradient then runs as one node per
input (:class:`NumpyBackward`), checked for count, shape and dtype there;
such a gradient can be taken once, and differentiating it again raises a
:class:`~tinygraph.GradientError` saying how to give the op a graph-level rule.

Ops hold no per-call state: everything a run needs arrives as inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .errors import GradientError, ShapeError
from .node import Node, as_nodes, user_frame, where
from .shapes import StaticShape, format_shape, unbroadcast


class Op:
    """Base class of every operation: subclass it to add an op in a few lines.

    Override :meth:`forward` and either :meth:`gradient` (graph-level, differentiable
    again) or :meth:`backward` (numpy-level, differentiable once); optionally
    :meth:`infer_shape`. Calling an instance on nodes (or arrays and numbers)
    returns a new node::

        class Square(tg.Op):
            def forward(self, x):
                return x * x
            def backward(self, grad_output, x, *, output):
                return (2 * x * grad_output,)

        y = Square()(x)

    Class attributes a subclass may declare:
        name: registry name (defaults to the lower-cased class name).
        arity: number of inputs (``None`` for any).
        domain: ``(low, high)`` where the op is smooth, or one such pair per input.
            Gradient checks and property tests draw inputs from it.
        kinks: input values where the op is not differentiable (relu: 0).
        signature: the input shapes the op needs, in numpy's gufunc notation
            (matmul: ``"(n?,k),(k,m?)->(n?,m?)"``); ``None``: any shapes that
            broadcast together. Tests draw input shapes from it.
        pure: ``True`` when forward depends on its inputs alone (no randomness,
            no state), so graph rewrites may fold and merge it. Set ``False``
            for an op like dropout.
        differentiable: ``False`` for an op with no gradient at all (comparisons):
            its rule gives ``None`` for every input.
        distinct_inputs: ``True`` for an op whose ties are kinks (``max``, ``maximum``):
            property tests then draw its input values apart, which ``kinks`` cannot say.
        reproducible: does running it twice on the same inputs give the same value?
            (``pure`` by default; a seeded dropout mask is impure but reproducible.)
            Gradient checking refuses a graph with an op that is not.
        writes_into: ``True`` when ``forward`` takes a keyword ``out``: an array of the
            output's shape and dtype to write the result into (and return). The
            executor passes one where a result has a home already, such as an
            optimizer's gradient buffer; the bits are those of a forward without it.

    An op whose constructor takes arguments overrides :meth:`params` (what tells
    two instances apart) and :meth:`examples` (the instances property tests check).
    """

    name: ClassVar[str] = "op"
    arity: ClassVar[int | None] = None
    domain: ClassVar[Any | None] = None
    kinks: ClassVar[tuple[float, ...]] = ()
    signature: ClassVar[str | None] = None
    pure: ClassVar[bool] = True
    differentiable: ClassVar[bool] = True
    distinct_inputs: ClassVar[bool] = False
    writes_into: ClassVar[bool] = False

    @property
    def reproducible(self) -> bool:
        """Does a second run on the same inputs give the same value? (see the class docstring)"""
        return self.pure

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()
        if "backward" in cls.__dict__ and "gradient" not in cls.__dict__:
            cls.gradient = Op.gradient  # the most derived rule wins: a numpy backward over an inherited graph rule

    # --- what an op defines -------------------------------------------------
    def forward(self, *inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"op {self.name!r} defines no forward")

    def gradient(self, grad: Node, *inputs: Node, output: Node) -> Sequence[Node | None]:
        """The gradient rule, as nodes: one gradient node (or ``None``) per input.

        ``grad`` is the gradient arriving at ``output``. A gradient may come in the
        broadcast shape: :func:`tinygraph.grad` sums it down to its input's shape.
        The default runs the op's numpy :meth:`backward` as a node.
        """
        if not self.differentiable:
            return (None,) * len(inputs)
        if type(self).backward is Op.backward:
            raise GradientError(
                f"op {self.name!r} defines no gradient: give it a method gradient(self, grad, *inputs, output) "
                f"that builds the gradient from tinygraph ops, or a numpy backward(self, grad_output, *inputs, output)"
            )
        return tuple(NumpyBackward(self, k)(grad, *inputs, output) for k in range(len(inputs)))

    def backward(
        self, grad_output: np.ndarray, *inputs: np.ndarray, output: np.ndarray
    ) -> tuple[np.ndarray | None, ...]:
        """Optional numpy-level rule: one gradient array (or ``None``) per input."""
        raise NotImplementedError(f"op {self.name!r} defines no backward")

    def infer_shape(self, *shapes: StaticShape) -> StaticShape:
        """The output's static shape from the inputs'; ``None`` when unknown.

        Raise ``ValueError`` (or :class:`ShapeError`) to reject shapes that cannot work.
        """
        return None

    def passes_through(self, *shapes: tuple[int, ...]) -> bool:
        """For inputs of exactly these shapes, is the output the first input itself?

        ``sum_to`` of a gradient that was never broadcast is. A program made for
        known shapes (one per feed signature) leaves such a step out.
        """
        return False

    def infer_dtype(self, *dtypes: np.dtype) -> np.dtype:
        return np.result_type(*dtypes) if dtypes else np.dtype(np.float64)

    def params(self) -> dict:
        """The constructor arguments that distinguish two instances (for repr and merging)."""
        return {}

    @classmethod
    def examples(cls) -> Sequence[Op]:
        """Instances the property tests check: ``cls()`` unless the op needs arguments."""
        return (cls(),)

    # --- building nodes -----------------------------------------------------
    def __call__(self, *inputs: Any, name: str | None = None) -> Node:
        if self.arity is not None and len(inputs) != self.arity:
            raise TypeError(
                f"op {self.name!r} takes {self.arity} input(s), got {len(inputs)} (at {where(user_frame())})"
            )
        nodes = as_nodes(inputs)
        shapes = [n.shape for n in nodes]
        try:
            shape = self.infer_shape(*shapes)
        except ValueError as error:  # ShapeError too: either way, name the user's line, not ours
            message = str(error)
            if not isinstance(error, ShapeError):
                described = ", ".join(format_shape(s) for s in shapes)
                message = f"{self.name}: input shapes {described} do not work: {error}"
            raise ShapeError(f"{message} (at {where(user_frame())})") from None
        return Node(self, nodes, shape, self.infer_dtype(*(n.dtype for n in nodes)), name)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{self.name}[{params}]" if params else self.name


class NumpyBackward(Op):
    """Input ``index``'s gradient from a user op's numpy ``backward``, as a node.

    Inputs: the upstream gradient, the op's inputs, and its output. The result
    is checked here, once for every op of this kind: a tuple of one gradient per
    input, each real when its input is, and of its input's shape after summing a
    broadcast gradient down.
    """

    name = "numpy_backward"

    def __init__(self, op: Op, index: int):
        self.op, self.index = op, index

    def params(self) -> dict:
        return {"op": self.op, "index": self.index}

    def __repr__(self) -> str:
        return f"backward[{self.op!r}, input {self.index}]"

    def infer_shape(self, grad: StaticShape, *shapes: StaticShape) -> StaticShape:
        return shapes[self.index]

    def infer_dtype(self, grad: np.dtype, *dtypes: np.dtype) -> np.dtype:
        return dtypes[self.index]

    def forward(self, grad_output, *inputs_and_output):
        *inputs, output = inputs_and_output
        grads = self.op.backward(grad_output, *inputs, output=output)
        if not isinstance(grads, (tuple, list)) or len(grads) != len(inputs):
            got = f"{len(grads)} gradients" if isinstance(grads, (tuple, list)) else type(grads).__name__
            raise GradientError(
                f"backward of {self.op.name} returned {got} for {len(inputs)} inputs; "
                f"it must return a tuple with one gradient (or None) per input"
            )
        x, grad = inputs[self.index], grads[self.index]
        shape, dtype = np.shape(x), np.result_type(x)
        if grad is None:
            return np.zeros(shape, dtype)
        grad = np.asarray(grad)
        if np.iscomplexobj(grad) and not np.iscomplexobj(x):
            raise GradientError(
                f"backward of {self.op.name} returned a complex gradient ({grad.dtype}) for real input "
                f"{self.index} ({dtype}); a real input's gradient must be real"
            )
        if grad.shape != shape:
            try:
                grad = unbroadcast(grad, shape)
            except ValueError:
                raise GradientError(
                    f"backward of {self.op.name} returned a gradient of shape {format_shape(grad.shape)} "
                    f"for input {self.index} of shape {format_shape(shape)}"
                ) from None
        return grad.astype(dtype, copy=False)

    def gradient(self, grad, *inputs, output):
        raise GradientError(
            f"op {self.op.name!r} defines its gradient in numpy (backward), so it can be differentiated once; "
            f"to differentiate its gradient again, give {type(self.op).__name__} a method "
            f"gradient(self, grad, *inputs, output) that builds the gradient from tinygraph ops"
        )
