"""Checkpoints of the trained logistic-regression model, as small HDF5 files.

A checkpoint holds the datasets ``w`` (float64, (features, 1)), ``b``
(float64, scalar) and ``classes`` (the class names, as the course's
``list_classes``), and the attributes ``format``, ``version`` and
``image_shape`` (the (height, width, 3) pictures the model reads), plus
whatever training facts were passed along (learning rate, accuracies...).

Files are written atomically: into a temporary file in the same directory,
then renamed over the target, so a crash never leaves half a checkpoint.
Loading checks every name, shape and dtype and says what is wrong, and where.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygraph.files import atomic_write

__all__ = ["FORMAT", "VERSION", "Checkpoint", "CheckpointError", "load_checkpoint", "save_checkpoint"]

FORMAT = "tinygraph.logistic_regression"
VERSION = 1

PathLike = str | os.PathLike


class CheckpointError(ValueError):
    """A checkpoint file is not readable as a tinygraph logistic-regression checkpoint."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model's ``w`` and ``b`` and what it was trained on."""

    w: np.ndarray
    b: float
    image_shape: tuple[int, int, int]
    classes: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path: PathLike,
    w: np.ndarray,
    b: float,
    image_shape: Sequence[int],
    classes: Sequence[Any],
    **info: Any,
) -> Path:
    """Write ``w``, ``b``, the picture shape and class names to ``path`` atomically.

    ``info`` (numbers and strings: learning rate, accuracies...) is stored as
    attributes and comes back in :attr:`Checkpoint.info`.
    """
    import h5py

    w = np.asarray(w, dtype=np.float64)
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3 or w.shape != (int(np.prod(image_shape)), 1):
        raise ValueError(f"w of shape {w.shape} does not fit pictures of shape {image_shape}")
    classes = np.asarray([c.encode() if isinstance(c, str) else bytes(c) for c in classes])
    with atomic_write(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["version"] = VERSION
        f.attrs["image_shape"] = np.asarray(image_shape, dtype=np.int64)
        for key, value in info.items():
            f.attrs[key] = value
        f.create_dataset("w", data=w)
        f.create_dataset("b", data=np.float64(b))
        f.create_dataset("classes", data=classes)
    return Path(path)


def _fail(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path}: {what}")


def _dataset(f: Any, path: Path, key: str) -> np.ndarray:
    import h5py

    if key not in f:
        raise _fail(path, f"missing dataset {key!r} (a checkpoint holds 'w', 'b' and 'classes')")
    if not isinstance(f[key], h5py.Dataset):
        raise _fail(path, f"{key!r} is a group, expected a dataset")
    return f[key][()]


def load_checkpoint(path: PathLike) -> Checkpoint:
    """Read and validate a checkpoint written by :func:`save_checkpoint`.

    Raises ``FileNotFoundError`` for a missing file and :class:`CheckpointError`
    naming the file and the offending key for anything else.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if not h5py.is_hdf5(path):
        raise _fail(path, "not an HDF5 file")
    with h5py.File(path, "r") as f:
        found = f.attrs.get("format")
        found = found.decode() if isinstance(found, bytes) else found
        if found != FORMAT:
            raise _fail(path, f"attribute 'format' is {found!r}, expected {FORMAT!r}: not a tinygraph checkpoint")
        version = f.attrs.get("version")
        version = version.item() if isinstance(version, np.generic) else version
        if version != VERSION:
            raise _fail(path, f"attribute 'version' is {version!r}; this tinygraph reads version {VERSION}")
        shape = np.asarray(f.attrs.get("image_shape", ()))
        if shape.shape != (3,) or not np.issubdtype(shape.dtype, np.integer) or shape[2] != 3 or np.any(shape < 1):
            raise _fail(path, f"attribute 'image_shape' is {shape.tolist()!r}, expected (height, width, 3)")
        image_shape = tuple(int(d) for d in shape)
        w, b, classes = (_dataset(f, path, key) for key in ("w", "b", "classes"))
        info = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()
                if k not in ("format", "version", "image_shape")}

    features = int(np.prod(image_shape))
    if w.dtype != np.float64 or w.shape != (features, 1):
        raise _fail(path, f"dataset 'w' is {w.dtype} {w.shape}, expected float64 ({features}, 1) "
                          f"for pictures of shape {image_shape}")
    if b.dtype != np.float64 or b.shape != ():
        raise _fail(path, f"dataset 'b' is {b.dtype} {b.shape}, expected a float64 scalar")
    if not (np.all(np.isfinite(w)) and np.isfinite(b)):
        raise _fail(path, "'w' or 'b' holds NaN or infinity")
    if classes.ndim != 1 or classes.dtype.kind not in "SU" or len(classes) != 2:
        raise _fail(path, f"dataset 'classes' is {classes.dtype} {classes.shape}, expected two class names")
    return Checkpoint(w=w, b=float(b), image_shape=image_shape, classes=classes, info=info)
