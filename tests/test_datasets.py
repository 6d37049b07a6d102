"""The course-data loader: the real files, where data comes from, the synthetic default, and bad files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from models import datasets
from models import logistic_regression as lr
from models.datasets import DatasetError, load_dataset

# The course's layout, as measured in ../shared/datasets/catvnoncat/README.md: key -> (shape, dtype).
COURSE_LAYOUT = {
    "train_catvnoncat.h5": {"train_set_x": ((209, 64, 64, 3), "uint8"), "train_set_y": ((209,), "int64"),
                            "list_classes": ((2,), "|S7")},
    "test_catvnoncat.h5": {"test_set_x": ((50, 64, 64, 3), "uint8"), "test_set_y": ((50,), "int64"),
                           "list_classes": ((2,), "|S7")},
}


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh tinygraph cache and no $TINYGRAPH_DATA: load_dataset() falls back to the synthetic data."""
    monkeypatch.setenv(datasets.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    return tmp_path / "home"


def layout(directory):
    found = {}
    for name in COURSE_LAYOUT:
        with h5py.File(directory / name, "r") as f:
            found[name] = {key: (f[key].shape, f[key].dtype.str.replace("<", "|") if f[key].dtype.kind == "S"
                                 else f[key].dtype.name) for key in f}
    return found


# --- the course's real files --------------------------------------------------------------

def test_course_files_load_with_the_course_shapes_and_spot_values(course_data, home, capsys):
    train_x, train_y, test_x, test_y, classes = load_dataset(course_data)
    assert train_x.shape == (209, 64, 64, 3) and train_x.dtype == np.uint8
    assert test_x.shape == (50, 64, 64, 3) and test_x.dtype == np.uint8
    assert train_y.shape == (1, 209) and test_y.shape == (1, 50) and train_y.dtype == np.int64
    assert classes.tolist() == [b"non-cat", b"cat"]
    assert (int(train_y.sum()), int(test_y.sum())) == (72, 33)
    flat = train_x.reshape(209, -1).T
    assert flat[0:5, 0].tolist() == [17, 31, 56, 22, 33]
    assert test_x.reshape(50, -1).T[0:10, 1].tolist() == [115, 110, 111, 137, 129, 129, 155, 146, 145, 159]
    assert (train_y[0, 25], train_y[0, 10]) == (1, 0)
    assert "synthetic" not in capsys.readouterr().err
    assert not home.exists()  # nothing generated when real files are given


def test_environment_variable_is_used_and_the_argument_wins(course_data, home, monkeypatch, tmp_path):
    monkeypatch.setenv(datasets.DATA_ENV, str(course_data))
    assert load_dataset()[0].shape == (209, 64, 64, 3)
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path / "nowhere"))
    assert load_dataset(course_data)[2].shape == (50, 64, 64, 3)
    with pytest.raises(FileNotFoundError, match=r"nowhere.*\$TINYGRAPH_DATA.*does not exist"):
        load_dataset()


# --- the embedded synthetic default ----------------------------------------------------------

def test_synthetic_default_has_the_course_layout_and_is_announced(home, capsys):
    train_x, train_y, test_x, test_y, classes = load_dataset()
    assert "synthetic" in capsys.readouterr().err
    assert train_x.shape == (209, 64, 64, 3) and train_x.dtype == np.uint8
    assert test_x.shape == (50, 64, 64, 3) and test_x.dtype == np.uint8
    assert train_y.shape == (1, 209) and test_y.shape == (1, 50) and train_y.dtype == test_y.dtype == np.int64
    assert classes.tolist() == [b"non-cat", b"cat"]
    assert set(np.unique(train_y)) == set(np.unique(test_y)) == {0, 1}
    assert layout(datasets.synthetic_dir()) == COURSE_LAYOUT
    assert datasets.synthetic_dir().parent == home


def test_synthetic_layout_matches_the_real_files(course_data, home):
    load_dataset()
    assert layout(datasets.synthetic_dir()) == layout(course_data)


def test_synthetic_data_is_deterministic(home, tmp_path):
    first = load_dataset()
    again = datasets.synthetic_dataset()
    elsewhere = datasets.write_synthetic(tmp_path / "other")
    for a, b, c in zip(first, again, load_dataset(elsewhere), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "deleted", "foreign"])
