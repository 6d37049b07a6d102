"""Course 2 Week 1 "Regularization" as a tinygraph graph: graders' cases, the course's formulas, the three runs.

Published numbers: the 2021 notebook's public_tests.py (compute_cost_with_regularization_test,
backward_propagation_with_regularization_test, forward_propagation_with_dropout_test,
backward_propagation_with_dropout_test; all printed to 8 decimals) and the printed runs in
public copies of Regularization.ipynb. Each 30,000-iteration run takes about 2-3 s here.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

pytest.importorskip("scipy", reason="scipy reads the football data: the course extra, pip install -e '.[course]'")

from conftest import REPO_ROOT  # noqa: E402

from models import regularization as reg  # noqa: E402
from models.datasets import DatasetError  # noqa: E402
from models.three_layer import CacheError, accuracy, predict_dec  # noqa: E402

DATA = REPO_ROOT.parent / "shared" / "datasets" / "regularization"


@pytest.fixture
def football():
    if not (DATA / reg.DATA_FILE).is_file():
        pytest.skip(f"the course's {reg.DATA_FILE} is not in {DATA}")
    return reg.load_2D_dataset(DATA)


def assert_printed(got, expected):
    """The graders print (and compare) 8 decimals."""
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8)


def seeded_parameters(*shapes):
    """randn for each shape in order, continuing numpy's global stream (as the test cases do after seed 1)."""
    keys = ("W1", "b1", "W2", "b2", "W3", "b3")
    return {key: np.random.randn(*shape) for key, shape in zip(keys, shapes, strict=True)}


LAYER_SHAPES = ((2, 3), (2, 1), (3, 2), (3, 1), (1, 3), (1, 1))  # the graders' [3, 2, 3, 1] network


# --- the graders' cases ----------------------------------------------------------------------

def test_compute_cost_with_regularization_test():
    np.random.seed(1)
    Y = np.array([[1, 1, 0, 1, 0]])
    parameters = seeded_parameters(*LAYER_SHAPES)
    A3 = np.array([[0.40682402, 0.01629284, 0.16722898, 0.10118111, 0.40682402]])
    cost = reg.compute_cost_with_regularization(A3, Y, parameters, lambd=0.1)
    assert cost == pytest.approx(1.7864859451590758, rel=1e-14)
    assert reg.compute_cost(A3, Y) == pytest.approx(cost - 0.1 / 10 * sum(np.sum(parameters[k] ** 2)
                                                                          for k in ("W1", "W2", "W3")), rel=1e-14)


REGULARIZATION_CACHE = (
    np.array([[-1.52855314, 3.32524635, 2.13994541, 2.60700654, -0.75942115],
              [-1.98043538, 4.1600994, 0.79051021, 1.46493512, -0.45506242]]),
    np.array([[0., 3.32524635, 2.13994541, 2.60700654, 0.], [0., 4.1600994, 0.79051021, 1.46493512, 0.]]),
    np.array([[-1.09989127, -0.17242821, -0.87785842], [0.04221375, 0.58281521, -1.10061918]]),
    np.array([[1.14472371], [0.90159072]]),
    np.array([[0.53035547, 5.94892323, 2.31780174, 3.16005701, 0.53035547],
              [-0.69166075, -3.47645987, -2.25194702, -2.65416996, -0.69166075],
              [-0.39675353, -4.62285846, -2.61101729, -3.22874921, -0.39675353]]),
    np.array([[0.53035547, 5.94892323, 2.31780174, 3.16005701, 0.53035547], [0.] * 5, [0.] * 5]),
    np.array([[0.50249434, 0.90085595], [-0.68372786, -0.12289023], [-0.93576943, -0.26788808]]),
    np.array([[0.53035547], [-0.69166075], [-0.39675353]]),
    np.array([[-0.3771104, -4.10060224, -1.60539468, -2.18416951, -0.3771104]]),
    np.array([[0.40682402, 0.01629284, 0.16722898, 0.10118111, 0.40682402]]),
    np.array([[-0.6871727, -0.84520564, -0.67124613]]),
    np.array([[-0.0126646]]),
)


