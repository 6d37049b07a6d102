"""The course's cat / non-cat pictures, and a synthetic stand-in with the same layout.

:func:`load_dataset` reads the course's two HDF5 files, ``train_catvnoncat.h5``
(``train_set_x``: (m, 64, 64, 3) uint8 pictures, ``train_set_y``: (m,) int64
labels 0/1, ``list_classes``: ``[b'non-cat', b'cat']``) and
``test_catvnoncat.h5`` (``test_set_x``, ``test_set_y``, ``list_classes``),
checking every key, shape and dtype on the way in.

Where the files come from, first match wins:

1. the ``path`` argument (``tinygraph train --data DIR``);
2. the environment variable ``TINYGRAPH_DATA``;
3. the embedded default: the course's files cannot be shipped, so tinygraph
   generates a deterministic synthetic stand-in on first use, in the same
   layout, into ``$TINYGRAPH_HOME`` (default ``~/.cache/tinygraph``), and
   reads it back through the same loader. It says so on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from tinygraph.files import atomic_write
from tinygraph.io import open_hdf5

__all__ = [
    "CLASSES", "DATA_ENV", "HOME_ENV", "SYNTHETIC_VERSION", "DatasetError", "cache_dir", "load_dataset",
    "load_split", "resolve_data_dir", "synthetic_dataset", "synthetic_dir",
]

DATA_ENV = "TINYGRAPH_DATA"
HOME_ENV = "TINYGRAPH_HOME"
FILES = {"train": "train_catvnoncat.h5", "test": "test_catvnoncat.h5"}
CLASSES = np.array([b"non-cat", b"cat"])
SYNTHETIC_VERSION = "tinygraph synthetic cat/non-cat v1"

Dataset = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
PathLike = str | os.PathLike


class DatasetError(ValueError):
    """A data file is not in the course's layout: a bad file, key, shape or dtype."""


# --- reading and checking the course's layout ---------------------------------

def load_split(path: PathLike, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read one course file: ``(pictures (m, h, w, 3) uint8, labels (1, m) int64, classes)``.

    ``split`` is ``"train"`` or ``"test"`` and names the keys (``train_set_x``...).
    Raises ``FileNotFoundError`` for a missing file and :class:`DatasetError`
    naming the file and key for anything not in the course's layout.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist (expected the course's {FILES[split]})")
    x_key, y_key = f"{split}_set_x", f"{split}_set_y"
    with open_hdf5(path, "data file", DatasetError) as f:  # a damaged or truncated file is named as such
        x, y, classes = (_read(f, path, key) for key in (x_key, y_key, "list_classes"))

    def bad(key: str, what: str) -> DatasetError:
        return DatasetError(f"data file {path}, key {key!r}: {what}")

    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise bad(x_key, f"expected uint8 pictures of shape (m, height, width, 3), found {x.dtype} {x.shape}")
    if len(x) == 0:
        raise bad(x_key, "holds no pictures")
    if not np.issubdtype(y.dtype, np.integer) or y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[0] != 1):
        raise bad(y_key, f"expected integer labels of shape (m,) or (1, m), found {y.dtype} {y.shape}")
    y = y.reshape(1, -1)
    if y.shape[1] != len(x):
        raise bad(y_key, f"{y.shape[1]} labels for the {len(x)} pictures of {x_key!r}")
    if classes.ndim != 1 or classes.dtype.kind not in "SU" or len(classes) != 2:
        raise bad("list_classes", f"expected two class names, found {classes.dtype} {classes.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise bad(y_key, f"labels must be 0 ({class_name(classes[0])}) or 1 ({class_name(classes[1])}), "
                         f"found {sorted(set(np.unique(y).tolist()) - {0, 1})[:5]}")
    return x, y.astype(np.int64, copy=False), classes


def _read(f, path: Path, key: str) -> np.ndarray:
    import h5py

    if key not in f:
        raise DatasetError(f"data file {path}: missing key {key!r} (found {sorted(f.keys())})")
    if not isinstance(f[key], h5py.Dataset):
        raise DatasetError(f"data file {path}, key {key!r}: a group, expected a dataset")
    return f[key][()]


