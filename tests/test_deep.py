"""Course 1 Week 4 as tinygraph graphs: "step by step" (the graders' cases) and the cat application's runs.

Published numbers: the 2021+ notebooks' public_tests.py and testCases.py for W4A1
(the copy the code search finds, and the printed expected outputs in
"Building_your_Deep_Neural_Network_Step_by_Step.ipynb" v1.1, which adds the second
initialisation cases), and the printed runs of "Deep Neural Network - Application"
(2021+ version: ``Cost after iteration {i}: {cost}`` every 100 iterations and after the
last; public copies agree to about 14 significant digits and differ in the last ones).
The two 2,500-iteration runs on the 12288-feature cat pictures take about 50 s and 80 s on two
busy cores here with single-threaded BLAS (numpy's own matrix products dominate); when
OpenBLAS's two threads compete with other processes for the cores, about 5 minutes each.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from models import deep
from models.datasets import load_dataset
from models.logistic_regression import flatten


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def course_layer_backward(dA, A_prev, W, Z, activation):
    """The notebook's linear_activation_backward with its sigmoid_backward / relu_backward: the reference."""
    dZ = dA * sigmoid(Z) * (1 - sigmoid(Z)) if activation == "sigmoid" else dA * (Z > 0)
    m = A_prev.shape[1]
    return W.T @ dZ, dZ @ A_prev.T / m, dZ.sum(axis=1, keepdims=True) / m


values = st.floats(-2, 2, allow_nan=False, allow_infinity=False)


@st.composite
def layer_caches(draw):
    """A layer's (dA, A_prev, W, b, Z) of consistent shapes; Z drawn on its own, as the graders' caches are."""
    n_prev, n, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 5))
    arrays = [draw(hnp.arrays(np.float64, shape, elements=values)) for shape in ((n, m), (n_prev, m), (n, n_prev),
                                                                               (n, 1))]
    # Z away from relu's kink at 0, where the derivative is a convention
    Z = draw(hnp.arrays(np.float64, (n, m), elements=st.floats(0.01, 2) | st.floats(-2, -0.01)))
    return (*arrays, Z)


@st.composite
def networks(draw):
    """Random parameters of an L-layer network (1 to 3 layers), inputs X and labels Y."""
    dims = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    dims[-1] = 1
    m = draw(st.integers(1, 5))
    parameters = {}
    for layer in range(1, len(dims)):
        parameters[f"W{layer}"] = draw(hnp.arrays(np.float64, (dims[layer], dims[layer - 1]), elements=values))
        parameters[f"b{layer}"] = draw(hnp.arrays(np.float64, (dims[layer], 1), elements=values))
    X = draw(hnp.arrays(np.float64, (dims[0], m), elements=values))
    Y = draw(hnp.arrays(np.int64, (1, m), elements=st.integers(0, 1))).astype(np.float64)
    return parameters, X, Y


def course_model_gradients(parameters, X, Y):
    """The notebook's L_model_forward then L_model_backward in numpy: the reference for the graphs."""
    L = len(parameters) // 2
    A, caches = X, []
    for layer in range(1, L + 1):
        Z = parameters[f"W{layer}"] @ A + parameters[f"b{layer}"]
        caches.append((A, Z))
        A = sigmoid(Z) if layer == L else np.maximum(0, Z)
    grads, dA = {}, -(Y / A - (1 - Y) / (1 - A))
    for layer in range(L, 0, -1):
        A_prev, Z = caches[layer - 1]
        activation = "sigmoid" if layer == L else "relu"
        dA, grads[f"dW{layer}"], grads[f"db{layer}"] = course_layer_backward(dA, A_prev, parameters[f"W{layer}"], Z,
                                                                             activation)
    return grads, caches


def kink_free(parameters, X):
    """True when no hidden pre-activation sits at relu's kink (where graph and course may pick different sides)."""
    _, caches = course_model_gradients(parameters, X, np.zeros((1, X.shape[1])))
    return all(np.abs(Z).min() > 1e-6 for _, Z in caches[:-1])


# --- the graders' cases: initialisation and forward ---------------------------------------------