def test_backward_propagation_with_regularization_test():
    """The grader's cache holds 8-decimal values; the gradients are the formulas' on those values as given."""
    np.random.seed(1)
    X = np.random.randn(3, 5)
    Y = np.array([[1, 1, 0, 1, 0]])
    grads = reg.backward_propagation_with_regularization(X, Y, REGULARIZATION_CACHE, lambd=0.7)
    assert list(grads) == ["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"]
    assert_printed(grads["dZ3"], [[-0.59317598, -0.98370716, 0.16722898, -0.89881889, 0.40682402]])
    assert_printed(grads["dW3"], [[-1.77691347, -0.11832879, -0.09397446]])
    assert_printed(grads["db3"], [[-0.38032981]])
    assert_printed(grads["dA2"], [[0.40761434, 0.67597671, -0.11491519, 0.6176438, -0.27955836],
                                  [0.50135568, 0.83143484, -0.14134288, 0.7596868, -0.34384996],
                                  [0.39816708, 0.66030962, -0.11225181, 0.6033287, -0.27307905]])
    assert_printed(grads["dZ2"], [[0.40761434, 0.67597671, -0.11491519, 0.6176438, -0.27955836], [0.] * 5, [0.] * 5])
    assert_printed(grads["dW2"], [[0.79276486, 0.85133918], [-0.0957219, -0.01720463], [-0.13100772, -0.03750433]])
    assert_printed(grads["db2"], [[0.26135226], [0.], [0.]])
    assert_printed(grads["dA1"], [[0.2048239, 0.33967447, -0.05774423, 0.31036252, -0.14047649],
                                  [0.3672018, 0.60895764, -0.10352203, 0.5564081, -0.25184181]])
    assert_printed(grads["dZ1"], [[0., 0.33967447, -0.05774423, 0.31036252, 0.],
                                  [0., 0.60895764, -0.10352203, 0.5564081, 0.]])
    assert_printed(grads["dW1"], [[-0.25604646, 0.12298827, -0.28297129], [-0.17706303, 0.34536094, -0.4410571]])
    assert_printed(grads["db1"], [[0.11845855], [0.21236874]])


