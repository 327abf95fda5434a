"""The sequence datasets and `--model lstm:H / gru:H / rnn:H` in the trainer."""

import json

import numpy as np
import pytest

import vecgrad
from vecgrad.cli import main
from vecgrad.data import adding, load_dataset, sine_next
from vecgrad.train import RunConfig, run
from vecgrad.train.config import ConfigError
from vecgrad.train.models import build_model


def test_adding_problem_is_what_it_says():
    inputs, targets = adding(n=50, steps=10, seed=1)
    assert inputs.shape == (50, 10, 2) and targets.shape == (50, 1)
    markers = inputs[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :5].sum(axis=1) == 1)  # one mark in each half
    np.testing.assert_allclose(targets[:, 0], (inputs[:, :, 0] * markers).sum(axis=1),
                               rtol=1e-6)
    # predicting the mean is the baseline the docstring quotes (1/6)
    assert abs(np.mean((adding(n=20000)[1] - 1.0) ** 2) - 1 / 6) < 0.01


def test_sine_next_continues_the_wave():
    inputs, targets = sine_next(n=200, steps=12, noise=0.0, seed=2)
    assert inputs.shape == (200, 12, 1) and targets.shape == (200, 1)
    # noise-free: x[t+1] = 2 cos(ω) x[t] - x[t-1] for a sinusoid; recover ω, predict
    x = inputs[:, :, 0].astype(np.float64)
    cos_w = (x[:, 2] + x[:, 0]) / (2 * x[:, 1])
    ok = np.abs(x[:, 1]) > 0.2
    predicted = 2 * cos_w * x[:, -1] - x[:, -2]
    np.testing.assert_allclose(predicted[ok], targets[ok, 0], atol=1e-4)
    bundle = load_dataset("sine-next")
    assert bundle.task == "regression" and bundle.input_shape == (20, 1)


@pytest.mark.parametrize("spec", ["lstm:6", "gru:6,6", "rnn:6"])
def test_models_from_specs(spec):
    model = build_model(spec, (7, 2), 3, dropout=0.2)
    out = model(vecgrad.randn(4, 7, 2))
    assert out.shape == (4, 3)
    names = [n for n, _ in model.named_parameters()]
    assert names[0] == "rnn.weight_ih_l0" and names[-1] == "head.bias"
    assert ("rnn.weight_ih_l1" in names) == (spec == "gru:6,6")
    image_model = build_model(spec, (1, 8, 8), 10)  # images: rows as steps
    assert image_model(vecgrad.randn(2, 1, 8, 8)).shape == (2, 10)


def test_spec_errors():
    with pytest.raises(ConfigError, match=r"needs sequence inputs .* shape \(2,\)"):
        build_model("lstm:8", (2,), 2)
    with pytest.raises(ConfigError, match="share one hidden size"):
        build_model("gru:8,16", (5, 1), 1)


def test_train_checkpoint_resume_matches_one_run(tmp_path):
    settings = dict(dataset="sine-next", model="gru:8", epochs=2, batch_size=64, patience=0)
    straight = run(RunConfig(**settings))
    assert straight.history.val_loss[-1] < straight.history.val_loss[0]
    ck = tmp_path / "seq.npz"
    run(RunConfig(**{**settings, "epochs": 1}, checkpoint=str(ck)))
    config, state = RunConfig.resume(ck, epochs=2)
    resumed = run(config, resume_state=state)
    assert resumed.history.val_loss == straight.history.val_loss
    assert resumed.test.loss == straight.test.loss


def test_cli_lstm_with_clipping(capsys):
    status = main(["train", "--json", "--dataset", "adding", "--model", "lstm:8",
                   "--epochs", "1", "--batch-size", "128", "--clip-grad-norm", "1"])
    metrics = json.loads(capsys.readouterr().out)
    assert status == 0 and metrics["settings"]["model"] == "lstm:8"
    assert metrics["test"]["accuracy"] is None and np.isfinite(metrics["test"]["loss"])


def test_cnn1d_spec_over_sequences():
    model = build_model("cnn1d:4,8", (20, 2), 1, dropout=0.1)
    assert model(vecgrad.randn(3, 20, 2)).shape == (3, 1)
    convs = [m for m in model.modules() if isinstance(m, vecgrad.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(2, 4), (4, 8)]
    linears = [m for m in model.modules() if isinstance(m, vecgrad.nn.Linear)]
    assert [m.in_features for m in linears] == [8 * 5, 64]  # 20 steps -> 10 -> 5
    with pytest.raises(ConfigError, match=r"cnn1d needs sequence inputs .* \(1, 8, 8\)"):
        build_model("cnn1d", (1, 8, 8), 10)
    result = run(RunConfig(dataset="sine-next", model="cnn1d:8", epochs=2, batch_size=64,
                           patience=0))
    assert result.history.val_loss[-1] < result.history.val_loss[0]
