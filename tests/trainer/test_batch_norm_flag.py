"""--batch-norm: BatchNorm between the hidden layers and their activations of the mlp,
cnn and cnn1d specs; checkpoints keep the running statistics, resume is exact."""

import json

import numpy as np
import pytest

import vecgrad
from vecgrad import nn
from vecgrad.cli import main
from vecgrad.train import RunConfig, run
from vecgrad.train.config import ConfigError
from vecgrad.train.models import build_model


def _kinds(model):
    return [type(m).__name__ for m in model.children()]


def test_specs_put_batch_norm_before_each_activation():
    mlp = build_model("mlp:16,8", (4,), 3, batch_norm=True)
    assert _kinds(mlp) == ["Flatten", "Linear", "BatchNorm1d", "Activation", "Linear",
                           "BatchNorm1d", "Activation", "Linear"]
    cnn = build_model("cnn:4", (1, 8, 8), 10, batch_norm=True)
    assert _kinds(cnn)[:4] == ["Conv2d", "BatchNorm2d", "Activation", "MaxPool2d"]
    assert cnn(vecgrad.randn(5, 1, 8, 8)).shape == (5, 10)
    cnn1d = build_model("cnn1d:4", (10, 2), 1, batch_norm=True)
    assert "BatchNorm1d" in _kinds(cnn1d) and cnn1d(vecgrad.randn(3, 10, 2)).shape == (3, 1)
    assert "BatchNorm1d" not in _kinds(build_model("mlp:16", (4,), 3))
    with pytest.raises(ConfigError, match="--batch-norm applies to mlp, cnn and cnn1d"):
        build_model("gru:8", (5, 1), 1, batch_norm=True)


def test_checkpoint_resume_and_evaluate_keep_the_running_statistics(tmp_path, capsys):
    settings = dict(dataset="moons", model="mlp:16", epochs=2, batch_size=64, patience=0,
                    batch_norm=True)
    straight = run(RunConfig(**settings))
    ck = tmp_path / "bn.npz"
    run(RunConfig(**{**settings, "epochs": 1}, checkpoint=str(ck)))
    state = vecgrad.load(ck)
    assert "2.running_mean" in state["model"] and state["config"]["batch_norm"] is True
    config, state = RunConfig.resume(ck, epochs=2)
    resumed = run(config, resume_state=state)
    assert resumed.history.val_loss == straight.history.val_loss
    assert resumed.test.loss == straight.test.loss
    assert main(["evaluate", str(ck), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(
        straight.test.accuracy)


def test_cli_flag(capsys):
    status = main(["train", "--json", "--quiet", "--dataset", "xor", "--model", "mlp:8",
                   "--epochs", "1", "--batch-norm"])
    metrics = json.loads(capsys.readouterr().out)
    assert status == 0 and metrics["settings"]["batch_norm"] is True
    status = main(["train", "--json", "--quiet", "--dataset", "xor", "--model", "mlp:8",
                   "--epochs", "1"])
    assert json.loads(capsys.readouterr().out)["settings"]["batch_norm"] is False