def class_name(label: bytes | str) -> str:
    """A class name as text: the course stores them as bytes (``b'cat'``)."""
    return label.decode() if isinstance(label, bytes) else str(label)


def _load_dir(directory: Path) -> Dataset:
    train_x, train_y, train_classes = load_split(directory / FILES["train"], "train")
    test_x, test_y, classes = load_split(directory / FILES["test"], "test")
    if train_x.shape[1:] != test_x.shape[1:]:
        raise DatasetError(f"data file {directory / FILES['test']}, key 'test_set_x': pictures of shape "
                           f"{test_x.shape[1:]}, but the training pictures are {train_x.shape[1:]}")
    if train_classes.tolist() != classes.tolist():
        raise DatasetError(f"data file {directory / FILES['test']}, key 'list_classes': {classes.tolist()} "
                           f"differs from the training file's {train_classes.tolist()}")
    return train_x, train_y, test_x, test_y, classes


# --- where the data comes from ------------------------------------------------------

def cache_dir() -> Path:
    """tinygraph's cache: ``$TINYGRAPH_HOME``, else ``~/.cache/tinygraph``."""
    home = os.environ.get(HOME_ENV)
    return Path(home) if home else Path.home() / ".cache" / "tinygraph"


def synthetic_dir() -> Path:
    """Where the synthetic stand-in's two files live."""
    return cache_dir() / "synthetic-catvnoncat-v1"


def resolve_data_dir(path: PathLike | None = None) -> tuple[Path | None, str]:
    """``(directory, how it was chosen)``; directory ``None`` means the embedded default."""
    if path is not None:
        return Path(path), "--data / path argument"
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]), f"${DATA_ENV}"
    return None, "embedded synthetic default"


def load_dataset(path: PathLike | None = None) -> Dataset:
    """The course's data: ``(train_set_x_orig, train_set_y, test_set_x_orig, test_set_y, classes)``.

    Pictures are (m, height, width, 3) uint8, labels (1, m) int64 rows of 0/1,
    classes the course's ``[b'non-cat', b'cat']``. ``path`` is a directory
    holding ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``; without it,
    ``$TINYGRAPH_DATA``; without that, the synthetic stand-in (announced on stderr).
    """
    directory, how = resolve_data_dir(path)
    if directory is None:
        return _load_synthetic()
    if not directory.is_dir():
        raise FileNotFoundError(f"data directory {directory} (from {how}) does not exist")
    return _load_dir(directory)


# --- the synthetic stand-in ------------------------------------------------------------

def _load_synthetic() -> Dataset:
    directory = synthetic_dir()
    try:
        data = _load_dir(directory)
        fresh = all(_is_current(directory / name) for name in FILES.values())
    except (OSError, DatasetError):  # missing, truncated, foreign: make it anew
        fresh = False
    if not fresh:
        write_synthetic(directory)
        data = _load_dir(directory)
    print(f"tinygraph: using the synthetic stand-in for the course's cat pictures ({directory}); "
          f"pass --data DIR or set {DATA_ENV} for the real files", file=sys.stderr)
    return data


def _is_current(path: Path) -> bool:
    import h5py

    with h5py.File(path, "r") as f:
        made_by = f.attrs.get("generator")
    return (made_by.decode() if isinstance(made_by, bytes) else made_by) == SYNTHETIC_VERSION


def write_synthetic(directory: PathLike) -> Path:
    """Generate the synthetic stand-in into ``directory`` (created if needed), atomically per file."""
    import h5py

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = synthetic_dataset()
    for split, (x, y) in zip(FILES, (data[0:2], data[2:4]), strict=True):
        with atomic_write(directory / FILES[split]) as tmp, h5py.File(tmp, "w") as f:
            f.attrs["generator"] = SYNTHETIC_VERSION
            f.create_dataset(f"{split}_set_x", data=x)
            f.create_dataset(f"{split}_set_y", data=y.reshape(-1))
            f.create_dataset("list_classes", data=CLASSES)
    return directory


