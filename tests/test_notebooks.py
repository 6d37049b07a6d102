"""The course's notebooks (docs/notebooks): committed without outputs, and each one runs green in a real kernel.

Running them needs the ``notebooks`` extra (nbclient, nbformat, ipykernel, matplotlib:
``pip install -e ".[notebooks]"``); without it those tests skip and say so. Notebooks that read
course files get their location through the environment, from the same place the other tests
look (tests/conftest.py), and skip when the files are absent. Also here: how a graph and a
gradient report show themselves in a notebook (HTML tables, the Graphviz drawing).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import inspection

from conftest import REPO_ROOT, course_data_dir

NOTEBOOKS = REPO_ROOT / "docs" / "notebooks"
REGULARIZATION_DATA = REPO_ROOT.parent / "shared" / "datasets" / "regularization"
TIME_LIMIT = 120  # seconds for one whole notebook (each runs in a few; a slow shared runner gets room)

# each notebook, and what it needs besides the notebooks extra: course data, optional packages
NEEDS = {
    "01_logistic_regression.ipynb": {"data": "cat"},
    "02_planar_data_classification.ipynb": {"packages": ("sklearn",)},
    "03_deep_neural_network.ipynb": {"data": "cat"},
    "04_initialization.ipynb": {"packages": ("sklearn",)},
    "05_regularization.ipynb": {"data": "regularization", "packages": ("scipy",)},
    "06_gradient_checking.ipynb": {},
    "07_optimization_methods.ipynb": {"packages": ("sklearn",)},
}


def test_every_model_has_its_notebook_and_every_notebook_is_tested():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NEEDS)


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_notebook_is_committed_without_outputs(name):
    notebook = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code, f"{name} has no code cells"
    for k, cell in enumerate(code):
        assert cell.get("outputs") == [] and cell.get("execution_count") is None, \
            f"{name}: code cell {k} was committed with outputs; clear them (jupyter nbconvert --clear-output)"


def _executed(name: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Run the notebook in a python3 kernel of this interpreter; the executed notebook (nbformat)."""
    for module in ("nbclient", "nbformat", "ipykernel", "matplotlib"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"running the notebooks needs {module}: pip install -e '.[notebooks]'")
    needs = NEEDS[name]
    for package in needs.get("packages", ()):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{name} needs {package}: the course extra, pip install -e '.[course]'")
    if needs.get("data") == "cat":
        data = course_data_dir()
        if data is None:
            pytest.skip("course data not found: set TINYGRAPH_COURSE_DATA or place it in ../shared/datasets/catvnoncat")
        monkeypatch.setenv("TINYGRAPH_COURSE_DATA", str(data))
    if needs.get("data") == "regularization":
        if not (REGULARIZATION_DATA / "data.mat").is_file():
            pytest.skip(f"the course's data.mat is not in {REGULARIZATION_DATA}")
        monkeypatch.setenv("TINYGRAPH_REGULARIZATION_DATA", str(REGULARIZATION_DATA))
    import nbclient
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.skip("no python3 Jupyter kernel: pip install ipykernel (or python -m ipykernel install --user)")
    # the kernel spec runs `python`: make it this interpreter, which has tinygraph installed
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", os.environ.get("OPENBLAS_NUM_THREADS", "1"))  # 2-core runners
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    deadline = time.monotonic() + TIME_LIMIT
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}},
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),  # one limit for the whole notebook
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    return notebook


def _outputs(notebook: dict, mime: str) -> list[str]:
    return [output["data"][mime] for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.outputs if mime in output.get("data", {})]


def _printed(notebook: dict) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs if output.output_type == "stream")


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_notebook_runs_and_shows_its_graph_and_pictures(name, monkeypatch):
    notebook = _executed(name, monkeypatch)
    errors = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if output.output_type == "error"]
    assert not errors, errors
    assert _outputs(notebook, "image/png"), f"{name} drew no picture"
    tables = [html for html in _outputs(notebook, "text/html") if "<table>" in html]
    assert any("<caption" in html and "Graph of" in html for html in tables), f"{name} shows no graph summary"
    assert re.search(r"Cost after (iteration|epoch) \d+|difference = ", _printed(notebook)), \
        f"{name} printed no costs"


# --- how graphs and reports show themselves --------------------------------------------

def small_graph() -> tg.Graph:
    x = tg.placeholder((None, 3), name="x")
    w = tg.parameter(np.ones((3, 1)), name="w<&>")  # a name HTML must escape
    return tg.Graph(tg.mean(tg.sigmoid(x @ w)))


def _cells(table: str) -> list[list[str]]:
    import html

    return [[html.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table)]


def test_summary_html_holds_the_text_summary_cell_for_cell():
    g = small_graph()
    table = inspection.summary_html(g)
    rows = _cells(table)
    text = g.summary().splitlines()
    assert f">{text[0]}</caption>" in table
    assert len(rows) == len(g.nodes) + 1
    for row, line in zip(rows, text[1:], strict=True):
        assert line.split() == " ".join(row).split()  # the same cells as the text table's columns
    assert "w&lt;&amp;&gt;" in table and "w<&>" not in table


@pytest.mark.skipif(not inspection.graphviz_available(), reason="Graphviz's dot is not installed")
def test_draw_returns_svg_with_one_shape_per_node_and_jupyter_shows_it():
    g = small_graph()
    svg = g.draw()
    assert svg.startswith("<svg") and svg._repr_svg_() == svg
    assert len(re.findall(r'class="node"', svg)) == len(g.nodes)
    assert len(re.findall(r'class="edge"', svg)) == sum(len(n.inputs) for n in g.nodes)
    shown = g._repr_html_()
    assert shown.startswith(inspection.summary_html(g)) and shown.endswith(svg)


def test_without_graphviz_draw_says_how_to_install_it_and_the_summary_still_shows(monkeypatch):
    monkeypatch.setenv("PATH", "")
    g = small_graph()
    with pytest.raises(inspection.GraphvizError, match=r"Graphviz's `dot`.*apt-get install graphviz"):
        g.draw()
    shown = g._repr_html_()
    assert shown.startswith(inspection.summary_html(g)) and "no drawing" in shown and "<svg" not in shown


def test_gradcheck_report_and_step_study_render_as_tables():
    x = tg.placeholder((2, None), name="x")
    w = tg.parameter(np.array([[0.5, -1.0]]), name="w")
    g = tg.Graph(tg.sum(tg.tanh(w @ x)))
    feeds = {x: np.array([[1.0, 2.0], [0.5, -1.0]])}
    report = tg.gradcheck(g, feeds)
    rows = _cells(report._repr_html_())
    assert rows[0][0] == "node" and [r[0] for r in rows[1:len(report.nodes) + 1]] == [n.name for n in report.nodes]
    assert ("passed" if report.ok else "FAILED") in report._repr_html_()
    study = tg.step_study(g, feeds, steps=[1e-2, 1e-4, 1e-6])
    rows = _cells(study._repr_html_())
    assert [float(r[0]) for r in rows[1:]] == pytest.approx(list(study.steps), rel=0.05)
    assert [r[3] for r in rows[1:]].count("best") == 1
