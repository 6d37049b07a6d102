"""The benchmark runs end to end in its quick mode, and every contender trains alike.

No timing is asserted (shared machines vary by ±20 %); these tests check that
``python -m benchmarks`` produces its tables and that what it times is the same
training run in tinygraph and in hand-written numpy.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import __main__ as bench
from benchmarks import memory, peers, scaling
from benchmarks.timing import Contender, race
from benchmarks.workloads import IMPLEMENTATIONS, Implementation, Workload, workloads

QUICK = ["--quick", "--blocks", "2", "--block-seconds", "0.002"]


def test_quick_run_prints_every_table(capsys):
    assert bench.main([*QUICK, "--no-peers", "--skip", "memory"]) == 0
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


def test_the_issues_workloads_are_all_there_and_quick_is_small():
    full, quick = workloads(), workloads(quick=True)
    keys = [w.key for w in full]
    for key in ("cat", "tiny", "net", "planar", "deep", "moons-gd", "moons-adam", "conv",
                "sweep-1", "sweep-8", "sweep-64", "sweep-512", "sweep-4096"):
        assert key in keys, key
    assert {w.key for w in quick} <= set(keys)  # --only names full-size keys
    by_key = {w.key: w for w in full}
    assert by_key["deep"].layer_dims == (12288, 20, 7, 5, 1) and by_key["deep"].examples == 209
    assert {w.key for w in full if not w.peers} == {"conv"}
    assert {w.batch_size for w in full if w.key.startswith("sweep-")} == {1, 8, 64, 512, 4096}
    assert all(w.examples >= 4096 for w in full if w.key.startswith("sweep-"))
    quick_deep = next(w for w in quick if w.key == "deep")
    assert quick_deep.layer_dims[0] == 64
    planar = next(w for w in quick if w.key == "planar").data(np.float64)
    assert planar.X.shape == (2, 400) and planar.Y.shape == (1, 400)
    assert planar.params["W1"].shape == (4, 2) and np.all(planar.params["b1"] == 0)


@pytest.mark.parametrize("workload", [w for w in workloads(quick=True) if w.peers], ids=lambda w: w.key)
@pytest.mark.parametrize("peer", list(peers.PEERS))
def test_peers_train_like_hand_written_numpy(workload: Workload, peer):
    """Where a peer is installed, its steps (mini-batches and Adam included) train what numpy trains."""
    module = {"torch eager": "torch", "jax jit (whole step)": "jax", "autograd": "autograd", "mygrad": "mygrad"}[peer]
    pytest.importorskip(module)
    data = workload.data(np.float64)
    impls = {"numpy": IMPLEMENTATIONS[workload.kind]["numpy"](data), peer: peers.PEERS[peer](workload.kind, data)}
    assert bench._check_same_training(impls, np.float64, steps=5) == {}


def test_memory_table_quick_run_prints_numpy_and_tinygraph(capsys):
    assert bench.main([*QUICK, "--no-peers", "--skip", "training", "gradcheck", "scaling",
                       "--memory-steps", "150"]) == 0
    out = capsys.readouterr().out
    assert "peak of a step (steps 100–150)" in out and "peak over build + 150 steps" in out
    assert "growth, step 100 → 150" in out
    for name in ("numpy", "tinygraph"):
        row = next(line for line in out.splitlines() if line.startswith(f"| {name} "))
        step_peak, peak, held, growth = (cell.strip() for cell in row.strip(" |").split("|")[1:])
        assert all(cell.endswith(" MB") for cell in (step_peak, peak, held)) and growth.endswith(" kB"), row
        step_peak, peak, held = (float(cell.split()[0]) for cell in (step_peak, peak, held))
        assert peak >= step_peak >= held > 0, row


def test_memory_growth_catches_a_leak():
    data = next(w for w in workloads(quick=True) if w.key == "tiny").data(np.float64)
    kept = []

    def leaky(data) -> Implementation:
        return Implementation(lambda: kept.append(np.ones(1024)), lambda: None, lambda: {})

    row = memory.measure("leaky", leaky, data, steps=30, settle=10)
    assert row.growth_bytes >= 20 * 8 * 1024  # 20 steps after settling, 8 kB each
    assert row.peak_bytes >= row.step_peak_bytes >= row.held_bytes >= row.growth_bytes
    clean = memory.measure("clean", lambda data: Implementation(lambda: np.ones(1024), lambda: None, lambda: {}),
                           data, steps=30, settle=10)
    assert clean.growth_bytes < 8 * 1024 <= clean.peak_bytes