def test_initialize_parameters_tests_1_and_2():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    parameters = deep.initialize_parameters(3, 2, 1)
    np.testing.assert_allclose(parameters["W1"], [[0.01624345, -0.00611756, -0.00528172],
                                                  [-0.01072969, 0.00865408, -0.02301539]], atol=1e-8)
    np.testing.assert_allclose(parameters["W2"], [[0.01744812, -0.00761207]], atol=1e-8)
    assert parameters["b1"].shape == (2, 1) and parameters["b2"].shape == (1, 1)
    parameters = deep.initialize_parameters(4, 3, 2)
    np.testing.assert_allclose(parameters["W1"], [[0.01624345, -0.00611756, -0.00528172, -0.01072969],
                                                  [0.00865408, -0.02301539, 0.01744812, -0.00761207],
                                                  [0.00319039, -0.0024937, 0.01462108, -0.02060141]], atol=1e-8)
    np.testing.assert_allclose(parameters["W2"], [[-0.00322417, -0.00384054, 0.01133769],
                                                  [-0.01099891, -0.00172428, -0.00877858]], atol=1e-8)
    assert not parameters["b1"].any() and parameters["b2"].shape == (2, 1)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # seeded on its own stream


def test_initialize_parameters_deep_tests_1_and_2():
    parameters = deep.initialize_parameters_deep([5, 4, 3])
    np.testing.assert_allclose(parameters["W1"], [[0.01788628, 0.0043651, 0.00096497, -0.01863493, -0.00277388],
                                                  [-0.00354759, -0.00082741, -0.00627001, -0.00043818, -0.00477218],
                                                  [-0.01313865, 0.00884622, 0.00881318, 0.01709573, 0.00050034],
                                                  [-0.00404677, -0.0054536, -0.01546477, 0.00982367, -0.01101068]],
                               atol=1e-8)
    np.testing.assert_allclose(parameters["W2"], [[-0.01185047, -0.0020565, 0.01486148, 0.00236716],
                                                  [-0.01023785, -0.00712993, 0.00625245, -0.00160513],
                                                  [-0.00768836, -0.00230031, 0.00745056, 0.01976111]], atol=1e-8)
    assert [parameters[f"b{i}"].shape for i in (1, 2)] == [(4, 1), (3, 1)]
    parameters = deep.initialize_parameters_deep([4, 3, 2])
    np.testing.assert_allclose(parameters["W1"], [[0.01788628, 0.0043651, 0.00096497, -0.01863493],
                                                  [-0.00277388, -0.00354759, -0.00082741, -0.00627001],
                                                  [-0.00043818, -0.00477218, -0.01313865, 0.00884622]], atol=1e-8)
    np.testing.assert_allclose(parameters["W2"], [[0.00881318, 0.01709573, 0.00050034],
                                                  [-0.00404677, -0.0054536, -0.01546477]], atol=1e-8)


def test_the_applications_initialization_is_seed_1_over_root_n():
    parameters = deep.initialize_parameters_deep([6, 3, 1], init="xavier", seed=1)
    rng = np.random.RandomState(1)
    np.testing.assert_array_equal(parameters["W1"], rng.randn(3, 6) / np.sqrt(6))
    np.testing.assert_array_equal(parameters["W2"], rng.randn(1, 3) / np.sqrt(3))
    with pytest.raises(ValueError, match="two or more positive sizes"):
        deep.initialize_parameters_deep([5])


def test_linear_forward_test():
    np.random.seed(1)
    A_prev, W, b = np.random.randn(3, 2), np.random.randn(1, 3), np.random.randn(1, 1)
    Z, cache = deep.linear_forward(A_prev, W, b)
    np.testing.assert_allclose(Z, [[3.26295337, -1.23429987]], atol=1e-8)
    assert all(got is given for got, given in zip(cache, (A_prev, W, b), strict=True))


