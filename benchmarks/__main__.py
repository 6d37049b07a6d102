"""``python -m benchmarks``: tinygraph against hand-written numpy and its peers.

Prints markdown tables:

1. ms per training iteration (forward + backward + update), min / median /
   max over alternating blocks, and the ratio of medians to hand-written
   numpy measured in the same run, for every workload of
   :func:`benchmarks.workloads.workloads` (logistic regression, the two-layer,
   planar and deep nets, the moons net's mini-batch steps with GD and Adam
   and its batch-size sweep, a conv layer); the two-mat-vec floor for the
   cat workload; peers (PyTorch, JAX, autograd, mygrad) when installed.
2. gradcheck, full versus fast mode, on the cat-sized graph.
3. graph build, forward and backward on chains of 10, 1,000 and 100,000 nodes.
4. memory of the deep net's training, tinygraph against hand-written numpy
   (:mod:`benchmarks.memory`): peak traced over building the contender and
   ``--memory-steps`` steps, what it still holds, and growth from step 100 on.

``--quick`` shrinks everything to a smoke run of a few seconds.
``--profile WORKLOAD`` profiles tinygraph's training loop with pyinstrument.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence

import numpy as np

import tinygraph as tg

from . import memory, scaling
from .peers import PEERS
from .timing import Contender, race
from .workloads import IMPLEMENTATIONS, Implementation, Workload, logistic_graph, matvec_floor, workloads

DTYPES = {"float64": np.float64, "float32": np.float32}


def _format_time(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _table(header: Sequence[str], rows: list[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in rows])


def machine_description() -> str:
    """CPU, cores, Python, numpy and its BLAS, in one line."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = "unknown BLAS"
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{info.get('name', 'BLAS')} {info.get('version', '')}".strip()
    except Exception:  # older numpy: no dict mode; the BLAS name is a nicety
        pass
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
            f"numpy {np.__version__} ({blas})")


