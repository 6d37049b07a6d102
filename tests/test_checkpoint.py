"""Logistic-regression checkpoints: a faithful round trip, atomic writes, checksums, the first format, and a
named error for every bad file."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from models.checkpoint import LEGACY_FORMAT, MODEL, CheckpointError, load_checkpoint, save_checkpoint
from tinygraph import io
from tinygraph.files import atomic_write

SHAPE = (2, 3, 3)  # tiny pictures: 18 features
CLASSES = np.array([b"non-cat", b"cat"])
INFO = {"learning_rate": 0.005, "num_iterations": 2000, "test_accuracy": 70.0, "data": "somewhere"}


@pytest.fixture
def saved(tmp_path):
    w = np.linspace(-1, 1, 18).reshape(18, 1)
    return save_checkpoint(tmp_path / "model.h5", w, -0.25, SHAPE, [b"non-cat", b"cat"], **INFO), w


def test_round_trip(saved):
    path, w = saved
    loaded = load_checkpoint(path)
    np.testing.assert_array_equal(loaded.w, w)
    assert loaded.b == -0.25 and isinstance(loaded.b, float)
    assert loaded.image_shape == SHAPE
    assert loaded.classes.tolist() == [b"non-cat", b"cat"]
    assert loaded.info == INFO and loaded.version == 2


def test_the_file_is_a_tinygraph_checkpoint(saved):
    path, w = saved
    params, meta = io.load(path)  # any tinygraph tool can read it
    assert list(params) == ["w", "b"] and meta["model"] == MODEL and meta["image_shape"] == SHAPE
    np.testing.assert_array_equal(params["w"], w)


def test_a_flipped_byte_in_w_is_an_error_not_a_prediction(saved):
    path, _ = saved
    with h5py.File(path, "r") as f:
        offset = f["params/w"].id.get_offset()
    data = bytearray(path.read_bytes())
    data[offset + 40] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"checkpoint .*model\.h5: 'params/w' fails its checksum"):
        load_checkpoint(path)


def test_a_truncated_checkpoint_is_named_as_damaged(saved):
    path, _ = saved
    path.write_bytes(path.read_bytes()[:1500])
    with pytest.raises(CheckpointError, match=r"checkpoint .*model\.h5 is damaged or truncated"):
        load_checkpoint(path)


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
    with pytest.raises(ValueError, match=r"\['model'\] are written by the checkpoint itself"):
        save_checkpoint(tmp_path / "m.h5", np.zeros((18, 1)), 0.0, SHAPE, ["non-cat", "cat"], model="mine")


def test_atomic_write_removes_the_temporary_file_on_failure(tmp_path):
    target = tmp_path / "figure.png"
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png"
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


GOOD_W = np.zeros((18, 1))
BAD = {  # what the file holds -> the error; every file here passes tinygraph.io's checks
    "another model": ({"w": GOOD_W, "b": 0.0}, {"model": "planar"}, r"holds a 'planar' model, expected"),
    "missing b": ({"w": GOOD_W}, {}, r"holds the parameters \['w'\], expected 'w' and 'b'"),
    "extra parameter": ({"w": GOOD_W, "b": 0.0, "c": 1.0}, {}, r"holds the parameters \['w', 'b', 'c'\]"),
    "no image shape": ({"w": GOOD_W, "b": 0.0}, {"image_shape": None}, r"'image_shape' is \[\], expected"),
    "grey image shape": ({"w": GOOD_W, "b": 0.0}, {"image_shape": (3, 6, 1)},
                         r"'image_shape' is \[3, 6, 1\], expected \(height, width, 3\)"),
    "w wrong shape": ({"w": np.zeros(18), "b": 0.0}, {}, r"'w' is float64 \(18,\), expected float64 \(18, 1\)"),
    "w wrong size": ({"w": np.zeros((12, 1)), "b": 0.0}, {},
                     r"'w' is float64 \(12, 1\), expected float64 \(18, 1\) for pictures of shape \(2, 3, 3\)"),
    "w float32": ({"w": GOOD_W.astype(np.float32), "b": 0.0}, {}, r"'w' is float32"),
    "b a vector": ({"w": GOOD_W, "b": np.zeros(2)}, {}, r"'b' is float64 \(2,\), expected a float64 scalar"),
    "w with NaN": ({"w": np.full((18, 1), np.nan), "b": 0.0}, {}, r"'w' or 'b' holds NaN or infinity"),
    "three classes": ({"w": GOOD_W, "b": 0.0}, {"classes": np.array([b"a", b"b", b"c"])},
                      r"'classes' is \|S1 \(3,\), expected two class names"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_checkpoints_that_do_not_fit_the_model_raise_errors_naming_file_and_entry(tmp_path, case):
    params, changes, message = BAD[case]
    meta = {"model": MODEL, "image_shape": SHAPE, "classes": CLASSES, **changes}
    path = io.save(tmp_path / "model.h5", params, **{k: v for k, v in meta.items() if v is not None})
    with pytest.raises(CheckpointError, match=rf"checkpoint .*model\.h5: {message}"):
        load_checkpoint(path)


def test_missing_and_non_hdf5_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"checkpoint .*nothing\.h5 does not exist"):
        load_checkpoint(tmp_path / "nothing.h5")
    text = tmp_path / "notes.h5"
    text.write_text("w = 1, b = 2")
    with pytest.raises(CheckpointError, match=r"checkpoint .*notes\.h5: not an HDF5 file"):
        load_checkpoint(text)


# --- the first format (version 1), as tinygraph 0.1 wrote it ---------------------------------------------

def write_version_1(path, w, b, image_shape, classes, **info):
    """A checkpoint exactly as the first ``save_checkpoint`` wrote it: attributes and plain datasets."""
    with h5py.File(path, "w") as f:
        f.attrs["format"] = LEGACY_FORMAT
        f.attrs["version"] = 1
        f.attrs["image_shape"] = np.asarray(image_shape, dtype=np.int64)
        for key, value in info.items():
            f.attrs[key] = value
        f.create_dataset("w", data=np.asarray(w, dtype=np.float64))
        f.create_dataset("b", data=np.float64(b))
        f.create_dataset("classes", data=np.asarray(classes))
    return path


@pytest.fixture
def version_1(tmp_path):
    w = np.linspace(-1, 1, 18).reshape(18, 1)
    return write_version_1(tmp_path / "old.h5", w, -0.25, SHAPE, CLASSES, **INFO), w


def test_version_1_checkpoints_still_load(version_1):
    path, w = version_1
    loaded = load_checkpoint(path)
    np.testing.assert_array_equal(loaded.w, w)
    assert loaded.b == -0.25 and loaded.image_shape == SHAPE and loaded.classes.tolist() == CLASSES.tolist()
    assert loaded.info == INFO and loaded.version == 1


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
        f.attrs[key] = value
    return change


def as_group(key):
    def change(f):
        del f[key]
        f.create_group(key)
    return change


BAD_VERSION_1 = {
    "future version": (set_attr("version", 99), r"attribute 'version' is 99; the 'tinygraph\.logistic_regression' "
                                                r"format has version 1"),
    "bad image shape": (set_attr("image_shape", np.array([3, 6])), r"'image_shape' is \[3, 6\], expected"),
    "missing w": (replace("w", None), r"missing dataset 'w'"),
    "missing classes": (replace("classes", None), r"missing dataset 'classes'"),
    "w a group": (as_group("w"), r"'w' is a group, expected a dataset"),
    "w wrong size": (replace("w", np.zeros((12, 1))), r"'w' is float64 \(12, 1\), expected float64 \(18, 1\)"),
    "b an int": (replace("b", np.int64(3)), r"'b' is int64 \(\), expected a float64 scalar"),
    "numeric classes": (replace("classes", np.array([0, 1])), r"'classes' is int64 \(2,\)"),
}


@pytest.mark.parametrize("case", BAD_VERSION_1, ids=list(BAD_VERSION_1))
def test_bad_version_1_checkpoints_raise_errors_naming_file_and_key(version_1, case):
    path, _ = version_1
    change, message = BAD_VERSION_1[case]
    edit(path, change)
    with pytest.raises(CheckpointError, match=rf"checkpoint .*old\.h5: {message}"):
        load_checkpoint(path)