def test_forward_propagation_with_dropout_test():
    np.random.seed(1)
    X = np.random.randn(3, 5)
    parameters = seeded_parameters(*LAYER_SHAPES)
    A3, cache = reg.forward_propagation_with_dropout(X, parameters, keep_prob=0.7)
    assert_printed(A3, [[0.36974721, 0.00305176, 0.04565099, 0.49683389, 0.36974721]])
    assert len(cache) == 14
    Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3_cached, W3, b3 = cache
    np.testing.assert_array_equal(D1, [[1, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(D2, [[1, 1, 1, 0, 1], [1, 1, 1, 1, 1], [0, 0, 1, 1, 0]])
    assert_printed(A1, [[0., 0., 3.05706487, 3.72429505, 0.], [0., 5.94299915, 1.1293003, 2.09276446, 0.]])
    assert_printed(Z2, [[0.53035547, 5.88414161, 3.08385015, 4.28707196, 0.53035547],
                        [-0.69166075, -1.42199726, -2.92064114, -3.49524533, -0.69166075],
                        [-0.39675353, -1.98881216, -3.55998747, -4.44246165, -0.39675353]])
    assert_printed(A2, [[0.75765067, 8.40591658, 4.40550021, 0., 0.75765067], [0.] * 5, [0.] * 5])
    assert_printed(Z3, [[-0.53330145, -5.78898099, -3.04000407, -0.0126646, -0.53330145]])
    np.testing.assert_array_equal(A3_cached, A3)
    for got, key in ((W1, "W1"), (b1, "b1"), (W2, "W2"), (b2, "b2"), (W3, "W3"), (b3, "b3")):
        np.testing.assert_array_equal(got, parameters[key])


DROPOUT_CACHE = (
    REGULARIZATION_CACHE[0],
    np.array([[True, False, True, True, True], [True, True, True, True, False]]),
    np.array([[0., 0., 4.27989081, 5.21401307, 0.], [0., 8.32019881, 1.58102041, 2.92987024, 0.]]),
    REGULARIZATION_CACHE[2], REGULARIZATION_CACHE[3],
    np.array([[0.53035547, 8.02565606, 4.10524802, 5.78975856, 0.53035547],
              [-0.69166075, -1.71413186, -3.81223329, -4.61667916, -0.69166075],
              [-0.39675353, -2.62563561, -4.82528105, -6.0607449, -0.39675353]]),
    np.array([[True, False, True, False, True], [False, True, False, True, True], [False, False, True, False, False]]),
    np.array([[1.06071093, 0., 8.21049603, 0., 1.06071093], [0.] * 5, [0.] * 5]),
    REGULARIZATION_CACHE[6], REGULARIZATION_CACHE[7],
    np.array([[-0.7415562, -0.0126646, -5.65469333, -0.0126646, -0.7415562]]),
    np.array([[0.32266394, 0.49683389, 0.00348883, 0.49683389, 0.32266394]]),
    REGULARIZATION_CACHE[10], REGULARIZATION_CACHE[11],
)


def test_backward_propagation_with_dropout_test():
    """The grader's cache was made with keep_prob 0.5 and is differentiated with 0.8: only the cache as given
    reproduces these numbers."""
    np.random.seed(1)
    X = np.random.randn(3, 5)
    Y = np.array([[1, 1, 0, 1, 0]])
    grads = reg.backward_propagation_with_dropout(X, Y, DROPOUT_CACHE, keep_prob=0.8)
    assert_printed(grads["dZ3"], [[-0.67733606, -0.50316611, 0.00348883, -0.50316611, 0.32266394]])
    assert_printed(grads["dW3"], [[-0.06951191, 0., 0.]])
    assert_printed(grads["db3"], [[-0.2715031]])
    assert_printed(grads["dA2"], [[0.58180856, 0., -0.00299679, 0., -0.27715731],
                                  [0., 0.53159854, -0., 0.53159854, -0.34089673],
                                  [0., 0., -0.00292733, 0., -0.]])
    assert_printed(grads["dZ2"], [[0.58180856, 0., -0.00299679, 0., -0.27715731], [0.] * 5, [0.] * 5])
    assert_printed(grads["dW2"], [[-0.00256518, -0.0009476], [0., 0.], [0., 0.]])
    assert_printed(grads["db2"], [[0.06033089], [0.], [0.]])
    assert_printed(grads["dA1"], [[0.36544439, 0., -0.00188233, 0., -0.17408748],
                                  [0.65515713, 0., -0.00337459, 0., -0.]])
    assert_printed(grads["dZ1"], [[0., 0., -0.00188233, 0., -0.], [0., 0., -0.00337459, 0., -0.]])
    assert_printed(grads["dW1"], [[0.00019884, 0.00028657, 0.00012138], [0.00035647, 0.00051375, 0.00021761]])
    assert_printed(grads["db1"], [[-0.00037647], [-0.00067492]])


def test_a_cache_of_the_wrong_length_is_named():
    with pytest.raises(CacheError, match="12 entries.*14 under dropout.*got 3"):
        reg.backward_propagation_with_dropout(np.zeros((3, 5)), np.zeros((1, 5)), REGULARIZATION_CACHE[:3], 0.8)
    with pytest.raises(CacheError, match="14 entries"):  # a cache without masks, read as a dropout one
        reg.backward_propagation_with_dropout(np.zeros((3, 5)), np.zeros((1, 5)), REGULARIZATION_CACHE, 0.8)


# --- the graph's gradients are the course's formulas ------------------------------------------------

def course_backward(X, Y, cache, lambd=0.0, keep_prob=None):
    """reg_utils' backward_propagation with the notebook's two changes (L2, dropout), as the course writes it."""
    if keep_prob is None:
        Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = cache
    else:
        Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3 = cache
    m = X.shape[1]
    dZ3 = A3 - Y
    dW3 = 1. / m * np.dot(dZ3, A2.T) + lambd / m * W3
    db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(W3.T, dZ3)
    if keep_prob is not None:
        dA2 = dA2 * D2 / keep_prob
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1. / m * np.dot(dZ2, A1.T) + lambd / m * W2
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    if keep_prob is not None:
        dA1 = dA1 * D1 / keep_prob
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1. / m * np.dot(dZ1, X.T) + lambd / m * W1
    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


@st.composite
def problems(draw):
    """A small network's parameters, inputs and 0/1 labels, all of moderate size."""
    dims = (draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3)), 1)
    m = draw(st.integers(1, 6))
    values = st.floats(-2, 2, allow_nan=False, width=64)
    parameters = {}
    for layer in (1, 2, 3):
        parameters[f"W{layer}"] = draw(hnp.arrays(np.float64, (dims[layer], dims[layer - 1]), elements=values))
        parameters[f"b{layer}"] = draw(hnp.arrays(np.float64, (dims[layer], 1), elements=values))
    X = draw(hnp.arrays(np.float64, (dims[0], m), elements=values))
    Y = draw(hnp.arrays(np.int64, (1, m), elements=st.integers(0, 1)))
    return parameters, X, Y


@given(problems(), st.sampled_from([0.0, 0.1, 0.7]))
def test_l2_gradients_are_the_course_formulas(problem, lambd):
    parameters, X, Y = problem
    _, cache = reg.forward_propagation(X, parameters)
    grads = reg.backward_propagation_with_regularization(X, Y, cache, lambd)
    expected = course_backward(X, Y, cache, lambd=lambd)
    assert list(grads) == list(expected)
    for key in expected:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-10, atol=1e-12, err_msg=key)


