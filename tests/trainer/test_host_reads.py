"""The training loop reads from the device once per batch (issue 12): the loss, the
gradient check and the accuracy count come back in one read, and evaluation reads twice
in all. On OpenCL every read waits for the whole queue, so this is what keeps the
device busy between batches."""

import numpy as np

import vecgrad
from vecgrad import nn, optim
from vecgrad.data import DataLoader, TensorDataset, ZScore, xor
from vecgrad.train.trainer import BatchEnd, EpochStart, EvalEnd, Trainer


def test_one_host_read_per_training_batch(device, monkeypatch):
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
                   if kind is BatchEnd and kind_a in (BatchEnd, EpochStart)]
    assert batch_reads == [1] * 8  # 4 batches x 2 epochs
    assert history.train_accuracy[-1] is not None and 0 <= history.train_accuracy[-1] <= 1
    result = trainer.evaluate(val, "val")
    reads.clear()
    trainer.evaluate(val, "val")
    assert len(reads) == 2
    assert isinstance(result, EvalEnd) and result.samples == 32
    # the same figures the host-side formulas give
    outputs = model(vecgrad.tensor(x[64:], device=device)).numpy()
    assert result.accuracy == np.mean(outputs.argmax(axis=1) == y[64:])
