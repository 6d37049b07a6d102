"""tinygraph.io: checkpoints round-trip exactly, are written atomically, and never load silently when damaged."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygraph as tg
from tinygraph.io import FORMAT, CheckpointError, load, load_into, open_hdf5, parameters_by_name, save


class Net:
    """Stands in for an nn.Module: only named_parameters() matters to tinygraph.io."""

    def __init__(self, seed: int = 0, hidden: int = 4):
        rng = np.random.default_rng(seed)
        self.W1 = tg.parameter(rng.normal(size=(hidden, 3)), name="W1")
        self.b1 = tg.parameter(np.zeros((hidden, 1)), name="b1")
        self.W2 = tg.parameter(rng.normal(size=(1, hidden)).astype(np.float32), name="W2")

    def named_parameters(self):
        return [("layers.0.W", self.W1), ("layers.0.b", self.b1), ("layers.1.W", self.W2)]


class Optimizer:
    def __init__(self):
        self.state = {"t": 7, "learning_rate": 0.01, "v": {"layers.0.W": np.full((4, 3), 0.5)}, "betas": (0.9, 0.999)}

    def state_dict(self):
        return self.state


def test_a_module_and_its_optimizer_round_trip_in_order(tmp_path):
    net = Net()
    path = save(tmp_path / "net.h5", net, optimizer=Optimizer(), epoch=3, note="first run", shape=(64, 64, 3))
    params, meta = load(path)
    assert list(params) == ["layers.0.W", "layers.0.b", "layers.1.W"]  # the module's order, not HDF5's
    for (name, p), (saved_name, saved) in zip(net.named_parameters(), params.items(), strict=True):
        assert name == saved_name and saved.dtype == p.value.dtype
        np.testing.assert_array_equal(saved, p.value)
    optimizer = meta.pop("optimizer")
    assert meta == {"epoch": 3, "note": "first run", "shape": (64, 64, 3)}
    assert optimizer.keys() == Optimizer().state.keys() and optimizer["betas"] == (0.9, 0.999)
    np.testing.assert_array_equal(optimizer["v"]["layers.0.W"], np.full((4, 3), 0.5))


def test_dicts_and_lists_of_parameters(tmp_path):
    w, b = tg.parameter(np.ones((2, 1)), name="w"), tg.parameter(0.5, name="b")
    for kind in ([w, b], {"w": w, "b": b}, {"w": np.ones((2, 1)), "b": 0.5}):
        params, meta = load(save(tmp_path / "m.h5", kind))
        assert list(params) == ["w", "b"] and meta == {}
        np.testing.assert_array_equal(params["w"], np.ones((2, 1)))
        assert params["b"].shape == () and params["b"] == 0.5


LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False), st.text(),
    st.binary(), st.complex_numbers(allow_nan=False),
    hnp.from_dtype(np.dtype(np.float32), allow_nan=False),
    hnp.arrays(st.sampled_from([np.float64, np.float32, np.float16, np.int8, np.int64, np.uint16, np.bool_,
                                np.complex128, np.dtype("S5")]),
               hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)),
)
KEYS = st.text(min_size=1, max_size=8).filter(lambda k: "/" not in k and "\0" not in k and k != ".")
TREES = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                                                     st.dictionaries(KEYS, inner, max_size=3)), max_leaves=8)


def same(a, b) -> bool:
    """Equal in value and in type, all the way down (NaN in an array equal to NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray | np.generic):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@settings(max_examples=30)  # each example writes a file
@given(tree=st.dictionaries(KEYS.filter(lambda k: k != "optimizer"), TREES, max_size=4))
def test_any_metadata_comes_back_as_it_went_in(tmp_path_factory, tree):
    path = tmp_path_factory.mktemp("meta") / "m.h5"
    _, meta = load(save(path, {"x": np.arange(3.0)}, **tree))
    assert same(meta, tree)