@given(problems(), st.sampled_from([0.5, 0.8, 0.86]))
def test_dropout_gradients_are_the_course_formulas(problem, keep_prob):
    parameters, X, Y = problem
    _, cache = reg.forward_propagation_with_dropout(X, parameters, keep_prob)
    grads = reg.backward_propagation_with_dropout(X, Y, cache, keep_prob)
    expected = course_backward(X, Y, cache, keep_prob=keep_prob)
    for key in expected:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-10, atol=1e-12, err_msg=key)


def test_dropout_masks_are_the_courses_draws():
    np.random.seed(1)  # what forward_propagation_with_dropout does before each call, in the course
    D1 = (np.random.rand(20, 7) < 0.86).astype(int)
    D2 = (np.random.rand(3, 7) < 0.86).astype(int)
    got = reg.dropout_masks((2, 20, 3, 1), 7, 0.86)
    np.testing.assert_array_equal(got[0], D1)
    np.testing.assert_array_equal(got[1], D2)


def test_forward_propagation_is_the_course_formula():
    np.random.seed(2)
    X = np.random.randn(3, 4)
    parameters = seeded_parameters(*LAYER_SHAPES)
    A3, cache = reg.forward_propagation(X, parameters)
    Z1 = parameters["W1"] @ X + parameters["b1"]
    Z2 = parameters["W2"] @ np.maximum(Z1, 0) + parameters["b2"]
    Z3 = parameters["W3"] @ np.maximum(Z2, 0) + parameters["b3"]
    np.testing.assert_allclose(A3, 1 / (1 + np.exp(-Z3)), rtol=1e-14)
    np.testing.assert_allclose(cache[4], Z2, rtol=1e-14)


def test_initialize_parameters_is_reg_utils():
    np.random.seed(3)
    W1 = np.random.randn(20, 2) / np.sqrt(2)
    W2 = np.random.randn(3, 20) / np.sqrt(20)
    parameters = reg.initialize_parameters([2, 20, 3, 1])
    np.testing.assert_array_equal(parameters["W1"], W1)
    np.testing.assert_array_equal(parameters["W2"], W2)
    assert parameters["b3"].shape == (1, 1) and not parameters["b3"].any()


# --- the data ----------------------------------------------------------------------------------

def test_load_2D_dataset(football):
    train_X, train_Y, test_X, test_Y = football
    assert train_X.shape == (2, 211) and train_Y.shape == (1, 211)
    assert test_X.shape == (2, 200) and test_Y.shape == (1, 200)
    assert train_Y.sum() == 106 and test_Y.sum() == 87