def synthetic_dataset(seed: int = 2017) -> Dataset:
    """The stand-in's arrays, deterministic for a ``seed``: same shapes, dtypes and class counts as the course's.

    Cats are warm-furred round faces with two ears and two eyes; non-cats are
    squares, discs and houses in any colour, on the same kind of backgrounds.
    Colours overlap and a few labels are deliberately wrong, so a linear model
    separates the classes mostly, not perfectly.
    """
    rng = np.random.default_rng(seed)
    splits = []
    for m, cats in ((209, 72), (50, 33)):  # the course's sizes and class counts
        labels = np.zeros(m, dtype=np.int64)
        labels[rng.choice(m, cats, replace=False)] = 1
        pictures = np.stack([_picture(rng, bool(label)) for label in labels])
        flipped = rng.random(m) < 0.04  # label noise: nothing is perfectly separable
        splits += [pictures, np.where(flipped, 1 - labels, labels).reshape(1, m)]
    return splits[0], splits[1], splits[2], splits[3], CLASSES.copy()


_SIZE = 64
_YY, _XX = np.mgrid[0:_SIZE, 0:_SIZE].astype(np.float64)


def _colour(rng: np.random.Generator, warm: bool) -> np.ndarray:
    """An RGB colour in 0..1: warm (ginger, brown, cream, grey) fur, or anything."""
    if warm:
        base = np.array([[0.85, 0.5, 0.2], [0.45, 0.3, 0.2], [0.9, 0.8, 0.6], [0.5, 0.5, 0.5]])[rng.integers(4)]
        return np.clip(base * rng.uniform(0.7, 1.2) + rng.normal(0, 0.07, 3), 0, 1)
    # Other objects lean blue-green: red below blue, as a linear model can see.
    red, blue = np.sort(rng.random(2))
    return np.array([red, rng.random(), blue])


def _triangle(tips: np.ndarray) -> np.ndarray:
    """Mask of the pixels inside the triangle with corners ``tips`` (3 × (x, y))."""
    (x1, y1), (x2, y2), (x3, y3) = tips
    d1 = (_XX - x2) * (y1 - y2) - (x1 - x2) * (_YY - y2)
    d2 = (_XX - x3) * (y2 - y3) - (x2 - x3) * (_YY - y3)
    d3 = (_XX - x1) * (y3 - y1) - (x3 - x1) * (_YY - y1)
    negative = (d1 < 0) | (d2 < 0) | (d3 < 0)
    positive = (d1 > 0) | (d2 > 0) | (d3 > 0)
    return ~(negative & positive)


def _picture(rng: np.random.Generator, cat: bool) -> np.ndarray:
    """One 64×64×3 uint8 picture: a background gradient, then a cat face or another object."""
    top, bottom = rng.uniform(0.2, 0.8, (2, 3))  # muted, so the object stands out
    t = (_YY / (_SIZE - 1))[..., None]
    image = (1 - t) * top + t * bottom
    cx, cy = rng.uniform(26, 38, 2)
    r = rng.uniform(11, 18)
    if cat:
        fur = _colour(rng, warm=True)
        for side in (-1, 1):
            ear = np.array([[cx + side * 0.9 * r, cy - 0.3 * r], [cx + side * 0.25 * r, cy - 0.8 * r],
                            [cx + side * 0.85 * r, cy - 1.5 * r]])
            image[_triangle(ear)] = fur
        image[(_XX - cx) ** 2 + (_YY - cy) ** 2 <= r * r] = fur
        eye_colour = np.array([0.3, 0.7, 0.2]) if rng.random() < 0.5 else np.array([0.8, 0.7, 0.1])
        for side in (-1, 1):
            image[(_XX - cx - side * 0.4 * r) ** 2 + (_YY - cy + 0.15 * r) ** 2 <= (0.15 * r) ** 2] = eye_colour
    else:
        colour = _colour(rng, warm=rng.random() < 0.15)
        kind = rng.integers(3)
        if kind == 0:  # a disc
            mask = (_XX - cx) ** 2 + (_YY - cy) ** 2 <= r * r
        else:  # a square, with a roof for a house
            mask = (np.abs(_XX - cx) <= r * 0.9) & (np.abs(_YY - cy) <= r * 0.9)
            if kind == 2:
                mask |= _triangle(np.array([[cx - r, cy - 0.9 * r], [cx + r, cy - 0.9 * r], [cx, cy - 1.8 * r]]))
        image[mask] = colour
    image += rng.normal(0, 0.04, image.shape)
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