def test_what_cannot_be_stored_is_named(tmp_path):
    w = tg.parameter(np.ones(2), name="w")
    cases = [
        (lambda: save(tmp_path / "m.h5", [w, tg.parameter(np.zeros(3), name="w")]), CheckpointError,
         r"two parameters are named 'w'"),
        (lambda: save(tmp_path / "m.h5", {"a/b": np.ones(2)}), CheckpointError, r"parameter name 'a/b' cannot"),
        (lambda: save(tmp_path / "m.h5", [w, np.ones(2)]), TypeError, r"item 1 is a ndarray, expected a tinygraph"),
        (lambda: save(tmp_path / "m.h5", 3.0), TypeError, r"module, a dict or a list of parameters, got a float"),
        (lambda: save(tmp_path / "m.h5", [w], extra={"s": {1, 2}}), CheckpointError, r"'meta/extra/s': it is a set"),
        (lambda: save(tmp_path / "m.h5", [w], names=np.array(["a", "b"])), CheckpointError,
         r"'meta/names': it is an array of <U1"),
        (lambda: save(tmp_path / "m.h5", [w], optimizer={3: np.ones(2)}), CheckpointError,
         r"key in 'optimizer' 3 cannot be stored"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
    assert list(tmp_path.iterdir()) == []  # nothing was written, not even a temporary file


# --- writing atomically ------------------------------------------------------------------------------

def test_a_failed_save_leaves_the_old_file_byte_identical(tmp_path, monkeypatch):
    path = save(tmp_path / "m.h5", Net(seed=1))
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(h5py.Group, "create_dataset", broken)
    with pytest.raises(OSError, match="disk full"):
        save(path, Net(seed=2))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.h5"]  # no temporary file left


def test_saving_onto_a_directory_or_into_a_missing_one(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(IsADirectoryError, match=r"cannot write checkpoint .*taken: it is a directory"):
        save(tmp_path / "taken", Net())
    with pytest.raises(FileNotFoundError, match=r"directory .*nowhere does not exist"):
        save(tmp_path / "nowhere" / "m.h5", Net())
    assert [p.name for p in tmp_path.iterdir()] == ["taken"] and not any((tmp_path / "taken").iterdir())


# --- damaged files ------------------------------------------------------------------------------------

def make_checkpoint(directory):
    w = np.linspace(-1, 1, 64).reshape(16, 4)
    return save(directory / "model.h5", {"w": w, "b": np.float64(0.25)}, optimizer={"t": 1}, epoch=2), w


@pytest.fixture
def checkpoint(tmp_path):
    return make_checkpoint(tmp_path)


def data_bytes(path, name):
    """Where the dataset ``name``'s data lies in the file: (offset, length)."""
    with h5py.File(path, "r") as f:
        dataset = f[name]
        return dataset.id.get_offset(), dataset.id.get_storage_size()


@settings(max_examples=30)
@given(position=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_flipped_bit_in_an_array_is_an_error_naming_file_and_array(tmp_path_factory, position, bit):
    path, _ = make_checkpoint(tmp_path_factory.mktemp("flip"))
    offset, length = data_bytes(path, "params/w")
    damaged = bytearray(path.read_bytes())
    damaged[offset + int(position * length)] ^= 1 << bit
    path.write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match=r"checkpoint .*model\.h5: 'params/w' fails its checksum"):
        load(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_a_truncated_file_is_named_as_damaged(checkpoint, keep):
    path, _ = checkpoint
    good = path.read_bytes()
    path.write_bytes(good[: int(len(good) * keep)])
    with pytest.raises(CheckpointError, match=r"checkpoint .*model\.h5 is damaged or truncated"):
        load(path)


def edit(path, change):
    with h5py.File(path, "a") as f:
        change(f)


EDITS = {
    "array removed": (lambda f: f.__delitem__("params/b"), r"'params' is missing 'b'"),
    "optimizer entry removed": (lambda f: f.__delitem__("optimizer/t"), r"'optimizer' is missing 't'"),
    "array added": (lambda f: f.create_dataset("params/c", data=np.ones(2)),
                    r"'params' holds \['c'\], which it does not list"),
    "array replaced": (lambda f: (f.__delitem__("params/w"), f.create_dataset("params/w", data=np.zeros((16, 4)))),
                       r"'params/w' has kind None"),
    "checksum edited": (lambda f: f["params/w"].attrs.__setitem__("sha256", "0" * 64),
                        r"'params/w' fails its checksum"),
    "values edited": (lambda f: f["params/w"].__setitem__((0, 0), 7.0), r"'params/w' fails its checksum"),
    "kind edited": (lambda f: f["meta/epoch"].attrs.__setitem__("kind", "pickle"), r"'meta/epoch' has kind 'pickle'"),
    "other format": (lambda f: f.attrs.__setitem__("format", "keras"),
                     rf"attribute 'format' is 'keras', expected '{FORMAT}': not a tinygraph checkpoint"),
    "future version": (lambda f: f.attrs.__setitem__("version", 9), r"attribute 'version' is 9; this tinygraph reads"),
}


@pytest.mark.parametrize("case", EDITS, ids=list(EDITS))
def test_edited_files_are_errors_naming_file_and_entry(checkpoint, case):
    path, _ = checkpoint
    change, message = EDITS[case]
    edit(path, change)
    with pytest.raises(CheckpointError, match=rf"checkpoint .*model\.h5: {message}"):
        load(path)


def test_files_that_are_no_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"checkpoint .*none\.h5 does not exist"):
        load(tmp_path / "none.h5")
    with pytest.raises(IsADirectoryError, match=r"checkpoint .* is a directory, expected a file"):
        load(tmp_path)
    (tmp_path / "text.h5").write_text("w = 1")
    with pytest.raises(CheckpointError, match=r"checkpoint .*text\.h5: not an HDF5 file"):
        load(tmp_path / "text.h5")
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f.create_dataset("w", data=np.ones(3))
    with pytest.raises(CheckpointError, match=r"foreign\.h5: attribute 'format' is None.*not a tinygraph checkpoint"):
        load(tmp_path / "foreign.h5")


def test_open_hdf5_names_the_kind_of_file_and_raises_the_error_asked_for(tmp_path):
    class DataError(ValueError):
        pass

    (tmp_path / "train.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(40))  # an HDF5 signature, then nothing
    with pytest.raises(DataError, match=r"data file .*train\.h5 is damaged or truncated \(.*\)"), \
            open_hdf5(tmp_path / "train.h5", "data file", DataError):
        pass


# --- loading into parameters ----------------------------------------------------------------------------

def test_load_into_sets_every_parameter_by_name_in_its_own_dtype(tmp_path):
    trained, fresh = Net(seed=1), Net(seed=2)
    save(tmp_path / "net.h5", {name: p.value.astype(np.float64) for name, p in trained.named_parameters()},
         epoch=5)
    assert load_into(fresh, tmp_path / "net.h5") == {"epoch": 5}
    for (_, p), (_, q) in zip(trained.named_parameters(), fresh.named_parameters(), strict=True):
        np.testing.assert_array_equal(q.value, p.value)
        assert q.value.dtype == p.value.dtype  # W2 stays float32
    arrays = {"w": np.zeros((2, 2)), "b": np.zeros(())}
    save(tmp_path / "small.h5", {"w": np.eye(2), "b": 3.0})
    load_into(arrays, tmp_path / "small.h5")
    np.testing.assert_array_equal(arrays["w"], np.eye(2))
    assert arrays["b"] == 3.0


def test_load_into_lists_every_difference_and_changes_nothing(tmp_path):
    save(tmp_path / "net.h5", Net(seed=1, hidden=5))  # another hidden size: three shapes differ
    target = Net(seed=2)
    target.extra = tg.parameter(np.zeros(2), name="extra")
    before = [p.value.copy() for _, p in target.named_parameters()]
    named = target.named_parameters() + [("head.W", target.extra)]
    saved = {name: p for name, p in Net(seed=1, hidden=5).named_parameters()}
    saved["old.W"] = saved.pop("layers.1.W")
    save(tmp_path / "renamed.h5", saved)
    with pytest.raises(CheckpointError) as error:
        load_into(dict(named), tmp_path / "renamed.h5")
    assert str(error.value).splitlines() == [
        f"checkpoint {tmp_path / 'renamed.h5'} does not match the parameters it is loaded into:",
        "  missing from the checkpoint: layers.1.W",
        "  missing from the checkpoint: head.W",
        "  in the checkpoint only: old.W",
        "  layers.0.W: shape (4, 3) here, (5, 3) in the checkpoint",
        "  layers.0.b: shape (4, 1) here, (5, 1) in the checkpoint",
    ]
    for (_, p), old in zip(target.named_parameters(), before, strict=True):
        np.testing.assert_array_equal(p.value, old)


def test_parameters_by_name_takes_a_single_parameter_and_keeps_order():
    w = tg.parameter(np.ones(2), name="w")
    assert parameters_by_name(w) == {"w": w}
    assert list(parameters_by_name({"z": 1.0, "a": 2.0})) == ["z", "a"]


def test_training_resumes_from_a_checkpoint_exactly(tmp_path):
    """An nn.MLP and its Adam state, saved after 3 steps and loaded into fresh ones, continue bit for bit."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 16))
    y = (x[:1] + x[1:2] > 0).astype(np.float64)

    def trainer(seed):
        model = tg.nn.MLP([3, 4, 1], rng=seed)
        X, Y = tg.placeholder((3, None), name="X"), tg.placeholder((1, None), name="Y")
        graph = tg.Graph(tg.nn.binary_cross_entropy(model(X), Y))
        optimizer = tg.optim.Adam(model, learning_rate=0.05)

        def steps(n):
            for _ in range(n):
                graph.forward({X: x, Y: y})
                optimizer.step(graph.backward())
        return model, optimizer, steps

    model, optimizer, steps = trainer(seed=1)
    steps(3)
    save(tmp_path / "run.h5", model, optimizer=optimizer, step=3)
    steps(4)

    resumed, resumed_optimizer, resumed_steps = trainer(seed=2)  # other weights, no Adam state
    meta = load_into(resumed, tmp_path / "run.h5")
    resumed_optimizer.load_state_dict(meta.pop("optimizer"))
    assert meta == {"step": 3}
    resumed_steps(4)
    for (name, p), (_, q) in zip(model.named_parameters(), resumed.named_parameters(), strict=True):
        np.testing.assert_array_equal(q.value, p.value, err_msg=name)