def test_linear_activation_forward_test():
    np.random.seed(2)
    A_prev, W, b = np.random.randn(3, 2), np.random.randn(1, 3), np.random.randn(1, 1)
    A, ((A_c, W_c, b_c), Z) = deep.linear_activation_forward(A_prev, W, b, "sigmoid")
    np.testing.assert_allclose(A, [[0.96890023, 0.11013289]], atol=1e-8)
    np.testing.assert_allclose(Z, [[3.43896131, -2.08938436]], atol=1e-8)
    assert A_c is A_prev and W_c is W and b_c is b
    A, (_, Z) = deep.linear_activation_forward(A_prev, W, b, "relu")
    np.testing.assert_allclose(A, [[3.43896131, 0.0]], atol=1e-8)
    np.testing.assert_allclose(Z, [[3.43896131, -2.08938436]], atol=1e-8)
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        deep.linear_activation_forward(A_prev, W, b, "tanh")


def test_L_model_forward_test():
    np.random.seed(6)
    X = np.random.randn(5, 4)
    parameters = {}
    for layer, (n, n_prev) in enumerate(((4, 5), (3, 4), (1, 3)), start=1):
        parameters[f"W{layer}"], parameters[f"b{layer}"] = np.random.randn(n, n_prev), np.random.randn(n, 1)
    AL, caches = deep.L_model_forward(X, parameters)
    np.testing.assert_allclose(AL, [[0.03921668, 0.70498921, 0.19734387, 0.04728177]], atol=1e-8)
    assert len(caches) == 3
    np.testing.assert_array_equal(caches[0][0][0], X)
    np.testing.assert_allclose(caches[0][1][0], [-5.23825714, 3.18040136, 0.4074501, -1.88612721], atol=1e-8)
    np.testing.assert_allclose(caches[1][0][0][0], [0.0, 3.18040136, 0.4074501, 0.0], atol=1e-8)  # A1 = relu(Z1)
    np.testing.assert_allclose(caches[1][1][2], [10.37508342, -0.66591468, 1.63635185, 8.17870169], atol=1e-8)
    np.testing.assert_allclose(caches[2][1], [[-3.19864676, 0.87117055, -1.40297864, -3.00319435]], atol=1e-8)
    for layer, ((_, W, b), _) in enumerate(caches, start=1):
        np.testing.assert_array_equal(W, parameters[f"W{layer}"])
        np.testing.assert_array_equal(b, parameters[f"b{layer}"])


def test_compute_cost_test():
    cost = deep.compute_cost(np.array([[0.8, 0.9, 0.4]]), np.asarray([[1, 1, 0]]))
    assert isinstance(cost, np.float64) and cost.shape == ()
    assert cost == pytest.approx(0.2797765635793422, rel=1e-12)


# --- the graders' cases: backward and the update --------------------------------------------------

def test_linear_backward_test():
    np.random.seed(1)
    dZ, A, W, b = np.random.randn(3, 4), np.random.randn(5, 4), np.random.randn(3, 5), np.random.randn(3, 1)
    dA_prev, dW, db = deep.linear_backward(dZ, (A, W, b))
    np.testing.assert_allclose(dA_prev, [[-1.15171336, 0.06718465, -0.3204696, 2.09812712],
                                         [0.60345879, -3.72508701, 5.81700741, -3.84326836],
                                         [-0.4319552, -1.30987417, 1.72354705, 0.05070578],
                                         [-0.38981415, 0.60811244, -1.25938424, 1.47191593],
                                         [-2.52214926, 2.67882552, -0.67947465, 1.48119548]], atol=1e-8)
    np.testing.assert_allclose(dW, [[0.07313866, -0.0976715, -0.87585828, 0.73763362, 0.00785716],
                                    [0.85508818, 0.37530413, -0.59912655, 0.71278189, -0.58931808],
                                    [0.97913304, -0.24376494, -0.08839671, 0.55151192, -0.10290907]], atol=1e-8)
    np.testing.assert_allclose(db, [[-0.14713786], [-0.11313155], [-0.13209101]], atol=1e-8)
    assert dA_prev.shape == A.shape and dW.shape == W.shape and db.shape == b.shape


def linear_activation_backward_case():
    np.random.seed(2)
    dA, A, W, b, Z = (np.random.randn(*shape) for shape in ((1, 2), (3, 2), (1, 3), (1, 1), (1, 2)))
    return dA, ((A, W, b), Z)


