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

from . import data, init, nn, optim  # noqa: E402  (the training toolkit, built on the names above)
from .anomaly import AnomalyError, detect_anomaly
from .errors import FeedError, GradientError, OpError, ShapeError, TinygraphError
from .fusion import affine, sigmoid_cross_entropy  # after rewrite: its passes run after the built-in ones
from .grad import grad
from .gradcheck import GradcheckReport, StepStudy, gradcheck, step_study
from .graph import Graph
from .io import CheckpointError, load, load_into, save
from .node import Constant, Node, Parameter, Placeholder, constant, parameter, placeholder, topological_order
from .op import Op
from .ops import (
    OPS,
    abs,
    add,
    argmax,
    avg_pool2d,
    broadcast_to,
    clip,
    concat,
    conv2d,
    cos,
    div,
    dropout,
    equal,
    exp,
    expand_dims,
    greater,
    greater_equal,
    index,
    is_training,
    leaky_relu,
    less,
    less_equal,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    max_pool2d,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    pad,
    power,
    register,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    softplus,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    training,
    transpose,
    var,
    where,
)
from .rewrite import REWRITES, register_rewrite
from .studies import (
    TaylorReport,
    audit_rewrites,
    compare_reports,
    jvp,
    jvp_check,
    load_report,
    replay,
    taylor_test,
    trace_backward,
)

__version__ = "0.1.0"

__all__ = [
    "FeedError", "GradientError", "OpError", "ShapeError", "TinygraphError",
    "Graph", "grad", "Node", "Op", "Placeholder", "Parameter", "Constant",
    "placeholder", "parameter", "constant", "topological_order",
    "OPS", "register", "REWRITES", "register_rewrite", "AnomalyError", "detect_anomaly",
    "gradcheck", "GradcheckReport", "step_study", "StepStudy",
    "abs", "add", "affine", "div", "exp", "log", "matmul", "mean", "mul", "neg", "power", "relu",
    "reshape", "sigmoid", "sigmoid_cross_entropy", "softmax", "softplus", "sub", "sum", "tanh", "transpose",
    "argmax", "clip", "cos", "equal", "expand_dims", "greater", "greater_equal", "leaky_relu", "less", "less_equal",
    "log_softmax", "logsumexp", "max", "maximum", "min", "minimum", "sin", "sqrt", "square", "squeeze", "std",
    "var", "where", "avg_pool2d", "broadcast_to", "concat", "conv2d", "dropout", "index", "is_training",
    "max_pool2d", "pad", "stack", "training",
    "save", "load", "load_into", "CheckpointError",
    "taylor_test", "TaylorReport", "jvp", "jvp_check", "trace_backward", "audit_rewrites", "load_report",
    "compare_reports", "replay",
    "data", "init", "nn", "optim",
]
