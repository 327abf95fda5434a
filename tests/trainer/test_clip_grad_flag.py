"""--clip-grad-norm: the trainer clips every batch and reports the norm before clipping."""

import io
import json

import numpy as np
import pytest
from rich.console import Console

import vecgrad
from vecgrad import nn, optim
from vecgrad.cli import main
from vecgrad.data import TensorDataset
from vecgrad.checkpoint import CheckpointError
from vecgrad.train import run
from vecgrad.train.config import ConfigError, RunConfig, checkpoint_config
from vecgrad.train.events import BatchEnd, EpochEnd
from vecgrad.train.trainer import Trainer
from vecgrad.train.views import PlainView, RichView


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = (x @ np.array([3.0, -2.0, 1.0], np.float32))[:, None] * 10
    return TensorDataset(vecgrad.tensor(x), vecgrad.tensor(y))


def test_batches_are_clipped_and_report_the_pre_clip_norm():
    vecgrad.manual_seed(0)
    model = nn.Linear(3, 1)
    seen = []
    trainer = Trainer(model, "mse", optim.SGD(model.parameters(), lr=1.0), epochs=1,
                      batch_size=64, clip_grad_norm=0.01, layer_stats=False)
    trainer.subscribe(seen.append)
    before = np.concatenate([p.numpy().ravel() for p in model.parameters()])
    # the same first batch, unclipped, gives the norm the event must report
    check = nn.Linear(3, 1)
    check.load_state_dict(model.state_dict())
    data = _data()
    loss = ((check(vecgrad.tensor(data.inputs)) - vecgrad.tensor(data.targets)) ** 2).mean()
    loss.backward()
    want = np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in check.parameters()))
    trainer.fit(data, data)
    after = np.concatenate([p.numpy().ravel() for p in model.parameters()])
    batch = [e for e in seen if isinstance(e, BatchEnd)][0]
    end = [e for e in seen if isinstance(e, EpochEnd)][0]
    assert batch.grad_norm == pytest.approx(want, rel=1e-4) and want > 1.0
    assert np.linalg.norm(after - before) == pytest.approx(0.01, rel=1e-3)  # lr 1 · 0.01
    assert end.grad_norm == batch.grad_norm and end.clipped_batches == 1
    assert end.clip_grad_norm == 0.01


def test_views_show_the_norm():
    events = [EpochEnd(1, 2, 1.0, None, 1.2, None, 0.01, 0.05, True, 1, 3.25, 4, 1.0)]
    stream = io.StringIO()
    for e in events:
        PlainView(stream)(e)
    assert "max grad norm 3.25, 4 batches clipped to 1" in stream.getvalue()
    console = Console(file=io.StringIO(), width=120, record=True)
    view = RichView(console)
    view(events[0])  # the epoch row is printed above the live region
    text = console.export_text()
    assert "max ‖g‖ 3.25, 4 clipped" in text


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="clip_grad_norm must be a finite number > 0"):
        Trainer(nn.Linear(1, 1), "mse", None, clip_grad_norm=0)
    with pytest.raises(ConfigError, match="--clip-grad-norm must be a finite number > 0"):
        RunConfig(clip_grad_norm=-1.0).validate()
    with pytest.raises(CheckpointError, match=r"config\['clip_grad_norm'\]"):
        checkpoint_config(_checkpoint_without_clip(tmp_path, -1.0), "x")


def _checkpoint_without_clip(tmp_path, value=None):
    """A run's checkpoint as written before --clip-grad-norm existed (or with `value`)."""
    path = tmp_path / "run.npz"
    run(RunConfig(dataset="xor", model="mlp:4", epochs=1, checkpoint=str(path)))
    state = vecgrad.load(path)
    if value is None:
        del state["config"]["clip_grad_norm"]
    else:
        state["config"]["clip_grad_norm"] = value
    vecgrad.save(state, path)
    return vecgrad.load(path)


def test_checkpoints_from_before_the_flag_resume(tmp_path):
    state = _checkpoint_without_clip(tmp_path)
    assert checkpoint_config(state, "x")["clip_grad_norm"] is None
    config, _ = RunConfig.resume(tmp_path / "run.npz", epochs=2)
    assert config.clip_grad_norm is None


def test_cli_flag_and_resume(capsys, tmp_path):
    ck = tmp_path / "ck.npz"
    argv = ["train", "--json", "--quiet", "--dataset", "xor", "--model", "mlp:8",
            "--epochs", "2", "--clip-grad-norm", "0.5", "--checkpoint", str(ck)]
    assert main(argv) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["settings"]["clip_grad_norm"] == 0.5
    assert main(["train", "--json", "--quiet", "--resume", str(ck), "--epochs", "3"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["settings"]["clip_grad_norm"] == 0.5 and resumed["epochs"] == 3