def test_linear_activation_backward_test():
    dA, cache = linear_activation_backward_case()
    dA_prev, dW, db = deep.linear_activation_backward(dA, cache, "sigmoid")
    np.testing.assert_allclose(dA_prev, [[0.11017994, 0.01105339], [0.09466817, 0.00949723],
                                         [-0.05743092, -0.00576154]], atol=1e-8)
    np.testing.assert_allclose(dW, [[0.10266786, 0.09778551, -0.01968084]], atol=1e-8)
    np.testing.assert_allclose(db, [[-0.05729622]], atol=1e-8)
    dA_prev, dW, db = deep.linear_activation_backward(dA, cache, "relu")
    np.testing.assert_allclose(dA_prev, [[0.44090989, 0.0], [0.37883606, 0.0], [-0.2298228, 0.0]], atol=1e-8)
    np.testing.assert_allclose(dW, [[0.44513824, 0.37371418, -0.10478989]], atol=1e-8)
    np.testing.assert_allclose(db, [[-0.20837892]], atol=1e-8)


def L_model_backward_case():
    np.random.seed(3)
    AL = np.random.randn(1, 2)  # not a probability, nor sigmoid of the cache's Z2: the gradients are the caches'
    Y = np.array([[1, 0]])
    A1, W1, b1, Z1 = np.random.randn(4, 2), np.random.randn(3, 4), np.random.randn(3, 1), np.random.randn(3, 2)
    A2, W2, b2, Z2 = np.random.randn(3, 2), np.random.randn(1, 3), np.random.randn(1, 1), np.random.randn(1, 2)
    return AL, Y, (((A1, W1, b1), Z1), ((A2, W2, b2), Z2))


def test_L_model_backward_test():
    grads = deep.L_model_backward(*L_model_backward_case())
    assert set(grads) == {"dA0", "dA1", "dW1", "dW2", "db1", "db2"}
    np.testing.assert_allclose(grads["dA0"], [[0.0, 0.52257901], [0.0, -0.3269206], [0.0, -0.32070404],
                                              [0.0, -0.74079187]], atol=1e-8)
    np.testing.assert_allclose(grads["dA1"], [[0.12913162, -0.44014127], [-0.14175655, 0.48317296],
                                              [0.01663708, -0.05670698]], atol=1e-8)
    np.testing.assert_allclose(grads["dW1"], [[0.41010002, 0.07807203, 0.13798444, 0.10502167], [0.0, 0.0, 0.0, 0.0],
                                              [0.05283652, 0.01005865, 0.01777766, 0.0135308]], atol=1e-8)
    np.testing.assert_allclose(grads["dW2"], [[-0.39202432, -0.13325855, -0.04601089]], atol=1e-8)
    np.testing.assert_allclose(grads["db1"], [[-0.22007063], [0.0], [-0.02835349]], atol=1e-8)
    np.testing.assert_allclose(grads["db2"], [[0.15187861]], atol=1e-8)


def test_update_parameters_test():
    np.random.seed(2)
    parameters = {"W1": np.random.randn(3, 4), "b1": np.random.randn(3, 1), "W2": np.random.randn(1, 3),
                  "b2": np.random.randn(1, 1)}
    np.random.seed(3)
    grads = {"dW1": np.random.randn(3, 4), "db1": np.random.randn(3, 1), "dW2": np.random.randn(1, 3),
             "db2": np.random.randn(1, 1)}
    before = {key: value.copy() for key, value in parameters.items()}
    updated = deep.update_parameters(parameters, grads, 0.1)
    np.testing.assert_allclose(updated["W1"], [[-0.59562069, -0.09991781, -2.14584584, 1.82662008],
                                               [-1.76569676, -0.80627147, 0.51115557, -1.18258802],
                                               [-1.0535704, -0.86128581, 0.68284052, 2.20374577]], atol=1e-8)
    np.testing.assert_allclose(updated["b1"], [[-0.04659241], [-1.28888275], [0.53405496]], atol=1e-8)
    np.testing.assert_allclose(updated["W2"], [[-0.55569196, 0.0354055, 1.32964895]], atol=1e-8)
    np.testing.assert_allclose(updated["b2"], [[-0.84610769]], atol=1e-8)
    for key, value in before.items():
        np.testing.assert_array_equal(parameters[key], value)  # params are copied, as the notebook's deepcopy


