"""The bench's workloads, each written three ways where it applies: vecgrad, a hand-written
numpy step (the reference any engine is measured against), and PyTorch.

The same data and weights go to every engine (`mlp_data`), so the engines compute the
same step and tests can check that they agree.
"""

from __future__ import annotations

import numpy as np

import vecgrad
import vecgrad.nn.functional as F

MLP_SIZES = (784, 1000, 1000, 10)
BATCH = 100
LR = 0.1
CONV = dict(batch=32, in_ch=3, out_ch=16, size=32, kernel=5)


# ------------------------------------------------------------------ the MLP step
def mlp_data(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, MLP_SIZES[0])).astype(np.float32)
    y = rng.integers(0, MLP_SIZES[-1], size=BATCH).astype(np.int64)
    params = []
    for fan_in, fan_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        bound = np.sqrt(6.0 / fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(np.zeros(fan_out, dtype=np.float32))
    return x, y, params


def numpy_mlp_step(x, y, params):
    """The reference: forward, softmax cross-entropy, backward and SGD, by hand in numpy."""
    w1, b1, w2, b2, w3, b3 = params
    n = x.shape[0]
    z1 = x @ w1.T
    z1 += b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w2.T
    z2 += b2
    h2 = np.maximum(z2, 0)
    z3 = h2 @ w3.T
    z3 += b3
    shifted = z3 - z3.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, y]))
    g3 = e / total  # softmax - onehot, averaged over the batch
    g3[rows, y] -= 1
    g3 /= n
    grads = [None] * 6
    grads[4], grads[5] = g3.T @ h2, g3.sum(axis=0)
    g2 = g3 @ w3
    g2 *= z2 > 0
    grads[2], grads[3] = g2.T @ h1, g2.sum(axis=0)
    g1 = g2 @ w2
    g1 *= z1 > 0
    grads[0], grads[1] = g1.T @ x, g1.sum(axis=0)
    for p, g in zip(params, grads):
        g *= LR
        p -= g
    return loss


def vecgrad_mlp_step(x, y, params):
    """The same step written with vecgrad as a user would."""
    h = x
    for i in range(0, 4, 2):
        h = F.relu(F.linear(h, params[i], params[i + 1]))
    loss = F.cross_entropy(F.linear(h, params[4], params[5]), y)
    loss.backward()
    with vecgrad.no_grad():
        for p in params:
            p.sub_(p.grad, alpha=LR)
            p.grad = None
    return loss.item()


def torch_mlp_step(torch, x, y, params, optimizer):
    h = x
    for i in range(0, 4, 2):
        h = torch.relu(torch.nn.functional.linear(h, params[i], params[i + 1]))
    loss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(h, params[4], params[5]), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()
