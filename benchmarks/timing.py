"""Side-by-side timing: contenders run in alternating blocks inside one process.

Single runs on a shared machine drift by ±20 %, so a number measured alone
means little. Here every contender of a workload runs a block of iterations in
turn (the order rotating from block to block), so slow spells of the machine
land on all of them alike, and the ratio of their medians is what we report.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass
class Timing:
    """Seconds per iteration in each block of one contender."""

    name: str
    per_iteration: list[float]
    iterations_per_block: int

    @property
    def min(self) -> float:
        return min(self.per_iteration)

    @property
    def median(self) -> float:
        return statistics.median(self.per_iteration)

    @property
    def max(self) -> float:
        return max(self.per_iteration)


@dataclass
class Contender:
    """One way of running a workload: ``step()`` does one iteration; ``reset()`` restores the start.

    ``reset`` runs before each block, outside the timed region, so every block
    trains from the same starting point (random labels would otherwise drive a
    long run into saturated sigmoids, a different regime for each contender).
    """

    name: str
    step: Callable[[], None]
    reset: Callable[[], None] = lambda: None
    finish: Callable[[], None] = lambda: None  # waits for asynchronous work (JAX)


def _run_block(contender: Contender, iterations: int) -> float:
    contender.reset()
    step = contender.step
    start = time.perf_counter()
    for _ in range(iterations):
        step()
    contender.finish()
    return time.perf_counter() - start


def calibrate(contender: Contender, block_seconds: float, max_iterations: int = 100_000) -> int:
    """How many iterations make a block of about ``block_seconds`` (at least 1)."""
    iterations = 1
    while True:
        elapsed = _run_block(contender, iterations)
        if elapsed >= block_seconds / 4 or iterations >= max_iterations:
            break
        iterations *= 4
    return max(1, min(max_iterations, int(iterations * block_seconds / max(elapsed, 1e-9))))


def race(
    contenders: Sequence[Contender],
    blocks: int = 15,
    block_seconds: float = 0.1,
    iterations: int | None = None,
    pause: float = 0.0,
) -> dict[str, Timing]:
    """Time every contender over ``blocks`` blocks, alternating them block by block.

    Each contender first warms up (one calibration pass, which also fixes its
    iterations per block unless ``iterations`` is given). ``pause`` seconds of
    sleep before each block let the worker threads a peer leaves spinning
    (OpenMP, XLA) go idle, so they do not slow the next contender down.
    """
    counts = {c.name: iterations or calibrate(c, block_seconds) for c in contenders}
    results = {c.name: Timing(c.name, [], counts[c.name]) for c in contenders}
    order = list(contenders)
    for block in range(blocks):
        shift = block % len(order)
        for contender in order[shift:] + order[:shift]:
            if pause:
                time.sleep(pause)
            elapsed = _run_block(contender, counts[contender.name])
            results[contender.name].per_iteration.append(elapsed / counts[contender.name])
    return results


def time_once(function: Callable[[], object], repeat: int = 3) -> float:
    """Best of ``repeat`` wall times of ``function()``, in seconds (for one-off costs)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best