def test_synthetic_files_are_regenerated_when_damaged(home, damage, capsys):
    reference = load_dataset()
    target = datasets.synthetic_dir() / "test_catvnoncat.h5"
    if damage == "garbage":
        target.write_bytes(b"not an hdf5 file at all")
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[:5000])
    elif damage == "deleted":
        target.unlink()
    else:  # valid HDF5, the right keys, but not written by this version's generator
        with h5py.File(target, "a") as f:
            f.attrs["generator"] = "something else"
    again = load_dataset()
    for a, b in zip(reference, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert datasets._is_current(target)
    assert not list(datasets.synthetic_dir().glob(".*tmp*"))  # atomic writes leave no temporary files


def test_a_linear_model_separates_the_synthetic_classes_mostly_not_perfectly(home):
    train_x, train_y, test_x, test_y, _ = load_dataset()
    d = lr.model(lr.flatten(train_x), train_y, lr.flatten(test_x), test_y, num_iterations=300, learning_rate=0.005)
    train_accuracy = lr.accuracy(d["Y_prediction_train"], train_y)
    test_accuracy = lr.accuracy(d["Y_prediction_test"], test_y)
    assert 75 <= train_accuracy
    assert 70 <= test_accuracy < 100


# --- bad files: each names the file and key ---------------------------------------------------

def write_pair(directory, **override):
    """A valid small pair of course files in ``directory``; ``override`` replaces datasets by 'split/key'."""
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    for split, m in (("train", 6), ("test", 4)):
        content = {
            f"{split}_set_x": rng.integers(0, 256, (m, 4, 4, 3), dtype=np.uint8),
            f"{split}_set_y": np.arange(m, dtype=np.int64) % 2,
            "list_classes": np.array([b"non-cat", b"cat"]),
        }
        for key, value in override.items():
            where, name = key.split("/")
            if where == split:
                content[name] = value
        with h5py.File(directory / datasets.FILES[split], "w") as f:
            for name, value in content.items():
                if value is None:
                    continue
                if isinstance(value, str) and value == "group":
                    f.create_group(name)
                else:
                    f.create_dataset(name, data=value)
    return directory


def test_a_small_valid_pair_loads(tmp_path):
    train_x, train_y, test_x, test_y, classes = load_dataset(write_pair(tmp_path / "d"))
    assert train_x.shape == (6, 4, 4, 3) and train_y.shape == (1, 6) and test_y.shape == (1, 4)


BAD_FILES = {
    "missing x": ({"train/train_set_x": None}, DatasetError, r"train_catvnoncat\.h5: missing key 'train_set_x'"),
    "missing y": ({"test/test_set_y": None}, DatasetError, r"test_catvnoncat\.h5: missing key 'test_set_y'"),
    "missing classes": ({"train/list_classes": None}, DatasetError,
                        r"train_catvnoncat\.h5: missing key 'list_classes'"),
    "group": ({"train/train_set_x": "group"}, DatasetError, r"train_catvnoncat\.h5, key 'train_set_x': a group"),
    "float pictures": ({"train/train_set_x": np.zeros((6, 4, 4, 3), np.float32)}, DatasetError,
                       r"train_catvnoncat\.h5, key 'train_set_x': expected uint8 pictures.*found float32"),
    "grey pictures": ({"test/test_set_x": np.zeros((4, 4, 4), np.uint8)}, DatasetError,
                      r"test_catvnoncat\.h5, key 'test_set_x': expected uint8 pictures.*\(4, 4, 4\)"),
    "float labels": ({"train/train_set_y": np.zeros(6)}, DatasetError,
                     r"train_catvnoncat\.h5, key 'train_set_y': expected integer labels.*float64"),
    "count mismatch": ({"train/train_set_y": np.zeros(5, np.int64)}, DatasetError,
                       r"train_catvnoncat\.h5, key 'train_set_y': 5 labels for the 6 pictures of 'train_set_x'"),
    "labels not 0/1": ({"test/test_set_y": np.array([0, 1, 2, 7])}, DatasetError,
                       r"test_catvnoncat\.h5, key 'test_set_y': labels must be 0 \(non-cat\) or 1 \(cat\), "
                       r"found \[2, 7\]"),
    "one class": ({"train/list_classes": np.array([b"cat"])}, DatasetError,
                  r"train_catvnoncat\.h5, key 'list_classes': expected two class names"),
    "sizes differ": ({"test/test_set_x": np.zeros((4, 8, 8, 3), np.uint8)}, DatasetError,
                     r"test_catvnoncat\.h5, key 'test_set_x': pictures of shape \(8, 8, 3\), but the training "),
    "classes differ": ({"test/list_classes": np.array([b"dog", b"cat"])}, DatasetError,
                       r"test_catvnoncat\.h5, key 'list_classes'.*differs from the training file's"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_bad_files_raise_errors_naming_file_and_key(tmp_path, case):
    override, error, message = BAD_FILES[case]
    with pytest.raises(error, match=message):
        load_dataset(write_pair(tmp_path / "d", **override))


def test_missing_file_and_directory_are_named(tmp_path):
    directory = write_pair(tmp_path / "d")
    (directory / "test_catvnoncat.h5").unlink()
    with pytest.raises(FileNotFoundError, match=r"data file .*test_catvnoncat\.h5 does not exist"):
        load_dataset(directory)
    with pytest.raises(FileNotFoundError, match=r"data directory .*nowhere \(from --data / path argument\)"):
        load_dataset(tmp_path / "nowhere")


def test_a_file_that_is_not_hdf5_is_named(tmp_path):
    directory = write_pair(tmp_path / "d")
    (directory / "train_catvnoncat.h5").write_text("<html>a download page, not the data</html>")
    with pytest.raises(DatasetError, match=r"data file .*train_catvnoncat\.h5: not an HDF5 file"):
        load_dataset(directory)


def test_a_truncated_data_file_is_named_as_damaged(tmp_path):
    """h5py's own message names no file; the loader says which file, and that it is damaged or truncated."""
    directory = datasets.write_synthetic(tmp_path / "d")
    train = directory / "train_catvnoncat.h5"
    train.write_bytes(train.read_bytes()[: train.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"data file .*train_catvnoncat\.h5 is damaged or truncated"):
        datasets.load_split(train, "train")
