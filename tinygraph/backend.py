"""The array library the ops compute with: one place to swap numpy for another.

Every op and the executor take their array functions from :data:`xp` and their
array type from :data:`ndarray`, never from ``numpy`` by name, so a library with
numpy's API (CuPy, say) can stand in. ``TINYGRAPH_ARRAY_MODULE=cupy`` selects
it when tinygraph is first imported; numpy is the default and the only one
tested here.
"""

from __future__ import annotations

import importlib
import os

xp = importlib.import_module(os.environ.get("TINYGRAPH_ARRAY_MODULE", "numpy"))
ndarray = xp.ndarray

__all__ = ["xp", "ndarray"]