# --- the graphs' gradients against the course's formulas -------------------------------------------

@given(layer_caches())
def test_linear_backward_is_the_courses_formula(case):
    dZ, A_prev, W, b, _ = case
    dA_prev, dW, db = deep.linear_backward(dZ, (A_prev, W, b))
    m = A_prev.shape[1]
    np.testing.assert_allclose(dA_prev, W.T @ dZ, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dW, dZ @ A_prev.T / m, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(db, dZ.sum(axis=1, keepdims=True) / m, rtol=1e-12, atol=1e-14)


@given(layer_caches(), st.sampled_from(deep.ACTIVATIONS))
def test_linear_activation_backward_takes_the_derivative_at_the_caches_Z(case, activation):
    dA, A_prev, W, b, Z = case
    got = deep.linear_activation_backward(dA, ((A_prev, W, b), Z), activation)
    for g, expected in zip(got, course_layer_backward(dA, A_prev, W, Z, activation), strict=True):
        np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-14)


@given(networks())
def test_the_training_graphs_gradients_are_the_courses(problem):
    parameters, X, Y = problem
    assume(kink_free(parameters, X))
    net = deep.network(deep.dims_of(parameters)).load(parameters)
    net.train.forward({net.X: X, net.Y: Y})
    grads = net.train.backward()
    expected, _ = course_model_gradients(parameters, X, Y)
    for key, node in net.parameters.items():
        np.testing.assert_allclose(grads[node], expected["d" + key], rtol=1e-7, atol=1e-10)


@given(networks())
def test_L_model_backward_of_its_own_forward_is_the_training_graphs(problem):
    parameters, X, Y = problem
    assume(kink_free(parameters, X))
    AL, caches = deep.L_model_forward(X, parameters)
    grads = deep.L_model_backward(AL, Y, caches)
    net = deep.network(deep.dims_of(parameters)).load(parameters)
    net.train.forward({net.X: X, net.Y: Y})
    trained = net.train.backward()
    for key, node in net.parameters.items():
        np.testing.assert_allclose(grads["d" + key], trained[node], rtol=1e-7, atol=1e-10)


def test_predict_labels_above_one_half_and_prints_the_courses_accuracy(capsys):
    parameters = {"W1": np.array([[1.0, -1.0]]), "b1": np.zeros((1, 1))}
    X = np.array([[2.0, 0.0, 1.0], [1.0, 0.0, 3.0]])  # Z = 1, 0, -2: sigmoid(0) = 0.5 exactly is not above
    p = deep.predict(X, np.array([[1, 1, 0]]), parameters)
    np.testing.assert_array_equal(p, [[1.0, 0.0, 0.0]])
    assert p.dtype == np.float64
    assert capsys.readouterr().out == "Accuracy: 0.6666666666666666\n"  # np.sum((p == y) / m), as the course
    deep.predict(X, np.array([[1, 1, 0]]), parameters, print_accuracy=False)
    assert capsys.readouterr().out == ""
    # Six right of six prints 0.9999999999999999, not 1.0: the course sums (p == y) / m
    deep.predict(np.ones((2, 6)), np.ones((1, 6)), {"W1": np.array([[1.0, 1.0]]), "b1": np.zeros((1, 1))})
    assert capsys.readouterr().out == "Accuracy: 0.9999999999999999\n"


def test_wrong_parameters_are_named():
    with pytest.raises(KeyError, match="W1, b1, ..., WL, bL"):
        deep.L_model_forward(np.zeros((2, 3)), {"W1": np.zeros((1, 2))})
    with pytest.raises(ValueError, match=r"parameters\['b1'\] has shape \(2, 1\); layers \[2, 1\] need \(1, 1\)"):
        deep.L_model_forward(np.zeros((2, 3)), {"W1": np.zeros((1, 2)), "b1": np.zeros((2, 1))})


# --- the application's published runs on the cat pictures -------------------------------------------

