"""Seeing a graph: the summary table, DOT text parsed back, and ``tinygraph graph``."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.cli import main
from tinygraph.shapes import format_shape

QUOTED = r'"((?:[^"\\]|\\.)*)"'
NODE = re.compile(rf"^\s*(n\d+)\s*\[label={QUOTED}(.*)\];$")
EDGE = re.compile(rf"^\s*(n\d+)\s*->\s*(n\d+)\s*\[label={QUOTED}\];$")


def unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def parse_dot(text: str) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str, str]]]:
    """A small DOT reader, enough for what to_dot writes: {id: (label, attributes)}, [(tail, head, label)]."""
    lines = text.strip().splitlines()
    assert re.match(r'^digraph "[^"]*" \{$', lines[0]) and lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        if match := EDGE.match(line):
            edges.append((match[1], match[2], unquote(match[3])))
        elif match := NODE.match(line):
            assert match[1] not in nodes
            nodes[match[1]] = (unquote(match[2]), match[3])
        else:
            assert re.match(r"^\s*(rankdir|node|edge)\b.*;$", line), line
    return nodes, edges


def diamond() -> tuple[tg.Graph, tg.Parameter, tg.Placeholder]:
    a = tg.parameter(np.ones((2, 3)), name="a")
    x = tg.placeholder((None, 3), name="x")
    s = a + a  # one node reading the same input twice: two edges
    y = tg.sum(x * s, axis=0)
    return tg.Graph(tg.sum(y * 2.0)), a, x


def test_dot_parses_back_to_the_graphs_nodes_and_edges():
    g, a, x = diamond()
    nodes, edges = parse_dot(g.to_dot())
    assert len(nodes) == len(g.nodes) == 8
    assert len(edges) == sum(len(n.inputs) for n in g.nodes) == 8
    ids = {node: f"n{k}" for k, node in enumerate(g.nodes)}
    expected = sorted((ids[i], ids[n], format_shape(i.shape)) for n in g.nodes for i in n.inputs)
    assert sorted(edges) == expected  # shapes on the edges, a + a twice
    (add,) = [n for n in g.nodes if n.kind == "add"]
    assert edges.count((ids[a], ids[add], "(2, 3)")) == 2
    for node, k in ids.items():
        label, attributes = nodes[k]
        assert label.splitlines()[0] == node.name and format_shape(node.shape) in label
        assert ("peripheries=2" in attributes) == (node is g.nodes[-1])  # the output stands out


def test_dot_of_the_logistic_regression_model_matches_its_graph():
    from models.logistic_regression import build_graph

    g = build_graph(5).graph
    nodes, edges = parse_dot(g.to_dot())
    assert len(nodes) == len(g.nodes)
    assert len(edges) == sum(len(n.inputs) for n in g.nodes)
    labels = [label.splitlines()[0] for label, _ in nodes.values()]
    assert {"X", "Y", "w", "b", "A", "cost"} <= set(labels)


def test_dot_escapes_names_with_quotes_backslashes_and_newlines():
    x = tg.placeholder((2,), name='say "hi"\\now\nthen')
    g = tg.Graph(tg.sum(x))
    nodes, edges = parse_dot(g.to_dot())
    assert nodes["n0"][0].splitlines()[:2] == ['say "hi"\\now', "then"]
    assert len(edges) == 1


def test_summary_lists_nodes_in_order_with_op_shape_dtype_and_parameter_counts():
    g, a, x = diamond()
    text = g.summary()
    assert str(g) == text
    lines = text.splitlines()
    assert lines[0].startswith(f"Graph of {g.outputs[0].name}: 8 nodes (5 ops), 1 parameter holding 6 values")
    header = lines[1].split()
    assert header == ["#", "node", "op", "shape", "dtype", "params", "inputs"]
    rows = lines[2:2 + len(g.nodes)]
    for k, (node, row) in enumerate(zip(g.nodes, rows, strict=True)):
        cells = row.split()
        assert cells[0] == str(k) and cells[1] == node.name
        assert format_shape(node.shape) in row and str(node.dtype) in row
    a_row = rows[g.nodes.index(a)]
    assert re.search(r"\(2, 3\)\s+float64\s+6$", a_row)  # a parameter's value count
    assert "sum[axis=0, keepdims=False]" in text and "constant 2" in text
    assert "(output)" in rows[-1]


def test_summary_lists_the_rewrites_applied_only_when_there_are_some():
    z = tg.placeholder((3,), name="z")
    out = tg.sum(tg.log(tg.sigmoid(z)))
    assert "rewrites applied: stable_log_sigmoid ×1" in tg.Graph(out).summary()
    assert "rewrites applied" not in tg.Graph(out, rewrites=False).summary()


# --- tinygraph graph --------------------------------------------------------------

def test_cli_prints_dot_of_the_logistic_regression_model(capsys):
    assert main(["graph", "--dim", "4"]) == 0
    nodes, edges = parse_dot(capsys.readouterr().out)
    from models.logistic_regression import build_graph

    g = build_graph(4).graph
    assert len(nodes) == len(g.nodes) and len(edges) == sum(len(n.inputs) for n in g.nodes)
    assert any(label.startswith("w\nparameter  (4, 1)") for label, _ in nodes.values())


def test_cli_summary_defaults_to_the_course_size_and_can_skip_rewrites(capsys):
    assert main(["graph", "--format", "summary"]) == 0
    rewritten = capsys.readouterr().out
    assert "(12288, 1)" in rewritten and "12,288" in rewritten and "rewrites applied" in rewritten
    assert main(["graph", "--format", "summary", "--no-rewrites"]) == 0
    written = capsys.readouterr().out
    assert "rewrites applied" not in written and re.search(r"\blog\b", written)


def test_cli_prints_the_python_the_model_runs(capsys):
    assert main(["graph", "--format", "python", "--dim", "4"]) == 0
    code = capsys.readouterr().out
    compile(code, "<graph>", "exec")
    assert code.startswith("# forward\ndef run(values):") and "# backward\ndef run(values):" in code
    assert re.search(r"# cost = sigmoid_cross_entropy\(add_\d+, Y\)", code)  # the fused op, one line
    assert main(["graph", "--format", "python", "--dim", "4", "--no-rewrites"]) == 0
    written = capsys.readouterr().out
    assert "sigmoid_cross_entropy" not in written and "= log(" in written


def test_cli_writes_the_file_atomically(tmp_path, capsys):
    target = tmp_path / "model.dot"
    target.write_text("old")
    assert main(["graph", "--dim", "3", "--output", str(target)]) == 0
    assert capsys.readouterr().out == ""
    nodes, _ = parse_dot(target.read_text())
    assert nodes
    assert os.listdir(tmp_path) == ["model.dot"]  # no temporary file left behind


def test_cli_reports_an_unwritable_path(tmp_path, capsys):
    assert main(["graph", "--output", str(tmp_path / "missing" / "model.dot")]) == 1
    assert "cannot write" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_cli_rejects_a_dimension_below_one(capsys):
    with pytest.raises(SystemExit):
        main(["graph", "--dim", "0"])
    assert "at least 1" in capsys.readouterr().err


def test_cli_audits_the_rewrites_the_model_applies(capsys):
    assert main(["graph", "--audit", "--dim", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("rewrite audit passed")
    for name in ("fuse_affine", "stable_log_sigmoid", "fuse_sigmoid_cross_entropy"):
        assert re.search(rf"^  {name} +\d+ +yes ", out, re.M), out
