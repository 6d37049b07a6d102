"""The benchmark runs end to end in its quick mode, and every contender trains alike.

No timing is asserted (shared machines vary by ±20 %); these tests check that
``python -m benchmarks`` produces its tables and that what it times is the same
training run in tinygraph and in hand-written numpy.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import __main__ as bench
from benchmarks import peers, scaling
from benchmarks.timing import Contender, race
from benchmarks.workloads import IMPLEMENTATIONS, Workload, workloads


def test_quick_run_prints_every_table(capsys):
    assert bench.main(["--quick", "--no-peers", "--blocks", "2", "--block-seconds", "0.002"]) == 0
    out = capsys.readouterr().out
    for workload in workloads(quick=True):
        for dtype in ("float64", "float32"):
            rows = [line for line in out.splitlines()
                    if line.startswith(f"| {workload.title}") and f"| {dtype}" in line]
            contenders = {line.split("|")[3].strip() for line in rows}
            assert {"numpy", "tinygraph"} <= contenders, (workload.key, dtype, contenders)
            numpy_row = next(line for line in rows if line.split("|")[3].strip() == "numpy")
            assert numpy_row.rstrip(" |").endswith("1.00×")
    assert "floor: 2 mat-vec passes" in out
    assert "| full " in out and "| fast " in out  # gradcheck, both modes
    for nodes in ("10", "100", "1,000"):
        assert any(line.startswith(f"| {nodes} ") for line in out.splitlines()), nodes


@pytest.mark.parametrize("workload", workloads(quick=True), ids=lambda w: w.key)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
def test_tinygraph_trains_exactly_like_hand_written_numpy(workload: Workload, dtype):
    """Same start, same steps: the parameters agree, so the table compares like with like."""
    data = workload.data(dtype)
    impls = {name: make(data) for name, make in IMPLEMENTATIONS[workload.kind].items()}
    assert bench._check_same_training(impls, dtype, steps=5) == {}
    reference, ours = impls["numpy"].params(), impls["tinygraph"].params()
    for name, value in reference.items():
        assert ours[name].dtype == np.dtype(dtype), name  # no float64 upcast inside a float32 graph
        assert np.any(value != data.params[name]), f"{name} did not train"


def test_a_contender_that_trains_differently_is_reported():
    data = workloads(quick=True)[1].data(np.float64)
    impls = {name: make(data) for name, make in IMPLEMENTATIONS["logistic"].items()}
    impls["wrong"] = IMPLEMENTATIONS["logistic"]["numpy"](data, lr=0.05)
    assert set(bench._check_same_training(impls, np.float64)) == {"wrong"}


def test_missing_peer_is_skipped_with_a_note(monkeypatch, capsys):
    def absent(kind, data):
        raise ImportError("No module named 'nonexistent'")

    monkeypatch.setattr(bench, "PEERS", {"nonexistent peer": absent})
    bench.main(["--quick", "--only", "tiny", "--dtype", "float64", "--skip", "gradcheck", "scaling",
                "--blocks", "1", "--block-seconds", "0.001"])
    out = capsys.readouterr().out
    assert "nonexistent peer: not installed, skipped" in out and "pip install -e \".[bench]\"" in out
    assert "| nonexistent peer" not in out


def test_race_alternates_and_reports_per_iteration_times():
    calls = []
    contenders = [Contender(name, lambda name=name: calls.append(name)) for name in ("a", "b")]
    timings = race(contenders, blocks=4, iterations=3)
    assert calls.count("a") == calls.count("b") == 12
    assert calls[:6] == ["a"] * 3 + ["b"] * 3 and calls[6:12] == ["b"] * 3 + ["a"] * 3  # order rotates
    for t in timings.values():
        assert len(t.per_iteration) == 4 and t.min <= t.median <= t.max


def test_scaling_chain_has_the_requested_node_count():
    row = scaling.measure_one(50)
    assert row.nodes == 50 and min(row.graph_s, row.forward_s, row.backward_s) > 0


def test_peer_costs_are_the_textbook_formula():
    """The peers' cost, run on numpy arrays, is the course's cross-entropy."""
    rng = np.random.default_rng(0)
    f = type("F", (), {"sigmoid": staticmethod(lambda z: 1 / (1 + np.exp(-z))), "log": staticmethod(np.log),
                        "mean": staticmethod(np.mean), "relu": staticmethod(lambda z: np.maximum(z, 0))})
    X, Y = rng.random((4, 6)), (rng.random((1, 6)) < 0.5).astype(float)
    p = {"w": rng.normal(size=(4, 1)), "b": np.array(0.3)}
    A = 1 / (1 + np.exp(-(p["w"].T @ X + p["b"])))
    expected = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    assert peers.logistic_cost(f, p, X, Y) == pytest.approx(expected)
