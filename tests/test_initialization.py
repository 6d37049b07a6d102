"""Course 2 Week 1 "Initialization" as a tinygraph graph: the graders' cases and the three published runs.

Published numbers: the 2021 notebook's public_tests.py (initialize_parameters_*_test)
and the printed runs in public copies of Initialization.ipynb (e.g.
greyhatguy007/deep-learning-specialization, C2 week1 W1A1, and the transcriptions
found by the code search). Each 15,000-iteration run takes about 2.5 s here.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn draws the circles: the course extra, pip install -e '.[course]'")

from models import initialization as ini  # noqa: E402
from models.three_layer import accuracy, network, predict_dec  # noqa: E402
from tinygraph import optim  # noqa: E402

# --- the graders' cases (public_tests.py) -------------------------------------------------


def test_initialize_parameters_zeros_test():
    parameters = ini.initialize_parameters_zeros([3, 2, 1])
    assert set(parameters) == {"W1", "b1", "W2", "b2"}
    for key, shape in {"W1": (2, 3), "b1": (2, 1), "W2": (1, 2), "b2": (1, 1)}.items():
        assert parameters[key].shape == shape and parameters[key].dtype == np.float64
        assert not parameters[key].any()


def test_initialize_parameters_random_test():
    parameters = ini.initialize_parameters_random([3, 2, 1])
    np.testing.assert_allclose(parameters["W1"], [[17.88628473, 4.36509851, 0.96497468],
                                                  [-18.63492703, -2.77388203, -3.54758979]], atol=1e-8)
    np.testing.assert_allclose(parameters["W2"], [[-0.82741481, -6.27000677]], atol=1e-8)
    assert parameters["b1"].shape == (2, 1) and not parameters["b1"].any()
    assert parameters["b2"].shape == (1, 1) and not parameters["b2"].any()


def test_initialize_parameters_he_test():
    parameters = ini.initialize_parameters_he([3, 1, 2])
    np.testing.assert_allclose(parameters["W1"], [[1.46040903, 0.3564088, 0.07878985]], atol=1e-8)
    np.testing.assert_allclose(parameters["W2"], [[-2.63537665], [-0.39228616]], atol=1e-8)
    assert parameters["b1"].shape == (1, 1) and parameters["b2"].shape == (2, 1)


def test_the_notebooks_printed_he_example():
    """The notebook prints initialize_parameters_he([2, 4, 1])."""
    parameters = ini.initialize_parameters_he([2, 4, 1])
    np.testing.assert_allclose(parameters["W1"], [[1.78862847, 0.43650985], [0.09649747, -1.8634927],
                                                  [-0.2773882, -0.35475898], [-0.08274148, -0.62700068]], atol=1e-8)
    np.testing.assert_allclose(parameters["W2"], [[-0.03098412, -0.33744411, -0.92904268, 0.62552248]], atol=1e-8)


def test_initializers_are_seeded_and_leave_numpy_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = ini.initialize_parameters_random([4, 3, 2])
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    np.testing.assert_array_equal(first["W2"], ini.initialize_parameters_random([4, 3, 2])["W2"])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="layers_dims"):
        ini.initialize_parameters_he([3])
    X, Y = np.zeros((2, 4)), np.zeros((1, 4))
    with pytest.raises(ValueError, match="'zeros', 'random', 'he'.*'xavier'"):
        ini.model(X, Y, num_iterations=1, initialization="xavier")


# --- the data ---------------------------------------------------------------------------

def test_without_scikit_learn_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"needs scikit-learn: pip install scikit-learn .*-e \"\.\[course\]\""):
        ini.load_dataset()


def test_load_dataset_shapes_and_labels():
    train_X, train_Y, test_X, test_Y = ini.load_dataset()
    assert train_X.shape == (2, 300) and train_Y.shape == (1, 300)
    assert test_X.shape == (2, 100) and test_Y.shape == (1, 100)
    assert train_Y.sum() == 150 and test_Y.sum() == 50  # make_circles: half on each circle
    radii = np.hypot(*train_X)  # make_circles: label 0 on the unit circle, label 1 on the circle of radius 0.8
    assert abs(np.median(radii[train_Y[0] == 0]) - 1.0) < 0.02 and abs(np.median(radii[train_Y[0] == 1]) - 0.8) < 0.02


# --- the three published runs -------------------------------------------------------------

def run(initialization, capsys):
    """The notebook's cell: train 15,000 iterations, then predict both sets."""
    train_X, train_Y, test_X, test_Y = ini.load_dataset()
    parameters = ini.model(train_X, train_Y, initialization=initialization)
    costs = [float(line.rsplit(": ", 1)[1]) for line in capsys.readouterr().out.splitlines()]
    return costs, accuracy(predict_dec(parameters, train_X), train_Y), accuracy(predict_dec(parameters, test_X),
                                                                               test_Y)


def test_zeros_never_break_the_symmetry(capsys):
    costs, train, test = run("zeros", capsys)
    assert len(costs) == 15
    np.testing.assert_allclose(costs, np.log(2), rtol=1e-15)  # published: 0.6931471805599453 every time
    assert (train, test) == (0.5, 0.5)


HE_COSTS = [0.8830537463419761, 0.6879825919728063, 0.6751286264523371, 0.6526117768893807, 0.6082958970572938,
            0.5304944491717495, 0.4138645817071794, 0.3117803464844441, 0.23696215330322562, 0.18597287209206834,
            0.15015556280371806, 0.12325079292273546, 0.09917746546525934, 0.08457055954024278, 0.07357895962677369]


