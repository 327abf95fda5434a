"""Neuron, Layer, MLP and the toy trainer."""

import math

import pytest

from scalargrad import Value
from scalargrad.gradcheck import numerical_grad
from scalargrad.nn import MLP, Layer, Neuron, make_toy_dataset, train_classifier


def test_neuron_computes_activation_of_affine_map():
    n = Neuron(2, activation="tanh", rng=None)
    n.w[0].data, n.w[1].data, n.b.data = 0.5, -1.0, 0.25
    out = n([2.0, 3.0])
    assert out.data == pytest.approx(math.tanh(0.5 * 2 - 3 + 0.25))
    assert len(n.parameters()) == 3


def test_layer_always_returns_a_list():
    single = Layer(3, 1)
    out = single([1.0, 2.0, 3.0])
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], Value)
    assert len(Layer(3, 4)([1.0, 2.0, 3.0])) == 4


def test_mlp_shapes_parameters_and_seed():
    model = MLP(2, [16, 16, 1], seed=3)
    assert len(model.parameters()) == (2 + 1) * 16 + (16 + 1) * 16 + (16 + 1) * 1
    same = MLP(2, [16, 16, 1], seed=3)
    assert [p.data for p in model.parameters()] == [p.data for p in same.parameters()]
    other = MLP(2, [16, 16, 1], seed=4)
    assert [p.data for p in model.parameters()] != [p.data for p in other.parameters()]
    assert [n.activation for n in model.layers[0].neurons] == ["relu"] * 16
    assert model.layers[-1].neurons[0].activation == "identity"
    assert isinstance(model([0.5, -0.5]), list)


def test_mlp_activation_choice_and_gradients_match_finite_differences():
    model = MLP(2, [3, 1], activation="tanh", output_activation="sigmoid", seed=0)
    params = model.parameters()

    def loss(*_):
        return (model([0.3, -0.7])[0] - 1.0) ** 2

    model.zero_grad()
    loss().backward()
    analytic = [p.grad for p in params]
    assert analytic == pytest.approx(numerical_grad(loss, params), rel=1e-5, abs=1e-8)
    model.zero_grad()
    assert all(p.grad == 0.0 for p in params)


def test_leaky_relu_alpha_reaches_the_neurons():
    model = MLP(1, [1, 1], activation="leaky_relu", alpha=0.2, seed=0)
    hidden = model.layers[0].neurons[0]
    hidden.w[0].data, hidden.b.data = 1.0, 0.0
    assert hidden([-1.0]).data == pytest.approx(-0.2)


@pytest.mark.parametrize("make, message", [
    (lambda: MLP(2, []), "at least one layer"),
    (lambda: MLP(2, [3], activation="swish"), "unknown activation 'swish'"),
    (lambda: Layer(2, 0), "Layer nout must be a positive int"),
    (lambda: Neuron(0), "Neuron nin must be a positive int"),
])
def test_bad_construction_is_a_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_wrong_input_size_is_a_clear_error():
    with pytest.raises(ValueError, match="Neuron expects 2 inputs, got 3"):
        MLP(2, [2])([1.0, 2.0, 3.0])


@pytest.mark.parametrize("name", ["moons", "circles", "xor"])
def test_toy_datasets_are_seeded_and_balanced(name):
    points, labels = make_toy_dataset(name, n=60, seed=1)
    assert len(points) == 60 and all(len(p) == 2 for p in points)
    assert set(labels) == {1.0, -1.0}
    assert make_toy_dataset(name, n=60, seed=1) == (points, labels)
    assert make_toy_dataset(name, n=60, seed=2) != (points, labels)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown toy dataset 'spiral'"):
        make_toy_dataset("spiral")


def test_training_learns_the_moons():
    points, labels = make_toy_dataset("moons", n=60, noise=0.05, seed=0)
    model = MLP(2, [8, 8, 1], seed=1)
    seen = []
    history = train_classifier(model, points, labels, epochs=40, lr=0.3, on_epoch=seen.append)
    assert seen == history and len(history) == 40
    assert history[-1].loss < 0.5 * history[0].loss
    assert history[-1].accuracy >= 0.85


def test_training_rejects_mismatched_data():
    with pytest.raises(ValueError, match="as many labels as points, got 2 and 1"):
        train_classifier(MLP(2, [1]), [[0.0, 0.0], [1.0, 1.0]], [1.0])


def test_train_classifier_refuses_labels_other_than_plus_minus_one():
    # 0 / 1 labels trained silently to chance (the 0 class gives the hinge no gradient)
    points = [[0.0, 0.0], [1.0, 1.0]]
    for labels in ([1.0, 0.0], [1, True], [1.0, float("nan")], [2.0, -1.0]):
        with pytest.raises(ValueError, match="labels must be \\+1 or -1"):
            train_classifier(MLP(2, [1], seed=0), points, labels, epochs=1)
    assert len(train_classifier(MLP(2, [1], seed=0), points, [1, -1.0], epochs=1)) == 1


def test_train_classifier_takes_numpy_arrays():
    # `not points` raised numpy's "truth value of an array ... is ambiguous"
    np = pytest.importorskip("numpy")
    points, labels = make_toy_dataset("xor", 12, 0.1, seed=1)
    history = train_classifier(MLP(2, [4, 1], seed=0), np.array(points), np.array(labels),
                               epochs=2)
    assert len(history) == 2 and type(history[-1].accuracy) is float
    with pytest.raises(ValueError, match="as many labels as points, got 0 and 0"):
        train_classifier(MLP(2, [1]), np.zeros((0, 2)), np.zeros(0))


def test_sizes_may_be_numpy_integers():
    # "Layer nout must be a positive int, got np.int64(3)" refused a positive integer
    np = pytest.importorskip("numpy")
    model = MLP(np.int64(2), [np.int64(3), 1], seed=0)
    assert len(model([1.0, 2.0])) == 1 and len(model.parameters()) == 3 * 3 + 4
    points, labels = make_toy_dataset("moons", np.int64(6))
    assert len(points) == 6
    assert len(train_classifier(model, points, labels, epochs=np.int64(2))) == 2
    with pytest.raises(ValueError, match="must be a positive int, got 2.0"):
        MLP(2.0, [3])