def _disagreement(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> float:
    """Largest difference in any parameter, relative to that parameter's size."""
    worst = 0.0
    for name, value in expected.items():
        scale = max(float(np.max(np.abs(value))), 1e-12)
        worst = max(worst, float(np.max(np.abs(np.asarray(got[name], dtype=np.float64) - value))) / scale)
    return worst


def _check_same_training(impls: dict[str, Implementation], dtype, steps: int = 3) -> dict[str, str]:
    """Run each contender a few steps from the same start; note any that trains differently from numpy."""
    reference = impls["numpy"]
    reference.reset()
    for _ in range(steps):
        reference.step()
    expected = {k: np.array(v, dtype=np.float64) for k, v in reference.params().items()}
    tolerance = 1e-6 if np.dtype(dtype) == np.float64 else 1e-3
    notes = {}
    for name, impl in impls.items():
        if name == "numpy" or not impl.params():  # the floor trains nothing
            continue
        impl.reset()
        for _ in range(steps):
            impl.step()
        impl.finish()
        error = _disagreement(impl.params(), expected)
        if error > tolerance:
            notes[name] = f"differs from numpy by {error:.1e}"
    return notes


def training_table(args, work: Sequence[Workload], dtypes: Sequence[str]) -> str:
    header = ["workload", "dtype", "contender", "min", "median", "max", "× numpy"]
    rows: list[list[str]] = []
    notes: list[str] = []
    skipped = {}
    peerless: dict[str, None] = {}  # workload keys, in order, that no peer implements
    for workload in work:
        for dtype_name in dtypes:
            data = workload.data(DTYPES[dtype_name])
            impls: dict[str, Implementation] = {
                name: make(data) for name, make in IMPLEMENTATIONS[workload.kind].items()
            }
            if workload.key == "cat" and workload.kind == "logistic":
                impls["floor: 2 mat-vec passes"] = matvec_floor(data)
            if args.peers and not workload.peers:
                peerless.setdefault(workload.key)
            elif args.peers:
                for name, make in PEERS.items():
                    try:
                        impls[name] = make(workload.kind, data)
                    except ImportError as error:
                        skipped[name] = str(error)
            for name, note in _check_same_training(impls, data.dtype).items():
                notes.append(f"{workload.key} {dtype_name} {name}: {note}")
            contenders = [Contender(name, i.step, i.reset, i.finish) for name, i in impls.items()]
            pause = 0.02 if len(contenders) > 3 else 0.0  # peers' thread pools spin for a while after a block
            timings = race(contenders, blocks=args.blocks, block_seconds=args.block_seconds, pause=pause)
            base = timings["numpy"].median
            for name, t in timings.items():
                rows.append([workload.title, dtype_name, name, _format_time(t.min), _format_time(t.median),
                             _format_time(t.max), f"{t.median / base:.2f}×"])
            print(f"  measured {workload.key} {dtype_name}", file=sys.stderr, flush=True)
    text = _table(header, rows)
    for name, reason in skipped.items():
        notes.append(f"{name}: not installed, skipped ({reason}); `pip install -e \".[bench]\"` brings the peers")
    if peerless:
        notes.append(f"peers: not measured on {', '.join(peerless)} (benchmarks/peers.py has no such step)")
    if notes:
        text += "\n\n" + "\n".join(f"- {n}" for n in notes)
    return text


def gradcheck_table(features: int, examples: int, sample: int | None = None) -> str:
    """Full versus fast gradcheck on the logistic-regression graph of the given size."""
    gradcheck = getattr(tg, "gradcheck", None)
    if gradcheck is None:
        return "- gradcheck: tg.gradcheck is not available in this tinygraph; skipped"
    rng = np.random.default_rng(1)
    graph, params, X, Y = logistic_graph(features)
    params["w"].value = rng.standard_normal((features, 1)) * 0.01
    params["b"].value = 0.1
    feeds = {X: rng.random((features, examples)), Y: (rng.random((1, examples)) < 0.5).astype(np.float64)}
    rows = []
    for mode, options in (("full", {"sample": sample}), ("fast", {})):
        start = time.perf_counter()
        report = gradcheck(graph, feeds, mode=mode, **options)
        elapsed = time.perf_counter() - start
        checked = "projections" if mode == "fast" else f"{features + 1:,}" if sample is None else f"≤{sample} per node"
        rows.append([mode, checked, f"{report.forward_runs:,}", _format_time(elapsed),
                     f"{report.relative_error:.1e}", "yes" if report.ok else "NO"])
    header = ["gradcheck mode", f"elements of {features + 1:,}", "forward runs", "time", "relative error", "ok"]
    return _table(header, rows)


def scaling_table(sizes: Sequence[int]) -> str:
    rows = []
    for r in scaling.measure(sizes):
        cells = [f"{r.nodes:,}", _format_time(r.make_s)]
        for seconds in (r.graph_s, r.forward_s, r.backward_s):
            cells += [_format_time(seconds), f"{seconds / r.nodes * 1e6:.2f} µs"]
        rows.append(cells)
    header = ["nodes", "make nodes", "tg.Graph", "per node", "forward", "per node", "backward", "per node"]
    return _table(header, rows)


def memory_table(args) -> str:
    """Peak, held and growth of traced memory over the deep net's training, per contender (benchmarks.memory)."""
    workload = next(w for w in workloads(quick=args.quick) if w.key == "deep")
    dtype_name = args.dtype[0]
    data = workload.data(DTYPES[dtype_name])
    mb = lambda n: f"{n / 2**20:.3f} MB"  # noqa: E731
    rows = []
    for name, make in IMPLEMENTATIONS[workload.kind].items():
        r = memory.measure(name, make, data, args.memory_steps)
        rows.append([name, mb(r.step_peak_bytes), mb(r.peak_bytes), mb(r.held_bytes),
                     f"{r.growth_bytes / 2**10:+.1f} kB"])
        print(f"  measured memory {name}", file=sys.stderr, flush=True)
    header = [f"{workload.title}, {dtype_name}", f"peak of a step (steps {r.settle:,}–{r.steps:,})",
              f"peak over build + {r.steps:,} steps", "held after",
              f"growth, step {r.settle:,} → {r.steps:,}"]
    data_mb = (data.X.nbytes + data.Y.nbytes) / 2**20
    return (_table(header, rows) + f"\n\n- traced with tracemalloc after the data ({data_mb:.1f} MB) exist; "
            "one untraced warm-up build first")


def profile(args, work: Sequence[Workload]) -> None:
    """pyinstrument's view of tinygraph's training loop on one workload."""
    from pyinstrument import Profiler

    workload = next(w for w in work if w.key == args.profile)
    impl = IMPLEMENTATIONS[workload.kind]["tinygraph"](workload.data(DTYPES[args.dtype[0]]))
    impl.step()
    profiler = Profiler(interval=0.0001)
    profiler.start()
    deadline = time.perf_counter() + args.profile_seconds
    while time.perf_counter() < deadline:
        impl.step()
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few blocks: a smoke run")
    keys = [w.key for w in workloads()]
    parser.add_argument("--only", nargs="+", choices=keys, help="workloads to run")
    parser.add_argument("--dtype", nargs="+", choices=tuple(DTYPES), default=list(DTYPES))
    parser.add_argument("--blocks", type=int, help="timed blocks per contender (default 15, quick 3)")
    parser.add_argument("--block-seconds", type=float, help="length of one block (default 0.1 s)")
    parser.add_argument("--no-peers", dest="peers", action="store_false", help="skip PyTorch, JAX, ...")
    parser.add_argument("--skip", nargs="+", default=[], choices=("training", "gradcheck", "scaling", "memory"))
    parser.add_argument("--memory-steps", type=int,
                        help="training steps traced in the memory table (default 10000, quick 200)")
    parser.add_argument("--gradcheck-features", type=int,
                        help="size of w in the gradcheck row (default 12288, quick 64); full mode runs 2n+2 forwards")
    parser.add_argument("--gradcheck-sample", type=int, help="full mode: check only this many elements per node")
    parser.add_argument("--profile", choices=keys, help="profile tinygraph on one workload")
    parser.add_argument("--profile-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    args.blocks = args.blocks or (3 if args.quick else 15)
    args.block_seconds = args.block_seconds or (0.01 if args.quick else 0.1)
    args.gradcheck_features = args.gradcheck_features or (64 if args.quick else 12288)
    args.memory_steps = args.memory_steps or (200 if args.quick else 10_000)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    work = workloads(quick=args.quick)
    if args.only:
        work = tuple(w for w in work if w.key in args.only)
    if args.profile:
        profile(args, workloads(quick=args.quick))
        return 0
    print(f"Machine: {machine_description()}")
    print("Per training iteration (forward + backward + update); min / median / max over alternating blocks;")
    print("× numpy is the ratio of medians to hand-written numpy measured in the same run.\n")
    if "training" not in args.skip:
        print(training_table(args, work, args.dtype), end="\n\n", flush=True)
    if "gradcheck" not in args.skip:
        examples = 20 if args.quick else 209
        print(gradcheck_table(args.gradcheck_features, examples, args.gradcheck_sample), end="\n\n", flush=True)
    if "scaling" not in args.skip:
        sizes = (10, 100, 1_000) if args.quick else (10, 1_000, 100_000)
        print(scaling_table(sizes), end="\n\n", flush=True)
    if "memory" not in args.skip:
        print(memory_table(args), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
