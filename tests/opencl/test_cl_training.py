"""A small MLP and a small CNN trained a few steps on the numpy backend and on OpenCL,
from the same initial weights and batches, follow the same loss curve."""

import numpy as np
import vecgrad
import vecgrad.nn.functional as F
from vecgrad import nn, optim


def _train(model_factory, device, x, y, steps, make_optimizer):
    vecgrad.manual_seed(0)
    model = model_factory().to(device)
    optimizer = make_optimizer(model.parameters())
    xs = vecgrad.tensor(x, device=device)
    ys = vecgrad.tensor(y, device=device)
    losses = []
    for step in range(steps):
        batch = slice((step * 16) % len(x), (step * 16) % len(x) + 16)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xs[batch]), ys[batch])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    weights = [t.numpy() for t in model.state_dict().values()]  # buffers too
    return np.array(losses), weights


def _compare(model_factory, x, y, steps, make_optimizer, cl_backend):
    cpu_losses, cpu_weights = _train(model_factory, "cpu", x, y, steps, make_optimizer)
    cl_losses, cl_weights = _train(model_factory, cl_backend.device, x, y, steps,
                                   make_optimizer)
    np.testing.assert_allclose(cl_losses, cpu_losses, rtol=1e-3, atol=1e-4)
    assert cl_losses[-1] < cl_losses[0], "the loss should fall within a few steps"
    for got, want in zip(cl_weights, cpu_weights):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_mlp_same_loss_curve(cl_backend):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 13)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)

    def model():
        return nn.Sequential(nn.Linear(13, 33), nn.Tanh(), nn.Linear(33, 7), nn.ReLU(),
                             nn.Linear(7, 3))

    _compare(model, x, y, 12, lambda p: optim.Adam(p, lr=0.01), cl_backend)


def test_cnn_same_loss_curve(cl_backend):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 2, 9, 9)).astype(np.float32)
    y = (x[:, 0, 4, 4] > 0).astype(np.int64)

    def model():
        return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(4, 5, 3, stride=2), nn.Sigmoid(), nn.Flatten(),
                             nn.Linear(5, 2))

    _compare(model, x, y, 6, lambda p: optim.SGD(p, lr=0.1, momentum=0.9), cl_backend)


def test_batch_norm_cnn_1d_and_embedding_same_loss_curve(cl_backend):
    """float32 through the layers of issue 13: BatchNorm (running statistics included),
    grouped and "same" convolutions, 1-D pools, global average pooling, Embedding."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 2, 9, 9)).astype(np.float32)
    y = (x[:, 0, 4, 4] > 0).astype(np.int64)

    def cnn():
        return nn.Sequential(nn.Conv2d(2, 4, 3, padding="same", groups=2), nn.BatchNorm2d(4),
                             nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
                             nn.ConvTranspose2d(4, 4, 2, stride=2), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.BatchNorm1d(4), nn.Linear(4, 2))

    _compare(cnn, x, y, 6, lambda p: optim.SGD(p, lr=0.1, momentum=0.9), cl_backend)
    tokens = rng.integers(0, 12, (32, 10))
    labels = (tokens[:, 0] > 5).astype(np.int64)

    def sequence_model():
        return nn.Sequential(nn.Embedding(12, 6, padding_idx=0), _Transpose(),
                             nn.Conv1d(6, 8, 3, padding=1), nn.LayerNorm(10), nn.ReLU(),
                             nn.MaxPool1d(2), nn.AvgPool1d(5), nn.Flatten(), nn.Linear(8, 2))

    _compare(sequence_model, tokens, labels, 6, lambda p: optim.Adam(p, lr=0.01), cl_backend)


class _Transpose(nn.Module):
    """(N, L, C) embeddings -> (N, C, L) for Conv1d."""

    def forward(self, x):
        return x.transpose(1, 2)
