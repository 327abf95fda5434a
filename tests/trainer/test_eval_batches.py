"""Evaluation takes batches of at least runner.EVAL_BATCH_SIZE (fewer ops and kernel
launches per split); the per-sample results do not depend on the batch size."""

import numpy as np

import vecgrad
from vecgrad import nn, optim
from vecgrad.data import DataLoader, TensorDataset, ZScore, xor
from vecgrad.train.config import EVAL_BATCH_SIZE
from vecgrad.train.runner import RunConfig, run
from vecgrad.train.trainer import Trainer


def test_evaluation_does_not_depend_on_the_batch_size(device):
    vecgrad.manual_seed(0)
    x, y = xor(300, noise=0.3, seed=1)
    x = ZScore().fit(x).transform(x).astype(np.float32)
    model = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(),
                          nn.Linear(8, 2)).to(device)
    trainer = Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.05),
                      epochs=2, layer_stats=False)
    held_out = TensorDataset(x[200:], y[200:])
    trainer.fit(DataLoader(TensorDataset(x[:200], y[:200]), 16, shuffle=True, seed=0,
                           device=device), DataLoader(held_out, 32, device=device))
    results = [trainer.evaluate(DataLoader(held_out, size, device=device), "val")
               for size in (7, 32, 256)]
    for other in results[1:]:
        assert other.accuracy == results[0].accuracy
        np.testing.assert_array_equal(other.confusion, results[0].confusion)
        np.testing.assert_allclose(other.loss, results[0].loss, rtol=1e-5)


def test_vecgrad_train_evaluates_in_large_batches(monkeypatch):
    sizes = []
    from vecgrad import data

    class Recording(data.DataLoader):
        def __init__(self, dataset, batch_size, *args, **kwargs):
            sizes.append((batch_size, kwargs.get("shuffle", False)))
            super().__init__(dataset, batch_size, *args, **kwargs)

    monkeypatch.setattr(data, "DataLoader", Recording)  # runner imports it when it runs
    run(RunConfig(model="mlp:8", epochs=1, batch_size=16), views=[], layer_stats=False)
    train, val, test = sizes[:3]
    assert train == (16, True)
    assert val == test == (EVAL_BATCH_SIZE, False)