TWO_LAYER_COSTS = [  # every 100 iterations, then iteration 2499
    0.693049735659989, 0.6464320953428849, 0.6325140647912678, 0.6015024920354665, 0.5601966311605748,
    0.5158304772764729, 0.4754901313943325, 0.43391631512257495, 0.4007977536203886, 0.35807050113237976,
    0.33942815383664127, 0.3052753636196264, 0.2749137728213016, 0.2468176821061484, 0.19850735037466102,
    0.1744831811255665, 0.17080762978096942, 0.11306524562164715, 0.09629426845937152, 0.0834261795972687,
    0.07439078704319087, 0.06630748132267934, 0.05919329501038172, 0.053361403485605585, 0.04855478562877019,
    0.04421498215868956,
]
L_LAYER_COSTS = [
    0.7717493284237686, 0.6720534400822914, 0.6482632048575212, 0.6115068816101354, 0.5670473268366111,
    0.54013766345478, 0.5279299569455267, 0.4654773771766851, 0.3691258524959279, 0.39174697434805344,
    0.3151869888600617, 0.2726998441789385, 0.23741853400268137, 0.19960120532208647, 0.18926300388463305,
    0.1611885466582775, 0.14821389662363316, 0.13777487812972944, 0.1297401754919012, 0.12122535068005211,
    0.1138206066863371, 0.10783928526254133, 0.10285466069352679, 0.10089745445261787, 0.09287821526472397,
    0.088439943441702,
]


def printed_costs(out: str) -> tuple[list[int], list[float]]:
    pairs = [line.removeprefix("Cost after iteration ").split(": ") for line in out.splitlines()
             if line.startswith("Cost after iteration ")]
    return [int(i) for i, _ in pairs], [float(c) for _, c in pairs]


@pytest.fixture
def cats(course_data):
    train_x_orig, train_y, test_x_orig, test_y, _ = load_dataset(course_data)
    return flatten(train_x_orig), train_y, flatten(test_x_orig), test_y


@pytest.mark.parametrize("fit, dims, published, accuracies", [
    (deep.two_layer_model, (12288, 7, 1), TWO_LAYER_COSTS, ("0.9999999999999998", "0.72")),
    (deep.L_layer_model, [12288, 20, 7, 5, 1], L_LAYER_COSTS, ("0.9856459330143539", "0.8")),
], ids=["two_layer_model", "L_layer_model"])
def test_the_published_run(cats, capsys, fit, dims, published, accuracies):
    train_x, train_y, test_x, test_y = cats
    parameters, costs = fit(train_x, train_y, dims, num_iterations=2500, print_cost=True)
    iterations, printed = printed_costs(capsys.readouterr().out)
    assert iterations == [*range(0, 2500, 100), 2499]
    assert costs == printed[:-1]  # the costs kept are the ones printed every 100 iterations
    # Public copies of the notebook print these costs with up to 16 digits and disagree from about
    # the 14th on (0.17080762978095967 to 0.17080762978096942 at 1600: round-off of matrix products
    # that differ by machine); the graph's stable fused cost adds its own, so the bound is 1e-10.
    np.testing.assert_allclose(printed, published, rtol=1e-10)
    deep.predict(train_x, train_y, parameters)
    deep.predict(test_x, test_y, parameters)
    assert capsys.readouterr().out.splitlines() == [f"Accuracy: {accuracies[0]}", f"Accuracy: {accuracies[1]}"]


def test_train_for_cli(course_data):
    seen = []
    result = deep.train_for_cli(iterations=3, data_dir=course_data, model="two_layer",
                                callback=lambda i, cost: seen.append(i))
    assert seen == [0, 1, 2]
    assert result["name"] == "two_layer" and result["layers_dims"] == [12288, 7, 1]
    assert result["costs"] == [pytest.approx(TWO_LAYER_COSTS[0], rel=1e-10)] and result["cost_every"] == 100
    assert set(result["accuracies"]) == {"train", "test"} and 0 <= result["accuracies"]["test"] <= 100
    assert set(result["parameters"]) == {"W1", "b1", "W2", "b2"}
    with pytest.raises(ValueError, match="unknown model 'wide'"):
        deep.train_for_cli(iterations=1, data_dir=course_data, model="wide")