def test_without_scipy_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    with pytest.raises(ImportError, match=r"needs scipy: pip install scipy .*\.\[course\]"):
        reg.load_2D_dataset(DATA)


def test_bad_data_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="data.mat"):
        reg.load_2D_dataset(tmp_path)
    (tmp_path / "data.mat").write_bytes(b"not a MATLAB file")
    with pytest.raises(DatasetError, match="not a MATLAB file"):
        reg.load_2D_dataset(tmp_path)
    from scipy.io import savemat

    savemat(tmp_path / "data.mat", {"X": np.zeros((4, 2)), "y": np.zeros((4, 1)), "Xval": np.zeros((3, 2))})
    with pytest.raises(DatasetError, match="missing key 'yval'"):
        reg.load_2D_dataset(tmp_path / "data.mat")
    savemat(tmp_path / "data.mat", {"X": np.zeros((4, 2)), "y": np.zeros((5, 1)), "Xval": np.zeros((3, 2)),
                                    "yval": np.zeros((3, 1))})
    with pytest.raises(DatasetError, match="5 labels in 'y' for the 4 points of 'X'"):
        reg.load_2D_dataset(tmp_path)


def test_l2_and_dropout_together_are_refused():
    with pytest.raises(ValueError, match="not both"):
        reg.model(np.zeros((2, 3)), np.zeros((1, 3)), num_iterations=1, lambd=0.7, keep_prob=0.86)


# --- the three published runs --------------------------------------------------------------

def run(football, capsys, **options):
    train_X, train_Y, test_X, test_Y = football
    parameters = reg.model(train_X, train_Y, **options)
    costs = [float(line.rsplit(": ", 1)[1]) for line in capsys.readouterr().out.splitlines()]
    return costs, accuracy(predict_dec(parameters, train_X), train_Y), accuracy(predict_dec(parameters, test_X),
                                                                               test_Y)


def test_without_regularization_it_overfits(football, capsys):
    costs, train, test = run(football, capsys)
    assert costs[0] == pytest.approx(0.6557412523481002, rel=1e-15)
    # Copies print 0.1632998752572417 ... 0.16329987525724216 at 10000, and 0.13851642423234922 ...
    # 0.13851642423284755 at 20000: late costs drift in the last digits, so 1e-13 and 1e-11.
    assert costs[1] == pytest.approx(0.16329987525724204, rel=1e-13)
    assert costs[2] == pytest.approx(0.13851642423234922, rel=1e-11)
    assert train == 0.9478672985781991 and test == 0.915


def test_l2_regularization_reaches_93_percent(football, capsys):
    costs, train, test = run(football, capsys, lambd=0.7)
    # Copies print 0.2680916337127301, 0.26809163371273015, 0.26809163371273004 at 20000.
    np.testing.assert_allclose(costs, [0.6974484493131264, 0.2684918873282239, 0.2680916337127301], rtol=1e-13)
    assert train == 0.9383886255924171 and test == 0.93


def test_dropout_reaches_95_percent(football, capsys):
    costs, train, test = run(football, capsys, keep_prob=0.86)
    # Copies print 0.06101698657490556 ... 0.061016986574905605 at 10000 (and the course's nansum drops
    # the points whose a3 rounds to 0 or 1, which the stable cost keeps, at ~1e-17 each).
    np.testing.assert_allclose(costs, [0.6543912405149825, 0.0610169865749056, 0.060582435798513114], rtol=1e-13)
    assert train == 0.9289099526066351 and test == 0.95


def test_train_for_cli(football):
    result = reg.train_for_cli(iterations=1001, data_dir=DATA)
    assert result["name"] == "regularization" and list(result["runs"]) == ["baseline", "l2", "dropout"]
    for r in result["runs"].values():
        assert len(r["costs"]) == 2 and r["iterations"] == 1001 and set(r["accuracies"]) == {"train", "test"}
        assert r["boundary"]["predict"](r["boundary"]["X"]).shape == (1, 211)
    assert result["title"] == "Model with dropout"
    with pytest.raises(FileNotFoundError, match="--data DIR"):
        reg.train_for_cli(iterations=1)