def test_he_reaches_99_and_96_percent_with_the_published_costs(capsys):
    costs, train, test = run("he", capsys)
    # Public copies print these to 16 digits and disagree in the last one or two (9000: 0.18597287209206828
    # ... 0.1859728720920684; 13000: 0.08457055954024274 ... 0.08457055954024283): agreement to 1e-13 is
    # as close as the copies are to each other.
    np.testing.assert_allclose(costs, HE_COSTS, rtol=1e-13)
    assert train == 0.9933333333333333 and test == 0.96


# Iterations 1000 ... 14000 as four public copies print them: large weights make the run chaotic in
# floating point, and the copies disagree from the third decimal on (iteration 0 prints inf in all).
RANDOM_COSTS = np.array([
    [0.6237287551108738, 0.5981106708339466, 0.5638353726276827, 0.550152614449184, 0.5444235275228304,
     0.5374184054630083, 0.47357131493578297, 0.39775634899580387, 0.3934632865981078, 0.39202525076484457,
     0.38921493051297673, 0.38614221789840486, 0.38497849983013926, 0.38278397192120406],
    [0.6243339944795463, 0.5983698376976234, 0.5640713641303857, 0.5502225777263651, 0.5445189912897229,
     0.5374939942050982, 0.47927872911735586, 0.39787508336662053, 0.3934925383461005, 0.3920373161708829,
     0.38930570830972355, 0.3861562072516527, 0.38499595295812233, 0.38280923039736164],
    [0.6239567039908781, 0.5978043872838292, 0.563595830364618, 0.5500816882570866, 0.5443417928662615,
     0.5373553777823036, 0.4700141958024487, 0.3976617665785177, 0.39344405717719166, 0.39201765232720626,
     0.38910685278803786, 0.38612995897697244, 0.3849735792031832, 0.38275100578285265],
    [0.6247924745506072, 0.5980258056061102, 0.5637539062842213, 0.5501256393526495, 0.5443826306793814,
     0.5373895855049121, 0.47157999220550006, 0.39770475516243037, 0.3934560146692851, 0.3920227137490125,
     0.38913700035966736, 0.3861358766546214, 0.38497629552893475, 0.38276694641706693],
])


def test_large_random_weights_reach_83_and_86_percent(capsys):
    costs, train, test = run("random", capsys)
    assert (train, test) == (0.83, 0.86)
    # The course prints inf at iteration 0: its formula takes log(1 - a3) where a3 rounds to exactly 1 for
    # a label-0 point. The graph's cost is the same formula run stably, so it is finite, and large.
    assert np.isfinite(costs[0]) and costs[0] > 100
    # Later costs: inside the spread of the public copies, widened by half that spread on each side.
    low, high = RANDOM_COSTS.min(axis=0), RANDOM_COSTS.max(axis=0)
    width = high - low
    assert np.all((costs[1:] >= low - width / 2) & (costs[1:] <= high + width / 2)), (costs[1:], low, high)


def test_the_course_formula_is_inf_where_the_graph_is_finite():
    """Why the course prints inf: with ×10 weights some a3 round to exactly 1 (or 0) on the wrong side."""
    train_X, train_Y, _, _ = ini.load_dataset()
    parameters = ini.initialize_parameters_random([2, 10, 5, 1])
    net = network((2, 10, 5, 1)).load(parameters)
    cost = net.run(train_X, train_Y)
    a3 = net.predict_proba(train_X)
    with np.errstate(divide="ignore", invalid="ignore"):
        course = np.nansum(np.multiply(-np.log(a3), train_Y) + np.multiply(-np.log(1 - a3), 1 - train_Y)) / 300
    assert course == np.inf and np.isfinite(cost)
    assert np.any((a3 == 1) & (train_Y == 0)) or np.any((a3 == 0) & (train_Y == 1))


# --- the command line's entry point ------------------------------------------------------

def test_a_cost_that_stops_being_finite_names_the_iteration():
    X, Y, _, _ = ini.load_dataset()
    X = X.copy()
    X[0, 7] = np.nan
    with np.errstate(invalid="ignore"), pytest.raises(optim.TrainingError, match="cost became nan at iteration 0"):
        ini.model(X, Y, num_iterations=3, print_cost=False)


def test_train_for_cli_returns_the_three_runs():
    seen = []
    result = ini.train_for_cli(iterations=1001, callback=lambda i, cost: seen.append(i))
    assert seen == list(range(1001)) * 3
    assert result["name"] == "initialization" and set(result["runs"]) == {"zeros", "random", "he"}
    for name, r in result["runs"].items():
        assert len(r["costs"]) == 2 and r["cost_every"] == 1000 and r["iterations"] == 1001
        assert set(r["accuracies"]) == {"train", "test"} and 0 <= r["accuracies"]["test"] <= 100
        assert set(r["parameters"]) == {"W1", "b1", "W2", "b2", "W3", "b3"}
        b = r["boundary"]
        assert b["X"].shape == (2, 300) and b["predict"](b["X"]).shape == (1, 300)
        assert name.lower() in b["title"].lower()
    assert result["costs"] == result["runs"]["he"]["costs"]
    assert result["runs"]["zeros"]["accuracies"] == {"train": 50.0, "test": 50.0}
    with pytest.raises(ValueError, match="reads no data directory"):
        ini.train_for_cli(iterations=1, data_dir=".")
