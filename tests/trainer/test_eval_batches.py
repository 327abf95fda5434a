"""Trainer.evaluate's per-sample results do not depend on the evaluation batch size
(no gradients; BatchNorm uses its running statistics), on either device."""

import numpy as np

import vecgrad
from vecgrad import nn, optim
from vecgrad.data import DataLoader, TensorDataset, ZScore, xor
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
