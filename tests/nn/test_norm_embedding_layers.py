"""BatchNorm1d/2d, LayerNorm, Embedding and module buffers: behaviour, errors, state
dicts, .to(), checkpoints, and (with torch installed) the same keys, outputs, gradients
and running statistics as torch's layers over several training steps."""

import numpy as np
import pytest

import vecgrad
from vecgrad import nn, optim

from .helpers import device_name
from .test_layers import _check_gradients
from .torch_parity import check_module_against_torch

RNG = np.random.default_rng(13)


@pytest.mark.parametrize("make, shape", [
    (lambda nn: nn.BatchNorm1d(3), (6, 3)),
    (lambda nn: nn.BatchNorm1d(3, momentum=None), (4, 3, 5)),
    (lambda nn: nn.BatchNorm2d(2, eps=1e-3, momentum=0.3), (3, 2, 4, 3)),
    (lambda nn: nn.BatchNorm2d(2, affine=False), (2, 2, 3, 3)),
    (lambda nn: nn.BatchNorm1d(3, track_running_stats=False), (5, 3))])
def test_batch_norm_matches_torch_in_training_and_eval(device, make, shape):
    ours = make(nn)
    x = RNG.standard_normal(shape) * 2 + 0.5
    check_module_against_torch(ours, lambda torch: make(torch.nn), x, device, steps=3)
    ours.eval()
    check_module_against_torch(ours, lambda torch: make(torch.nn), x * 0.7, device, steps=1)


def test_batch_norm_state_dict_and_buffers(device):
    layer = nn.BatchNorm2d(4, device=device)
    assert list(layer.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                        "num_batches_tracked"]
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in layer.named_buffers()] == ["running_mean", "running_var",
                                                     "num_batches_tracked"]
    assert layer.num_batches_tracked.dtype == np.int64 and layer.num_batches_tracked.shape == ()
    x = vecgrad.tensor(RNG.standard_normal((2, 4, 3, 3)), dtype=vecgrad.float32, device=device)
    layer(x)
    layer(x)
    assert layer.num_batches_tracked.item() == 2
    layer.eval()
    before = layer.running_mean.numpy().copy()
    layer(x)
    np.testing.assert_array_equal(layer.running_mean.numpy(), before)  # eval: no update
    assert layer.num_batches_tracked.item() == 2
    layer.reset_running_stats()
    np.testing.assert_array_equal(layer.running_var.numpy(), np.ones(4))
    assert "num_batches_tracked" not in nn.BatchNorm1d(2, track_running_stats=False).state_dict()


def test_batch_norm_gradients_against_differences(device):
    layer = nn.BatchNorm2d(2).to(vecgrad.float64).to(device)
    _check_gradients(layer, RNG.standard_normal((3, 2, 2, 2)), device, rtol=1e-5, atol=1e-7)
    layer = nn.LayerNorm((2, 3)).to(vecgrad.float64).to(device)
    with vecgrad.no_grad():
        layer.weight.copy_(vecgrad.tensor(RNG.standard_normal((2, 3)), device=device))
    _check_gradients(layer, RNG.standard_normal((2, 2, 3)), device, rtol=1e-5, atol=1e-7)


def test_batch_norm_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected input \(N, C, H, W\), got "
                                         r"\(2, 3, 4\)"):
        nn.BatchNorm2d(3)(vecgrad.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="BatchNorm1d: expected 3 channels .* got input of "
                                         r"shape \(2, 4\)"):
        nn.BatchNorm1d(3)(vecgrad.zeros(2, 4))
    layer = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel when training"):
        layer(vecgrad.zeros(1, 3))
    assert layer.num_batches_tracked.item() == 0  # the refused batch left no trace
    layer.eval()
    assert layer(vecgrad.zeros(1, 3)).shape == (1, 3)  # eval uses the running statistics
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.BatchNorm1d(3, momentum=2)


@pytest.mark.parametrize("make", [lambda nn: nn.LayerNorm(4), lambda nn: nn.LayerNorm((3, 4)),
                                  lambda nn: nn.LayerNorm(4, elementwise_affine=False),
                                  lambda nn: nn.LayerNorm(4, bias=False, eps=0.01)])
def test_layer_norm_matches_torch(device, make):
    ours = make(nn)
    check_module_against_torch(ours, lambda torch: make(torch.nn),
                               RNG.standard_normal((2, 3, 4)), device, steps=2)


def test_embedding_matches_torch(device):
    ours = nn.Embedding(7, 3, padding_idx=2)
    np.testing.assert_array_equal(ours.weight.numpy()[2], np.zeros(3))  # padding row: zeros
    idx = np.array([[1, 2, 6], [2, 1, 0]])
    check_module_against_torch(ours, lambda torch: torch.nn.Embedding(7, 3, padding_idx=2),
                               idx, device, steps=2, integer_input=True)
    assert repr(ours) == "Embedding(7, 3, padding_idx=2)"


