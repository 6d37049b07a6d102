"""tinygraph: a small, fast, autograd-free computational-graph framework on numpy.

Build a graph of nodes once (shapes inferred as you build), then run it
forward and backward many times. Every op carries a hand-written gradient
rule that builds more graph, so gradients are nodes too (``tg.grad``) and can
be differentiated again.

    import numpy as np
    import tinygraph as tg

    x = tg.placeholder((None, 3), name="x")
    w = tg.parameter(np.ones((3, 1)), name="w")
    loss = tg.mean(tg.sigmoid(x @ w))
    g = tg.Graph(loss)
    g.forward({x: np.random.rand(8, 3)})
    dw = g.backward()[w]
"""

from .anomaly import AnomalyError, detect_anomaly
from .errors import FeedError, GradientError, OpError, ShapeError, TinygraphError
from .fusion import affine, sigmoid_cross_entropy  # after rewrite: its passes run after the built-in ones
from .gradcheck import GradcheckReport, StepStudy, gradcheck, step_study
from .grad import grad
from .graph import Graph
from .node import Constant, Node, Parameter, Placeholder, constant, parameter, placeholder, topological_order
from .op import Op
from .ops import (
    OPS,
    abs,
    add,
    div,
    exp,
    log,
    matmul,
    mean,
    mul,
    neg,
    power,
    register,
    relu,
    reshape,
    sigmoid,
    softmax,
    softplus,
    sub,
    sum,
    tanh,
    transpose,
)
from .rewrite import REWRITES, register_rewrite
from . import data, init, nn, optim  # noqa: E402  (the training toolkit, built on the names above)

__version__ = "0.1.0"

__all__ = [
    "FeedError", "GradientError", "OpError", "ShapeError", "TinygraphError",
    "Graph", "grad", "Node", "Op", "Placeholder", "Parameter", "Constant",
    "placeholder", "parameter", "constant", "topological_order",
    "OPS", "register", "REWRITES", "register_rewrite", "AnomalyError", "detect_anomaly",
    "gradcheck", "GradcheckReport", "step_study", "StepStudy",
    "abs", "add", "affine", "div", "exp", "log", "matmul", "mean", "mul", "neg", "power", "relu",
    "reshape", "sigmoid", "sigmoid_cross_entropy", "softmax", "softplus", "sub", "sum", "tanh", "transpose",
]
