"""``tinygraph graph``: show the logistic-regression model's graph, as DOT text or a table.

    tinygraph graph | dot -Tsvg > graph.svg       # Graphviz renders the DOT text
    tinygraph graph --format summary              # the node table
    tinygraph graph --format python               # the Python that forward and backward run
    tinygraph graph --no-rewrites --dim 4         # the graph exactly as the model writes it
    tinygraph graph --audit --dim 20              # each rewrite checked against the graph as written
"""

from __future__ import annotations

import argparse
import sys

from models.commands import output_path, positive_int

HELP = ("print the logistic-regression model's graph as Graphviz DOT text "
        "(a node table with --format summary, the code it runs with --format python)")

COURSE_DIM = 64 * 64 * 3  # the course's 64x64 RGB pictures, flattened



def _audit_feeds(model) -> dict:
    """Pictures and labels of the model's shape to audit on: 8 examples, values of the course's scale, seeded."""
    import numpy as np

    rng = np.random.default_rng(0)
    model.w.value = rng.normal(0.0, 0.1, model.w.shape)  # zeros would make every logit 0: nothing to stabilise
    return {model.X: rng.random((model.X.shape[0], 8)), model.Y: (rng.random((1, 8)) > 0.5).astype(float)}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("dot", "summary", "python"), default="dot",
                        help="dot: Graphviz DOT text (default); summary: a table of the nodes; "
                             "python: the code forward and backward run")
    parser.add_argument("--dim", type=positive_int, default=COURSE_DIM,
                        help=f"number of input features (default {COURSE_DIM}, the course's 64x64x3 pictures)")
    parser.add_argument("--no-rewrites", action="store_true",
                        help="show the graph as written, before the rewrite passes")
    parser.add_argument("--output", "-o", metavar="PATH", help="write to PATH instead of standard output")
    parser.add_argument("--audit", action="store_true",
                        help="instead, audit each rewrite the graph applies: values and gradients against the graph "
                             "as written over inputs scaled up to 1000x, and the accuracy the stabilising ones gain")


def run(args: argparse.Namespace) -> int:
    import tinygraph as tg
    from models.logistic_regression import build_graph
    from tinygraph.files import atomic_write

    model = build_graph(args.dim)
    graph = tg.Graph(model.graph.outputs, rewrites=False) if args.no_rewrites else model.graph
    if args.audit:
        text = str(tg.audit_rewrites(graph, _audit_feeds(model))) + "\n"
    elif args.format == "dot":
        text = graph.to_dot()
    elif args.format == "summary":
        text = graph.summary() + "\n"
    else:
        text = graph.source()
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        output_path(args.output)  # a directory given would otherwise fail at the rename, naming the temporary file
    except argparse.ArgumentTypeError as error:
        print(f"tinygraph graph: error: {error}", file=sys.stderr)
        return 1
    try:
        with atomic_write(args.output) as temporary:
            temporary.write_text(text, encoding="utf-8")
    except OSError as error:
        print(f"tinygraph graph: error: cannot write {args.output}: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.format} of the logistic-regression graph to {args.output}", file=sys.stderr)
    return 0