def test_embedding_trains_and_keeps_the_padding_row(device):
    layer = nn.Embedding(5, 2, padding_idx=0).to(device)
    opt = optim.SGD(layer.parameters(), lr=0.5)
    idx = vecgrad.tensor([[0, 1, 1], [0, 4, 3]], device=device)
    for _ in range(3):
        opt.zero_grad()
        (layer(idx) ** 2).sum().backward()
        opt.step()
    np.testing.assert_array_equal(layer.weight.numpy()[0], [0.0, 0.0])
    assert np.all(layer.weight.numpy()[2] != 0)  # never picked: untouched N(0, 1) values
    frozen = nn.Embedding.from_pretrained(vecgrad.tensor(np.eye(3)))
    assert not frozen.weight.requires_grad and frozen.num_embeddings == 3
    with pytest.raises(IndexError, match="index 9 is out of range for 5 embeddings"):
        layer(vecgrad.tensor([9], device=device))


class WithBuffers(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.register_buffer("scale", vecgrad.tensor([2.0, 3.0]))
        self.register_buffer("steps", vecgrad.tensor(0))
        self.register_buffer("cache", vecgrad.zeros(2), persistent=False)

    def forward(self, x):
        return self.lin(x) * self.scale


def test_buffers_are_state_but_not_parameters(device):
    model = nn.Sequential(WithBuffers(), nn.BatchNorm1d(2))
    assert list(model.state_dict()) == [
        "0.scale", "0.steps", "0.lin.weight", "0.lin.bias", "1.weight", "1.bias",
        "1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert len(list(model.parameters())) == 4
    assert [n for n, _ in model.named_buffers()] == [
        "0.scale", "0.steps", "0.cache", "1.running_mean", "1.running_var",
        "1.num_batches_tracked"]
    model.to(vecgrad.float64)
    assert model[0].scale.dtype == np.float64 and model[0].cache.dtype == np.float64
    assert model[0].steps.dtype == np.int64  # a dtype cast leaves integer buffers alone
    model.to(device)
    assert {b.device for b in model.buffers()} == {device_name(device)}
    model[0].scale = vecgrad.tensor([1.0, 1.0], dtype=vecgrad.float64, device=device)
    assert "scale" in model[0]._buffers and model[0].state_dict()["scale"].numpy()[0] == 1.0
    with pytest.raises(TypeError, match="cannot assign a list to buffer 'scale'"):
        model[0].scale = [1.0]
    with pytest.raises(KeyError, match="attribute 'lin' already exists"):
        model[0].register_buffer("lin", vecgrad.zeros(1))
    with pytest.raises(TypeError, match="is a Parameter"):
        model[0].register_buffer("p", nn.Parameter(vecgrad.zeros(1)))
    del model[0].scale
    assert "0.scale" not in model.state_dict()


def test_load_state_dict_and_checkpoints_round_trip_buffers(tmp_path, device):
    source = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)).to(device)
    for _ in range(3):
        source(vecgrad.tensor(RNG.standard_normal((4, 3)), dtype=vecgrad.float32, device=device))
    path = tmp_path / "bn.npz"
    vecgrad.save(source.state_dict(), path)
    target = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    target.load_state_dict(vecgrad.load(path))
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    assert target[1].num_batches_tracked.item() == 3
    state = dict(source.state_dict())
    del state["1.running_var"]
    with pytest.raises(nn.StateDictError, match="missing keys: 1.running_var"):
        target.load_state_dict(state)
    state["1.running_var"] = np.ones(3, np.float32)
    with pytest.raises(nn.StateDictError, match=r"1.running_var: shape \(3,\) in the state, "
                                                r"\(2,\) in the model"):
        target.load_state_dict(state)


def test_trainer_checkpoint_keeps_the_running_statistics(tmp_path):
    from vecgrad.data import TensorDataset, xor
    from vecgrad.train.trainer import Trainer

    x, y = xor(64, noise=0.1, seed=0)
    data = TensorDataset(x, y)

    def run(epochs, state=None, checkpoint=None):
        vecgrad.manual_seed(4)
        model = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
        opt = optim.SGD(model.parameters(), lr=0.1)
        trainer = Trainer(model, "cross_entropy", opt, epochs=epochs, batch_size=16, seed=1,
                          checkpoint=checkpoint, layer_stats=False)
        if state is not None:
            trainer.load_state_dict(state)
        trainer.fit(data, data)
        return model

    straight = run(3)
    run(1, checkpoint=tmp_path / "half.npz")
    resumed = run(3, state=vecgrad.load(tmp_path / "half.npz"))
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_train_checkpoint_schema_accepts_integer_buffers(tmp_path, capsys):
    """A `vecgrad train` checkpoint may hold num_batches_tracked (int64) beside the floats."""
    from vecgrad.checkpoint import CheckpointError
    from vecgrad.cli import main
    from vecgrad.train.schema import check_trainer_state

    path = tmp_path / "run.npz"
    assert main(["train", "--json", "--quiet", "--dataset", "xor", "--epochs", "1",
                 "--model", "mlp:4", "--checkpoint", str(path)]) == 0
    capsys.readouterr()
    state = vecgrad.load(path)
    for entry in ("model", "best_model"):
        state[entry]["9.num_batches_tracked"] = np.array(3, dtype=np.int64)
    check_trainer_state(state, path)
    state["model"]["9.num_batches_tracked"] = np.array("3")
    with pytest.raises(CheckpointError, match="expected a float or integer array"):
        check_trainer_state(state, path)
