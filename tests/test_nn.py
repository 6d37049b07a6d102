"""tinygraph.nn: modules find their parameters, build the course's layers, and losses match its formulas."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn

README = Path(__file__).resolve().parent.parent / "README.md"


def sigmoid(z):
    return 0.5 + 0.5 * np.tanh(z / 2)  # no overflow warning for large |z|


# --- parameters and names ------------------------------------------------------------------

class Block(nn.Module):
    """A module of the kinds of attributes parameters hide in."""

    def __init__(self):
        self.scale = tg.parameter(1.0, name="scale")
        self.note = "not a parameter"
        self.layers = [nn.Linear(2, 3, name="a"), (nn.Linear(3, 3, name="b"),)]
        self.heads = {"main": nn.Linear(3, 1, name="main"), "extra": tg.parameter(np.zeros(2), name="extra")}
        self.again = self.layers[0]  # the same layer twice: its parameters are listed once
        self.tied = self.scale  # the same parameter twice: listed once, under its first name

    def forward(self, x):
        return self.heads["main"](self.layers[1][0](self.layers[0](x))) * self.scale


def test_named_parameters_follow_attribute_order_with_dotted_names():
    block = Block()
    names = [name for name, _ in block.named_parameters()]
    assert names == ["scale", "layers.0.W", "layers.0.b", "layers.1.0.W", "layers.1.0.b",
                     "heads.main.W", "heads.main.b", "heads.extra"]
    assert block.parameters() == [p for _, p in block.named_parameters()]
    assert block.parameters()[1] is block.layers[0].W


def test_mlp_parameters_are_the_courses_W_l_and_b_l_in_order():
    model = nn.MLP([4, 3, 2, 1])
    named = model.named_parameters()
    assert [name for name, _ in named] == ["layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b",
                                           "layers.2.W", "layers.2.b"]
    assert [p.shape for _, p in named] == [(3, 4), (3, 1), (2, 3), (2, 1), (1, 2), (1, 1)]
    assert all(p.name == name for name, p in named)  # node names, as errors and reports show them
    assert all(np.all(layer.b.value == 0) for layer in model.layers)


def test_sequential_takes_modules_and_node_functions():
    model = nn.Sequential(nn.Linear(2, 4, rng=0, name="hidden"), tg.tanh,
                          nn.Linear(4, 1, rng=1, name="out"), tg.sigmoid)
    assert [name for name, _ in model.named_parameters()] == ["layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b"]
    X = tg.placeholder((2, None), name="X")
    x = np.random.default_rng(0).standard_normal((2, 5))
    hidden, out = model.layers[0], model.layers[2]
    expected = sigmoid(out.W.value @ np.tanh(hidden.W.value @ x + hidden.b.value) + out.b.value)
    np.testing.assert_allclose(tg.Graph(model(X)).forward({X: x}), expected, rtol=1e-12)
    with pytest.raises(TypeError, match="item 1 .3. is neither a module nor a function"):
        nn.Sequential(model, 3)


def test_a_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module defines no forward"):
        nn.Module()(tg.placeholder((2, None)))


# --- layers ------------------------------------------------------------------------------------

def test_mlp_draws_the_courses_seeded_weights_bit_for_bit():
    """np.random.seed(3); randn(n_l, n_{l-1}) * 0.01 per layer (initialize_parameters_deep)."""
    dims = [5, 4, 3]
    model = nn.MLP(dims, init="normal", rng=3)
    np.random.seed(3)
    for layer, n_in, n_out in zip(model.layers, dims[:-1], dims[1:], strict=True):
        np.testing.assert_array_equal(layer.W.value, np.random.randn(n_out, n_in) * 0.01)
    np.random.seed(1)
    model = nn.MLP([12288, 20, 7, 5, 1], init="xavier")  # rng=None: the global state, as the notebook seeds it
    np.random.seed(1)
    for layer in model.layers:
        n_in, n_out = layer.n_in, layer.n_out
        np.testing.assert_array_equal(layer.W.value, np.random.randn(n_out, n_in) / np.sqrt(n_in), err_msg=layer.name)


def test_linear_init_choices():
    assert np.all(nn.Linear(3, 2, init="zeros").W.value == 0)
    np.testing.assert_array_equal(nn.Linear(3, 2, init="he", rng=4).W.value,
                                  np.random.RandomState(4).randn(2, 3) * np.sqrt(2 / 3))
    custom = nn.Linear(3, 2, init=lambda shape, rng: np.full(shape, 0.5))
    assert np.all(custom.W.value == 0.5)
    with pytest.raises(tg.ShapeError, match=r"layer 'odd': init .* returned shape \(3, 2\), expected \(2, 3\)"):
        nn.Linear(3, 2, init=lambda shape, rng: np.ones(shape[::-1]), name="odd")
    with pytest.raises(ValueError, match="unknown initialiser 'uniform'"):
        nn.Linear(3, 2, init="uniform")
    with pytest.raises(ValueError, match="n_out must be a positive integer, got 0"):
        nn.Linear(3, 0)


def test_float32_layers_stay_float32():
    model = nn.MLP([3, 2, 1], dtype=np.float32, rng=0)
    X = tg.placeholder((3, None), name="X", dtype=np.float32)
    out = model(X)
    assert out.dtype == np.float32 and all(p.value.dtype == np.float32 for p in model.parameters())


def test_mlp_forward_is_the_courses_L_model_forward():
    model = nn.MLP([2, 5, 2, 1], hidden="relu", output="sigmoid", rng=3)
    X = tg.placeholder((2, None), name="X")
    x = np.random.default_rng(1).standard_normal((2, 7))
    A = x
    for layer in model.layers[:-1]:
        A = np.maximum(0, layer.W.value @ A + layer.b.value)
    last = model.layers[-1]
    np.testing.assert_allclose(tg.Graph(model(X)).forward({X: x}), sigmoid(last.W.value @ A + last.b.value),
                               rtol=1e-12)


def test_activation_choices():
    Z = tg.placeholder((2, None), name="Z")
    assert nn.activation(None)(Z) is Z and nn.activation("identity")(Z) is Z
    assert nn.activation("tanh")(Z).kind == "tanh"
    assert nn.MLP([2, 1], output=None)(Z).kind == "add"  # the linear layer itself
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nn.MLP([2, 3, 1], hidden="swish")
    with pytest.raises(ValueError, match="at least one layer size"):
        nn.MLP([2])


def test_a_layer_fed_the_wrong_number_of_features_names_itself_and_both_sizes():
    with pytest.raises(tg.ShapeError, match=r"layer 'layers.0' \(2 → 5\) expects 2 input features \(rows of A\), "
                                            r"got 3: A has shape \(3, \?\)"):
        nn.MLP([2, 5, 1])(tg.placeholder((3, None), name="X"))
    model = nn.Sequential(nn.Linear(2, 4, name="hidden"), nn.Linear(3, 1, name="out"))
    with pytest.raises(tg.ShapeError, match=r"layer 'out' \(3 → 1\) expects 3 input features .*got 4"):
        model(tg.placeholder((2, None), name="X"))
    with pytest.raises(tg.ShapeError, match=r"layer 'hidden' .* takes A of shape \(2, m\).*got A of shape \(2,\)"):
        model(tg.placeholder((2,), name="x"))


@pytest.mark.parametrize(("dims", "hidden"), [([3, 5, 2, 1], "relu"), ([3, 4, 1], "tanh")])
def test_mlp_gradients_pass_gradcheck(dims, hidden):
    model = nn.MLP(dims, hidden=hidden, rng=0)
    X = tg.placeholder((dims[0], None), name="X")
    Y = tg.placeholder((1, None), name="Y")
    m = 8
    weights = [layer.W for layer in model.layers]
    cost = nn.binary_cross_entropy(model(X), Y) + nn.l2_penalty(weights, 0.7, m)
    rng = np.random.default_rng(2)
    for p in model.parameters():  # non-zero biases, so every gradient term is exercised
        p.value = rng.standard_normal(p.shape)
    feeds = {X: rng.standard_normal((dims[0], m)), Y: (rng.random((1, m)) < 0.5).astype(float)}
    report = tg.gradcheck(tg.Graph(cost), feeds)
    assert report.ok, str(report)
    assert report.relative_error < 1e-7


# --- losses ------------------------------------------------------------------------------------

def test_binary_cross_entropy_is_the_courses_cost():
    """compute_cost_test_case: Y = [[1, 1, 1]], AL = [[.8, .9, .4]] -> 0.41493159961539694 (published)."""
    cost = nn.binary_cross_entropy(tg.constant([[0.8, 0.9, 0.4]]), np.array([[1, 1, 1]]))
    assert tg.Graph(cost).forward() == pytest.approx(0.41493159961539694, rel=1e-12)


def test_binary_cross_entropy_stays_finite_for_large_logits():
    Z = tg.parameter([[-50.0, 50.0, 800.0, -800.0]], name="Z")
    y = np.array([[1.0, 0.0, 1.0, 0.0]])
    g = tg.Graph(nn.binary_cross_entropy(tg.sigmoid(Z), y))
    assert g.forward() == pytest.approx((50 + 50 + 0 + 0) / 4)
    np.testing.assert_allclose(g.backward()[Z], (sigmoid(Z.value) - y) / 4, atol=1e-15)


def test_binary_cross_entropy_of_several_outputs_sums_them_and_averages_over_examples():
    rng = np.random.default_rng(3)
    z, y = rng.standard_normal((3, 6)), (rng.random((3, 6)) < 0.5).astype(float)
    Z, Y = tg.placeholder((3, None), name="Z"), tg.placeholder((3, None), name="Y")
    a = sigmoid(z)
    expected = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / 6  # the course's -1/m np.sum(...)
    assert tg.Graph(nn.binary_cross_entropy(tg.sigmoid(Z), Y)).forward({Z: z, Y: y}) == pytest.approx(expected)


def test_labels_of_another_shape_are_refused():
    A = tg.sigmoid(tg.placeholder((1, None), name="Z"))
    with pytest.raises(tg.ShapeError, match=r"binary_cross_entropy: predictions of shape \(1, \?\) and labels of "
                                            r"shape \(\?,\) differ"):
        nn.binary_cross_entropy(A, tg.placeholder((None,), name="y"))  # would broadcast to (m, m)


def test_l2_penalty_reproduces_compute_cost_with_regularization():
    """compute_cost_with_regularization_test_case (seed 1, lambd 0.1): cost = 1.78648594516 (published)."""
    np.random.seed(1)
    Y = np.array([[1, 1, 0, 1, 0]])
    shapes = [(2, 3), (2, 1), (3, 2), (3, 1), (1, 3), (1, 1)]
    W1, _, W2, _, W3, _ = (tg.parameter(np.random.randn(*shape)) for shape in shapes)
    a3 = tg.constant([[0.40682402, 0.01629284, 0.16722898, 0.10118111, 0.40682402]])
    cost = nn.binary_cross_entropy(a3, Y) + nn.l2_penalty([W1, W2, W3], 0.1, 5)
    assert tg.Graph(cost).forward() == pytest.approx(1.78648594516, abs=1e-10)
    with pytest.raises(ValueError, match="at least one weight"):
        nn.l2_penalty([], 0.1, 5)


def test_softmax_cross_entropy():
    if not hasattr(tg, "log_softmax"):
        pytest.skip("tg.log_softmax arrives with the op set")
    rng = np.random.default_rng(4)
    z = rng.standard_normal((4, 6)) * 30  # large logits: a naive log(softmax) would underflow
    y = np.eye(4)[:, rng.integers(0, 4, 6)]
    shifted = z - z.max(axis=0)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=0))
    expected = -np.mean(np.sum(y * log_p, axis=0))
    Z, Y = tg.placeholder((4, None), name="Z"), tg.placeholder((4, None), name="Y")
    assert tg.Graph(nn.softmax_cross_entropy(Z, Y)).forward({Z: z, Y: y}) == pytest.approx(expected)
    assert tg.Graph(nn.softmax_cross_entropy(Z.T, Y.T, axis=1)).forward({Z: z, Y: y}) == pytest.approx(expected)


# --- dropout ----------------------------------------------------------------------------------

def test_dropout_keep_prob_is_checked():
    for bad in (0, 1.5, -0.2):
        with pytest.raises(ValueError, match="keep_prob must be in"):
            nn.Dropout(bad)


def test_dropout_drops_in_training_and_is_identity_otherwise():
    if not hasattr(tg, "dropout"):
        pytest.skip("tg.dropout arrives with the op set")
    X = tg.placeholder((5, None), name="X")
    x = np.random.default_rng(5).random((5, 40)) + 1
    g = tg.Graph(nn.Dropout(0.8, seed=1)(X))
    kept = g.forward({X: x})
    assert set(np.unique(np.isclose(kept, x / 0.8) | (kept == 0))) == {True} and np.any(kept == 0)
    with tg.training(False):
        np.testing.assert_array_equal(g.forward({X: x}), x)


# --- the README's example -------------------------------------------------------------------

TEN_LINES = '''\
import numpy as np
import tinygraph as tg
from tinygraph import data, nn, optim

X_train = np.random.default_rng(0).normal(size=(2, 400))       # 400 points, examples as columns
Y_train = (X_train[:1] * X_train[1:] > 0).astype(float)        # 1 where the signs agree: (1, 400)
model = nn.MLP([2, 8, 1], hidden="tanh", output="sigmoid", rng=1)
X, Y = tg.placeholder((2, None), name="X"), tg.placeholder((1, None), name="Y")
g = tg.Graph(nn.binary_cross_entropy(model(X), Y))             # the stable, fused cross-entropy
opt = optim.Adam(model.parameters(), learning_rate=0.01)
for epoch in range(100):
    for X_batch, Y_batch in data.minibatches(X_train, Y_train, batch_size=64, seed=epoch):
        cost = opt.minimize(g, {X: X_batch, Y: Y_batch})       # forward, gradients, update
accuracy = np.mean((tg.Graph(model(X)).forward({X: X_train}) > 0.5) == Y_train)
print(f"last batch cost {cost:.3f}, training accuracy {accuracy:.1%}")
'''
TEN_LINES_OUTPUT = "last batch cost 0.086, training accuracy 96.0%\n"


def test_network_in_ten_lines():
    """The README's "A network in ten lines" runs and prints what the README shows (0.3 s)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(TEN_LINES, "<network in ten lines>", "exec"), {})
    assert printed.getvalue() == TEN_LINES_OUTPUT
    readme = README.read_text(encoding="utf-8")
    section = re.search(r"## A network in ten lines\n.*?```python\n(.*?)```", readme, re.S)
    if section is not None:  # once the README has the section, it must be this very code
        assert section.group(1) == TEN_LINES
