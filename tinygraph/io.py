"""Saving and loading parameters, optimizer state and metadata as checksummed HDF5 files.

    tg.save("model.h5", model, optimizer=opt, epoch=3)   # a module, a dict or a list of parameters
    params, meta = tg.load("model.h5")                   # {name: array}, {"epoch": 3, "optimizer": {...}}
    meta = tg.load_into(model, "model.h5")               # into existing parameters, by name

The file is one tree, written by one writer and read back by one reader::

    /            attrs format="tinygraph.checkpoint", version=1
    /params/NAME one dataset per parameter, in the order given
    /meta/KEY    the keyword arguments of save()
    /optimizer/  the optimizer's state_dict(), when one was given

Every leaf is a dataset with two attributes: ``kind`` (how to give it back:
``array``, ``int``, ``str``, ``none``...) and ``sha256``, the digest of its
dtype, shape and bytes; every group lists its children in a ``keys``
attribute (so order is kept and a missing entry is noticed). Loading checks
all three, so a flipped byte, a truncated file or a missing array is a
:class:`CheckpointError` naming the file and the entry, never a silent load.
The metadata checksums of HDF5 itself (its 1.10 file format) guard the
structure. Files are written atomically: an interrupted save leaves the old
file as it was.

A checkpoint holds arrays (numbers, booleans, bytes), Python and numpy
numbers, ``str``, ``bytes``, ``None``, and dicts (string keys), lists and
tuples of these, which come back as they went in.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import TinygraphError
from .files import atomic_write
from .node import Parameter

__all__ = ["FORMAT", "VERSION", "CheckpointError", "load", "load_into", "open_hdf5", "parameters_by_name", "save"]

FORMAT = "tinygraph.checkpoint"
VERSION = 1

PathLike = str | os.PathLike

# how each leaf comes back: Python numbers by their type, the rest by name
_NUMBERS = {"bool": bool, "int": int, "float": float, "complex": complex}
_ARRAY_KINDS = "biufcS"  # numpy dtype kinds HDF5 stores as they are: numbers, booleans, bytes
_GROUPS = {"dict": dict, "list": list, "tuple": tuple}


class CheckpointError(TinygraphError, ValueError):
    """A checkpoint cannot be written, read, or loaded into the parameters given."""


# --- saving ----------------------------------------------------------------------------------------

def save(path: PathLike, params: Any, *, optimizer: Any = None, **meta: Any) -> Path:
    """Write ``params`` (and ``optimizer``'s state, and ``meta``) to the HDF5 file ``path``, atomically.

    ``params`` is anything with ``named_parameters()`` (an ``nn.Module``), a
    dict name → parameter or array, or a list of parameters (keyed by their
    ``.name``, which must then be unique). ``optimizer`` is an object with
    ``state_dict()`` or that dict itself; it comes back from :func:`load` as
    ``meta["optimizer"]``. ``meta``'s values may be any of the kinds listed in
    the module docstring. Returns ``path``.
    """
    import h5py

    path = Path(path)
    named = parameters_by_name(params)
    tree: dict[str, Any] = {"params": {name: _array(value) for name, value in named.items()}, "meta": meta}
    if optimizer is not None:
        tree["optimizer"] = optimizer.state_dict() if hasattr(optimizer, "state_dict") else optimizer
    if path.is_dir():  # os.replace would fail only at the end, naming the temporary file
        raise IsADirectoryError(f"cannot write checkpoint {path}: it is a directory")
    with atomic_write(path) as tmp, h5py.File(tmp, "w", libver=("v110", "latest")) as f:
        f.attrs["format"] = FORMAT
        f.attrs["version"] = VERSION
        _write_group(f, tree, "")
    return path


def parameters_by_name(params: Any) -> dict[str, Any]:
    """``params`` as an ordered dict name → parameter (or array), with every name checked.

    Accepts what :func:`save` accepts; raises :class:`CheckpointError` for a
    missing, duplicated or unstorable name and ``TypeError`` for anything else.
    """
    if hasattr(params, "named_parameters"):
        pairs = list(params.named_parameters())
    elif isinstance(params, Mapping):
        pairs = list(params.items())
    elif isinstance(params, Parameter):
        pairs = [(params.name, params)]
    else:
        try:
            items = list(params)
        except TypeError:
            raise TypeError(f"parameters must be a module, a dict or a list of parameters, "
                            f"got a {type(params).__name__}") from None
        for i, item in enumerate(items):
            if not isinstance(item, Parameter):
                raise TypeError(f"parameter list item {i} is a {type(item).__name__}, expected a tinygraph "
                                f"Parameter (to save plain arrays, pass a dict name -> array)")
        pairs = [(p.name, p) for p in items]
    named: dict[str, Any] = {}
    for name, value in pairs:
        _check_key(name, "parameter name")
        if name in named:
            raise CheckpointError(f"two parameters are named {name!r}: a checkpoint keys them by name, "
                                  f"so the names must be unique")
        named[name] = value
    return named


def _array(value: Any) -> np.ndarray:
    return value.value if isinstance(value, Parameter) else np.asarray(value)


def _check_key(key: Any, what: str) -> None:
    # HDF5 nests groups at "/", ends a name at NUL, and cannot name a link "" or "."
    if not isinstance(key, str) or key in ("", ".") or "/" in key or "\0" in key:
        raise CheckpointError(f"{what} {key!r} cannot be stored: names are non-empty strings without '/' or NUL")


def _write_group(group: Any, tree: Mapping[str, Any] | list | tuple, where: str) -> None:
    if isinstance(tree, Mapping):
        items = list(tree.items())
        for key, _ in items:
            _check_key(key, f"key in {where!r}" if where else "key")
    else:
        items = [(str(i), value) for i, value in enumerate(tree)]
    group.attrs["kind"] = "dict" if isinstance(tree, Mapping) else type(tree).__name__
    group.attrs["keys"] = json.dumps([key for key, _ in items])
    for key, value in items:
        inner = f"{where}/{key}" if where else key
        if isinstance(value, Mapping | list | tuple):
            _write_group(group.create_group(key), value, inner)
        else:
            array, kind = _encode(value, inner)
            dataset = group.create_dataset(key, data=array)
            dataset.attrs["kind"] = kind
            dataset.attrs["sha256"] = _digest(array)


def _encode(value: Any, where: str) -> tuple[np.ndarray, str]:
    """A leaf as ``(array, kind)``: the array HDF5 stores and how to give the value back."""
    if value is None:
        return np.zeros(0, np.uint8), "none"
    if isinstance(value, str):
        return np.frombuffer(value.encode(), np.uint8), "str"
    if isinstance(value, bytes):
        return np.frombuffer(value, np.uint8), "bytes"
    kind = type(value).__name__ if type(value).__name__ in _NUMBERS else None
    if kind is None and isinstance(value, np.generic):
        kind = "scalar"
    elif kind is None and isinstance(value, np.ndarray):
        kind = "array"
    array = np.asarray(value) if kind else None
    if array is None or array.dtype.kind not in _ARRAY_KINDS:
        what = f"an array of {array.dtype}" if array is not None else f"a {type(value).__name__}"
        raise CheckpointError(f"cannot save {where!r}: it is {what}; a checkpoint holds arrays of numbers, "
                              f"booleans or bytes, numbers, str, bytes, None, and dicts, lists and tuples of them")
    return array, kind


def _digest(array: np.ndarray) -> str:
    """sha256 of the array's dtype, shape and bytes, in little-endian order whatever the machine's."""
    array = np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")
    digest = hashlib.sha256(f"{array.dtype.str} {array.shape} ".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


# --- loading ------------------------------------------------------------------------------------------

def load(path: PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a checkpoint written by :func:`save`: ``(params, meta)``.

    ``params`` maps each name to its array, in the order saved; ``meta`` holds
    the keyword arguments given to :func:`save`, and the optimizer's state as
    ``meta["optimizer"]`` when one was saved. Every entry is verified against
    its checksum. Raises ``FileNotFoundError`` for a missing file and
    :class:`CheckpointError` naming the file (and the entry) for anything else.
    """
    path = Path(path)
    with open_hdf5(path) as f:
        found = _text(f.attrs.get("format"))
        if found != FORMAT:
            raise CheckpointError(f"checkpoint {path}: attribute 'format' is {found!r}, expected {FORMAT!r}: "
                                  f"not a tinygraph checkpoint")
        version = f.attrs.get("version")
        version = version.item() if isinstance(version, np.generic) else _text(version)
        if not isinstance(version, int) or not 1 <= version <= VERSION:
            raise CheckpointError(f"checkpoint {path}: attribute 'version' is {version!r}; this tinygraph reads "
                                  f"versions up to {VERSION} (a newer tinygraph may have written the file)")
        tree = _read(f, "", path)
    if not isinstance(tree, dict) or not isinstance(tree.get("params"), dict) or not isinstance(tree.get("meta"), dict):
        raise CheckpointError(f"checkpoint {path}: expected the groups 'params' and 'meta', found {list(tree)}")
    params = tree["params"]
    for name, value in params.items():
        if not isinstance(value, np.ndarray):
            raise CheckpointError(f"checkpoint {path}: 'params/{name}' is a {type(value).__name__}, expected an array")
    meta = tree["meta"]
    if "optimizer" in tree:
        meta["optimizer"] = tree["optimizer"]
    return params, meta


def load_into(params: Any, path: PathLike) -> dict[str, Any]:
    """Load the checkpoint at ``path`` into existing parameters, by name; return its ``meta``.

    ``params`` is what :func:`save` accepts (a module, a dict name → parameter
    or writable array, a list of parameters). Unless every name is in both and
    every shape agrees, nothing is changed and :class:`CheckpointError` lists
    each difference. Values are converted to each parameter's dtype.
    """
    targets = parameters_by_name(params)
    arrays, meta = load(path)
    differences = [f"missing from the checkpoint: {name}" for name in targets if name not in arrays]
    differences += [f"in the checkpoint only: {name}" for name in arrays if name not in targets]
    for name, target in targets.items():
        if not isinstance(target, Parameter | np.ndarray):
            raise TypeError(f"cannot load into {name!r}, a {type(target).__name__}: expected a Parameter or an array")
        saved = arrays.get(name)
        if saved is None:
            continue
        if tuple(saved.shape) != tuple(target.shape):
            differences.append(f"{name}: shape {tuple(target.shape)} here, {tuple(saved.shape)} in the checkpoint")
        elif not np.can_cast(saved.dtype, target.dtype, casting="same_kind"):
            differences.append(f"{name}: dtype {target.dtype} here, {saved.dtype} in the checkpoint")
    if differences:
        raise CheckpointError(f"checkpoint {path} does not match the parameters it is loaded into:\n  "
                              + "\n  ".join(differences))
    for name, target in targets.items():
        if isinstance(target, Parameter):
            target.value = arrays[name]  # the setter converts to the parameter's dtype
        else:
            np.copyto(target, arrays[name], casting="same_kind")
    return meta


@contextlib.contextmanager
def open_hdf5(path: PathLike, what: str = "checkpoint", error: type[Exception] = CheckpointError) -> Iterator[Any]:
    """Open an HDF5 file for reading, with errors that name the file and say what is wrong.

    ``what`` names the file in messages ("checkpoint", "data file"); ``error``
    is raised for a file that is not HDF5, and for any ``OSError``,
    ``RuntimeError`` or ``KeyError`` while it is open (HDF5's ways of
    reporting a damaged or truncated file). A missing path raises ``FileNotFoundError``, a directory
    ``IsADirectoryError``.
    """
    import h5py

    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a directory, expected a file")
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    if not h5py.is_hdf5(path):
        raise error(f"{what} {path}: not an HDF5 file")
    # h5py's own messages do not name the file
    try:
        with h5py.File(path, "r") as f:
            yield f
    except (OSError, RuntimeError, KeyError) as failure:
        raise error(f"{what} {path} is damaged or truncated ({failure})") from None


def _text(value: Any) -> Any:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _read(node: Any, where: str, path: Path) -> Any:
    """The value stored at ``node`` (a group or a dataset), every checksum verified."""
    import h5py

    entry = repr(where) if where else "the root"

    def fail(what: str) -> CheckpointError:
        return CheckpointError(f"checkpoint {path}: {entry} {what}")

    try:
        kind = _text(node.attrs.get("kind"))
        if isinstance(node, h5py.Group):
            if kind not in _GROUPS:
                raise fail(f"has kind {kind!r}, expected one of {sorted(_GROUPS)}: the file is damaged")
            keys = json.loads(node.attrs["keys"])
            for key in keys:
                if key not in node:
                    raise fail(f"is missing {key!r} (it lists {keys})")
            extra = sorted(set(node) - set(keys))
            if extra:
                raise fail(f"holds {extra}, which it does not list {keys}: the file was changed after it was written")
            values = {key: _read(node[key], f"{where}/{key}" if where else key, path) for key in keys}
            return values if kind == "dict" else _GROUPS[kind](values.values())
        if kind not in _NUMBERS and kind not in ("none", "str", "bytes", "scalar", "array"):
            raise fail(f"has kind {kind!r}: the file is damaged")
        array = node[...]  # an ndarray even when 0-d: node[()] would give a scalar, losing a bytes dtype's width
        stored = _text(node.attrs.get("sha256"))
    except CheckpointError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as failure:
        raise fail(f"cannot be read: the file is damaged or truncated ({failure})") from None
    if stored != _digest(array):
        raise fail(f"fails its checksum (sha256 stored {str(stored)[:12]}..., computed "
                   f"{_digest(array)[:12]}...): the file is damaged")
    return _decode(array, kind)


def _decode(array: np.ndarray, kind: str) -> Any:
    if kind == "none":
        return None
    if kind == "str":
        return array.tobytes().decode()
    if kind == "bytes":
        return array.tobytes()
    if kind == "scalar":
        return array[()]
    if kind == "array":
        return array
    return _NUMBERS[kind](array.item())
