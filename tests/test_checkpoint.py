"""Checkpoints: a faithful round trip, atomic writes, and a named error for every bad file."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tinygraph.files import atomic_write

SHAPE = (2, 3, 3)  # tiny pictures: 18 features


@pytest.fixture
def saved(tmp_path):
    w = np.linspace(-1, 1, 18).reshape(18, 1)
    path = save_checkpoint(tmp_path / "model.h5", w, -0.25, SHAPE, [b"non-cat", b"cat"],
                           learning_rate=0.005, num_iterations=2000, test_accuracy=70.0, data="somewhere")
    return path, w


def test_round_trip(saved):
    path, w = saved
    loaded = load_checkpoint(path)
    np.testing.assert_array_equal(loaded.w, w)
    assert loaded.b == -0.25 and isinstance(loaded.b, float)
    assert loaded.image_shape == SHAPE
    assert loaded.classes.tolist() == [b"non-cat", b"cat"]
    assert loaded.info == {"learning_rate": 0.005, "num_iterations": 2000, "test_accuracy": 70.0, "data": "somewhere"}


def test_saving_is_atomic_and_leaves_no_temporary_files(saved, monkeypatch):
    path, w = saved
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(h5py.Group, "create_dataset", broken)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, w * 2, 1.0, SHAPE, ["non-cat", "cat"])
    assert path.read_bytes() == before  # the old checkpoint is untouched
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # and no temporary file is left


def test_saved_files_get_ordinary_permissions(saved):
    path, _ = saved
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_saving_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"w of shape \(17, 1\) does not fit pictures of shape \(2, 3, 3\)"):
        save_checkpoint(tmp_path / "m.h5", np.zeros((17, 1)), 0.0, SHAPE, ["non-cat", "cat"])
    with pytest.raises(FileNotFoundError, match=r"directory .*missing does not exist"):
        save_checkpoint(tmp_path / "missing" / "m.h5", np.zeros((18, 1)), 0.0, SHAPE, ["non-cat", "cat"])


def test_atomic_write_removes_the_temporary_file_on_failure(tmp_path):
    target = tmp_path / "figure.png"
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png"
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def edit(path, change):
    with h5py.File(path, "a") as f:
        change(f)


def replace(key, value):
    def change(f):
        del f[key]
        if value is not None:
            f.create_dataset(key, data=value)
    return change


def set_attr(key, value):
    def change(f):
        if value is None:
            del f.attrs[key]
        else:
            f.attrs[key] = value
    return change


def as_group(key):
    def change(f):
        del f[key]
        f.create_group(key)
    return change


BAD = {
    "no format": (set_attr("format", None), r"attribute 'format' is None, expected 'tinygraph\.logistic_regression'"),
    "other format": (set_attr("format", "keras"), r"attribute 'format' is 'keras'.*not a tinygraph checkpoint"),
    "future version": (set_attr("version", 99), r"attribute 'version' is 99; this tinygraph reads version 1"),
    "bad image shape": (set_attr("image_shape", np.array([3, 6])), r"attribute 'image_shape' is \[3, 6\], expected"),
    "grey image shape": (set_attr("image_shape", np.array([3, 6, 1])),
                         r"attribute 'image_shape' is \[3, 6, 1\], expected"),
    "missing w": (replace("w", None), r"missing dataset 'w'"),
    "missing b": (replace("b", None), r"missing dataset 'b'"),
    "missing classes": (replace("classes", None), r"missing dataset 'classes'"),
    "w a group": (as_group("w"), r"'w' is a group, expected a dataset"),
    "w wrong shape": (replace("w", np.zeros((18,))), r"dataset 'w' is float64 \(18,\), expected float64 \(18, 1\)"),
    "w wrong size": (replace("w", np.zeros((12, 1))), r"dataset 'w' is float64 \(12, 1\), expected float64 \(18, 1\) "
                                                      r"for pictures of shape \(2, 3, 3\)"),
    "w float32": (replace("w", np.zeros((18, 1), np.float32)), r"dataset 'w' is float32"),
    "b a vector": (replace("b", np.zeros(2)), r"dataset 'b' is float64 \(2,\), expected a float64 scalar"),
    "b an int": (replace("b", np.int64(3)), r"dataset 'b' is int64 \(\), expected a float64 scalar"),
    "w with NaN": (replace("w", np.full((18, 1), np.nan)), r"'w' or 'b' holds NaN or infinity"),
    "three classes": (replace("classes", np.array([b"a", b"b", b"c"])), r"dataset 'classes' is \|S1 \(3,\)"),
    "numeric classes": (replace("classes", np.array([0, 1])), r"dataset 'classes' is int64 \(2,\)"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_checkpoints_raise_errors_naming_file_and_key(saved, case):
    path, _ = saved
    change, message = BAD[case]
    edit(path, change)
    with pytest.raises(CheckpointError, match=rf"checkpoint .*model\.h5: {message}"):
        load_checkpoint(path)


def test_missing_and_non_hdf5_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"checkpoint .*nothing\.h5 does not exist"):
        load_checkpoint(tmp_path / "nothing.h5")
    text = tmp_path / "notes.h5"
    text.write_text("w = 1, b = 2")
    with pytest.raises(CheckpointError, match=r"checkpoint .*notes\.h5: not an HDF5 file"):
        load_checkpoint(text)
