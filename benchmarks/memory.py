"""Memory of a training step, traced by ``tracemalloc``: tinygraph against hand-written numpy.

For each contender of a workload (the deep net, by default), with the data
already made and outside the trace:

1. one untraced warm-up (build the contender, take two steps, drop it), so
   that modules imported and process-wide caches filled on first use are not
   counted against whichever contender runs first;
2. tracing starts; the contender is built (tinygraph keeps buffers between
   steps, so what it allocates when built and on its first steps counts) and
   takes ``steps`` steps;
3. reported: the peak of traced memory over construction and all the steps;
   the peak over the steps after the first ``settle`` (a step of training
   under way: what it holds plus what one step allocates for a while);
   the traced memory still held after them (parameters, buffers, caches);
   and the growth, traced memory after ``steps`` steps minus after the first
   ``settle`` (100) steps, which a leak would make grow with ``steps``.

numpy reports its array buffers to ``tracemalloc``, so arrays count as well
as Python objects. Both current readings follow a ``gc.collect()``.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

from .workloads import Data, Implementation


@dataclass
class MemoryRow:
    name: str
    peak_bytes: int      # the most traced at once, over construction and every step
    step_peak_bytes: int  # the most traced at once over the steps after the first ``settle``: a running step
    held_bytes: int      # traced after the last step, the data excluded
    growth_bytes: int    # traced after ``steps`` steps minus after ``settle`` steps
    settle: int
    steps: int


def measure(name: str, make: Callable[[Data], Implementation], data: Data, steps: int,
            settle: int = 100) -> MemoryRow:
    """Trace building ``make(data)`` and ``steps`` of its steps (see the module's docstring)."""
    settle = max(1, min(settle, steps))
    warm = make(data)
    warm.step()
    warm.step()
    warm.finish()
    del warm
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if was_tracing:
        tracemalloc.stop()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        impl = make(data)
        for _ in range(settle):
            impl.step()
        impl.finish()
        gc.collect()
        settled, peak_so_far = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(steps - settle):
            impl.step()
        impl.finish()
        gc.collect()
        current, step_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        if was_tracing:
            tracemalloc.start()
    del impl
    peak = max(peak_so_far, step_peak)
    return MemoryRow(name, peak - base, step_peak - base, current - base, current - settled, settle, steps)
