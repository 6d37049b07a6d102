"""Checkpoints of the trained logistic-regression model, in tinygraph's checkpoint format.

A checkpoint is a :func:`tinygraph.io.save` file (checksummed HDF5, written
atomically) whose parameters are ``w`` (float64, (features, 1)) and ``b``
(float64, scalar) and whose metadata holds ``model`` (``"logistic_regression"``),
``image_shape`` (the (height, width, 3) pictures the model reads) and
``classes`` (the class names, as the course's ``list_classes``), plus whatever
training facts were passed along (learning rate, accuracies...).

Files of the first format (version 1: attributes ``format`` =
``"tinygraph.logistic_regression"`` and ``version`` = 1, datasets ``w``, ``b``
and ``classes``, no checksums) still load. Loading checks every name, shape
and dtype and says what is wrong, and where.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygraph import io

__all__ = ["LEGACY_FORMAT", "MODEL", "Checkpoint", "CheckpointError", "load_checkpoint", "save_checkpoint"]

MODEL = "logistic_regression"  # meta["model"] of the current format
LEGACY_FORMAT = "tinygraph.logistic_regression"  # the 'format' attribute of version-1 files
_OWN_KEYS = ("model", "image_shape", "classes")  # the metadata this module writes; the rest is info

PathLike = str | os.PathLike

CheckpointError = io.CheckpointError  # one error for every checkpoint problem, the library's


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model's ``w`` and ``b`` and what it was trained on.

    ``version`` is 2 for a checksummed file, 1 for a file of the first format.
    """

    w: np.ndarray
    b: float
    image_shape: tuple[int, int, int]
    classes: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    version: int = 2


def save_checkpoint(
    path: PathLike,
    w: np.ndarray,
    b: float,
    image_shape: Sequence[int],
    classes: Sequence[Any],
    **info: Any,
) -> Path:
    """Write ``w``, ``b``, the picture shape and class names to ``path`` atomically.

    ``info`` (numbers and strings: learning rate, accuracies...) comes back in
    :attr:`Checkpoint.info`.
    """
    w = np.asarray(w, dtype=np.float64)
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3 or w.shape != (int(np.prod(image_shape)), 1):
        raise ValueError(f"w of shape {w.shape} does not fit pictures of shape {image_shape}")
    taken = sorted(set(info) & set(_OWN_KEYS))
    if taken:
        raise ValueError(f"{taken} are written by the checkpoint itself; name the information otherwise")
    classes = np.asarray([c.encode() if isinstance(c, str) else bytes(c) for c in classes])
    return io.save(path, {"w": w, "b": np.float64(b)}, model=MODEL, image_shape=image_shape, classes=classes,
                   **info)


def load_checkpoint(path: PathLike) -> Checkpoint:
    """Read and validate a checkpoint written by :func:`save_checkpoint` (or a version-1 file).

    Raises ``FileNotFoundError`` for a missing file and :class:`CheckpointError`
    naming the file and the offending entry for anything else.
    """
    path = Path(path)
    with io.open_hdf5(path) as f:
        legacy = _text(f.attrs.get("format")) == LEGACY_FORMAT
        if legacy:
            return _load_version_1(f, path)
    params, meta = io.load(path)
    if meta.get("model") != MODEL:
        raise _fail(path, f"holds a {meta.get('model')!r} model, expected {MODEL!r}")
    missing = [name for name in ("w", "b") if name not in params]
    if missing or len(params) != 2:
        raise _fail(path, f"holds the parameters {list(params)}, expected 'w' and 'b'")
    info = {key: value for key, value in meta.items() if key not in _OWN_KEYS}
    return _checked(path, params["w"], params["b"], meta.get("image_shape"), meta.get("classes"), info, version=2)


def _fail(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path}: {what}")


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _checked(path: Path, w: np.ndarray, b: np.ndarray, image_shape: Any, classes: Any,
             info: Mapping[str, Any], version: int) -> Checkpoint:
    """A :class:`Checkpoint` from what a file held, once every shape and dtype is what the model needs."""
    shape = np.asarray(image_shape if image_shape is not None else ())
    if shape.shape != (3,) or not np.issubdtype(shape.dtype, np.integer) or shape[2] != 3 or np.any(shape < 1):
        raise _fail(path, f"'image_shape' is {shape.tolist()!r}, expected (height, width, 3)")
    image_shape = tuple(int(d) for d in shape)
    features = int(np.prod(image_shape))
    if w.dtype != np.float64 or w.shape != (features, 1):
        raise _fail(path, f"'w' is {w.dtype} {w.shape}, expected float64 ({features}, 1) "
                          f"for pictures of shape {image_shape}")
    if b.dtype != np.float64 or b.shape != ():
        raise _fail(path, f"'b' is {b.dtype} {b.shape}, expected a float64 scalar")
    if not (np.all(np.isfinite(w)) and np.isfinite(b)):
        raise _fail(path, "'w' or 'b' holds NaN or infinity")
    classes = np.asarray(classes if classes is not None else ())
    if classes.ndim != 1 or classes.dtype.kind not in "SU" or len(classes) != 2:
        raise _fail(path, f"'classes' is {classes.dtype} {classes.shape}, expected two class names")
    return Checkpoint(w=w, b=float(b), image_shape=image_shape, classes=classes, info=dict(info), version=version)


def _load_version_1(f: Any, path: Path) -> Checkpoint:
    """The first format: attributes ``version`` (1) and ``image_shape``, datasets ``w``, ``b``, ``classes``."""
    import h5py

    version = f.attrs.get("version")
    version = version.item() if isinstance(version, np.generic) else version
    if version != 1:
        raise _fail(path, f"attribute 'version' is {version!r}; the {LEGACY_FORMAT!r} format has version 1 "
                          f"(later checkpoints are tinygraph.io files)")

    def dataset(key: str) -> np.ndarray:
        if key not in f:
            raise _fail(path, f"missing dataset {key!r} (a version-1 checkpoint holds 'w', 'b' and 'classes')")
        if not isinstance(f[key], h5py.Dataset):
            raise _fail(path, f"{key!r} is a group, expected a dataset")
        return f[key][()]

    w, b, classes = (np.asarray(dataset(key)) for key in ("w", "b", "classes"))
    info = {k: (v.item() if isinstance(v, np.generic) else _text(v)) for k, v in f.attrs.items()
            if k not in ("format", "version", "image_shape")}
    return _checked(path, w, b, f.attrs.get("image_shape"), classes, info, version=1)
