"""The training loop reads nothing from the device inside the batch loop (issue 12): the
loss sum, the right predictions and a finiteness check of the parameters come back in
one read per epoch, and evaluation reads twice in all. On OpenCL every read waits for
the whole queue, so this is what keeps the device busy between batches. A view that
asks for a batch's loss gets it (one read then)."""

import numpy as np
import pytest

import vecgrad
from vecgrad import nn, optim
from vecgrad.data import DataLoader, TensorDataset, ZScore, xor
from vecgrad.train.trainer import BatchEnd, EpochEnd, EvalEnd, Trainer, TrainingDiverged


def test_no_host_read_inside_the_batch_loop(device, monkeypatch):
    vecgrad.manual_seed(0)
    x, y = xor(96, noise=0.15, seed=0)
    x = ZScore().fit(x).transform(x).astype(np.float32)
    train = DataLoader(TensorDataset(x[:64], y[:64]), 16, shuffle=True, seed=0, device=device)
    val = DataLoader(TensorDataset(x[64:], y[64:]), 16, device=device)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2)).to(device)
    trainer = Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.01),
                      epochs=2, l2=1e-4, layer_stats=False)
    backend = vecgrad.get_backend(device)
    reads = []
    real = backend.to_numpy
    monkeypatch.setattr(backend, "to_numpy", lambda buf: (reads.append(1), real(buf))[1])
    marks = []
    trainer.subscribe(lambda event: marks.append((type(event), len(reads))))
    history = trainer.fit(train, val)
    batch_reads = [b - a for (kind_a, a), (kind, b) in zip(marks, marks[1:])
                   if issubclass(kind, BatchEnd) and kind_a is not EpochEnd]
    assert batch_reads == [0] * 8  # 4 batches x 2 epochs
    epoch_reads = [b - a for (kind_a, a), (kind, b) in zip(marks, marks[1:])
                   if kind is EpochEnd]
    assert epoch_reads == [3, 3]  # the epoch's figures, then the validation (2 reads)
    assert history.train_accuracy[-1] is not None and 0 <= history.train_accuracy[-1] <= 1
    result = trainer.evaluate(val, "val")
    reads.clear()
    trainer.evaluate(val, "val")
    assert len(reads) == 2
    assert isinstance(result, EvalEnd) and result.samples == 32
    # the same figures the host-side formulas give
    outputs = model(vecgrad.tensor(x[64:], device=device)).numpy()
    assert result.accuracy == np.mean(outputs.argmax(axis=1) == y[64:])


def _xor_run(device, epochs=2, **kwargs):
    vecgrad.manual_seed(0)
    x, y = xor(96, noise=0.15, seed=0)
    x = ZScore().fit(x).transform(x).astype(np.float32)
    train = DataLoader(TensorDataset(x[:64], y[:64]), 16, shuffle=True, seed=0, device=device)
    val = DataLoader(TensorDataset(x[64:], y[64:]), 16, device=device)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2)).to(device)
    trainer = Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.01),
                      epochs=epochs, layer_stats=False, **kwargs)
    return trainer, train, val


def test_batch_losses_read_on_demand_match_the_epoch_figures(device):
    trainer, train, val = _xor_run(device)
    events = []
    trainer.subscribe(events.append)
    history = trainer.fit(train, val)
    batches = [e for e in events if isinstance(e, BatchEnd)]
    assert len(batches) == 8 and all(isinstance(e.loss, float) for e in batches)
    assert batches[0] == batches[0] and "loss=" in repr(batches[0])
    for epoch in (1, 2):
        own = [e for e in batches if e.epoch == epoch]
        mean = sum(e.loss * e.samples for e in own) / sum(e.samples for e in own)
        assert abs(mean - history.train_loss[epoch - 1]) <= 1e-5 * max(1.0, abs(mean))
    # the same run checked batch by batch (clipping takes that path) agrees
    careful, train, val = _xor_run(device, clip_grad_norm=1e9)
    other = careful.fit(train, val)
    np.testing.assert_allclose(other.train_loss, history.train_loss, rtol=1e-5)
    assert other.train_accuracy == history.train_accuracy
    np.testing.assert_allclose(other.val_loss, history.val_loss, rtol=1e-5)


class _NanAtCall(nn.Module):
    """Identity, except that its `bad_at`-th training call gives NaN. It counts in a
    buffer, which the epoch's rewind restores: the replay meets the NaN again."""

    def __init__(self, bad_at):
        super().__init__()
        self.bad_at = bad_at
        self.register_buffer("calls", vecgrad.zeros(()))

    def forward(self, x):
        if not self.training:
            return x
        with vecgrad.no_grad():
            self.calls.add_(vecgrad.ones((), device=self.calls.device))
        return x * float("nan") if self.calls.item() == self.bad_at else x


def test_a_nan_found_at_the_epoch_end_is_rewound_and_explained(device):
    """Epoch 2's batch 3 gives NaN: the end-of-epoch check sees the poisoned parameters,
    the epoch is rewound (parameters, buffers, optimizer state, random generator) and
    replayed batch by batch, which names that batch; views see each batch once."""
    trainer, train, val = _xor_run(device, epochs=3)
    model = nn.Sequential(trainer.model[0], _NanAtCall(7), *list(trainer.model)[1:]).to(device)
    trainer = Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.01),
                      epochs=3, layer_stats=False)
    events = []
    trainer.subscribe(events.append)
    # (the diagnosis runs the layers once more: the 8th call is finite, hence "although
    # every layer output is finite"; what matters here is the batch it names)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at epoch 2, batch 3\b"):
        trainer.fit(train, val)
    assert [(e.epoch, e.batch) for e in events if isinstance(e, BatchEnd)] == \
        [(1, b) for b in range(1, 5)] + [(2, b) for b in range(1, 5)]
    assert len(trainer.history.train_loss) == 1
    # the best weights (epoch 1) are back, finite
    assert all(np.all(np.isfinite(p.numpy())) for p in model.parameters())


def test_snapshot_and_restore_cover_model_optimizer_and_generator(device):
    trainer, train, val = _xor_run(device)
    trainer.fit(train, val)  # optimizer state exists now
    before = {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}
    moments = [s["s"].numpy().copy() for s in trainer.optimizer.state]
    steps = [s["step"] for s in trainer.optimizer.state]
    snapshot = trainer._snapshot()
    draw = vecgrad.random_generator().random()
    trainer.epochs = 3
    trainer.fit(train, val)
    trainer._restore(snapshot)
    for key, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])
    assert [s["step"] for s in trainer.optimizer.state] == steps
    for state, moment in zip(trainer.optimizer.state, moments):
        np.testing.assert_array_equal(state["s"].numpy(), moment)
    assert vecgrad.random_generator().random() == draw
