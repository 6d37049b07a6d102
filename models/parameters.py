"""The course's parameter dictionaries (``{"W1": array, "b1": array, ...}``) and a graph's parameters.

Every model keeps its weights as tinygraph parameters and speaks the course's
dictionaries at its edges: these two functions are that translation, shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import tinygraph as tg


def load_parameters(nodes: Mapping[str, tg.Parameter], parameters: Mapping[str, Any], needs: str) -> None:
    """Copy each ``parameters[key]`` into ``nodes[key]``; a wrong shape is an error saying what ``needs`` it.

    ``needs`` completes the message: ``"layers [2, 4, 1] need"``. The arrays are copied,
    because training updates the parameters' values in place.
    """
    missing = [key for key in nodes if key not in parameters]
    if missing:
        raise KeyError(f"parameters lack {', '.join(missing)}: {needs} {', '.join(nodes)}")
    for key, node in nodes.items():
        value = np.array(parameters[key], dtype=np.float64)
        if value.shape != node.shape:
            raise ValueError(f"parameters[{key!r}] has shape {value.shape}; {needs} {node.shape}")
        node.value = value


def parameter_values(nodes: Mapping[str, tg.Parameter]) -> dict[str, np.ndarray]:
    """Copies of the parameters' values, as the course's dictionary of arrays."""
    return {key: node.value.copy() for key, node in nodes.items()}
