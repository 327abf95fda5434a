"""Neuron, Layer, MLP on Values, a 2-D toy dataset and a small trainer (pure Python).

Weights start uniform in [-1, 1) from a `random.Random(seed)`, so a seed reproduces a
network exactly. `Layer.__call__` always returns a list (also for one neuron): a model's
output has one shape whatever its size.
"""

from __future__ import annotations

import math
import random
from numbers import Integral
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from scalargrad.functions import ACTIVATIONS
from scalargrad.value import Value


def _check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    return name


def _check_size(n, what: str) -> int:
    # Integral: numpy's integers too (a size read off an array's shape or a sum)
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"{what} must be a positive int, got {n!r}")
    return int(n)


class Module:
    """Base: `parameters()` lists the trainable Values, `zero_grad()` resets them."""

    def parameters(self) -> list:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """activation(w . x + b) for `nin` inputs."""

    def __init__(self, nin: int, activation: str = "relu", alpha: Optional[float] = None,
                 rng: Optional[random.Random] = None):
        _check_size(nin, "Neuron nin")
        rng = rng if rng is not None else random.Random()
        self.w = [Value(rng.uniform(-1.0, 1.0)) for _ in range(nin)]
        self.b = Value(0.0)
        self.activation = _check_activation(activation)
        self.alpha = alpha

    def __call__(self, x: Sequence) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"Neuron expects {len(self.w)} inputs, got {len(x)}")
        total = self.b
        for wi, xi in zip(self.w, x):
            total = total + wi * xi
        if self.activation == "identity":
            return total
        if self.activation == "relu":
            return total.relu()
        return total.activation(self.activation, self.alpha)

    def parameters(self) -> list:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, activation={self.activation!r})"


class Layer(Module):
    """`nout` neurons that read the same inputs; calling it returns a list of Values."""

    def __init__(self, nin: int, nout: int, activation: str = "relu",
                 alpha: Optional[float] = None, rng: Optional[random.Random] = None):
        _check_size(nout, "Layer nout")
        rng = rng if rng is not None else random.Random()
        self.neurons = [Neuron(nin, activation, alpha, rng) for _ in range(nout)]

    def __call__(self, x: Sequence) -> list:
        return [neuron(x) for neuron in self.neurons]

    def parameters(self) -> list:
        return [p for neuron in self.neurons for p in neuron.parameters()]

    def __repr__(self) -> str:
        first = self.neurons[0]
        return f"Layer({len(first.w)}, {len(self.neurons)}, activation={first.activation!r})"


class MLP(Module):
    """Layers of sizes nin -> nouts[0] -> ... -> nouts[-1].

    Hidden layers use `activation`; the last uses `output_activation` (identity by
    default, i.e. a linear output, as in micrograd).
    """

    def __init__(self, nin: int, nouts: Sequence[int], activation: str = "relu",
                 output_activation: str = "identity", alpha: Optional[float] = None,
                 seed: Optional[int] = None):
        if not nouts:
            raise ValueError("MLP needs at least one layer size in nouts")
        _check_activation(activation)
        _check_activation(output_activation)
        rng = random.Random(seed)
        sizes = [nin] + list(nouts)
        self.layers = [
            Layer(sizes[i], sizes[i + 1],
                  output_activation if i == len(nouts) - 1 else activation, alpha, rng)
            for i in range(len(nouts))
        ]

    def __call__(self, x: Sequence) -> list:
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP([{', '.join(repr(layer) for layer in self.layers)}])"


def make_toy_dataset(name: str = "moons", n: int = 100, noise: float = 0.1,
                     seed: int = 0) -> tuple[list, list]:
    """2-D points with labels +1 / -1: 'moons', 'circles' or 'xor'. Pure Python, seeded."""
    _check_size(n, "dataset size n")
    rng = random.Random(seed)
    points, labels = [], []
    for i in range(n):
        positive = i % 2 == 0
        if name == "moons":
            t = rng.uniform(0.0, math.pi)
            x, y = (math.cos(t), math.sin(t)) if positive else (1 - math.cos(t), 0.5 - math.sin(t))
        elif name == "circles":
            t = rng.uniform(0.0, 2 * math.pi)
            r = 0.5 if positive else 1.0
            x, y = r * math.cos(t), r * math.sin(t)
        elif name == "xor":
            x, y = rng.uniform(-1, 1), rng.uniform(-1, 1)
            positive = (x > 0) == (y > 0)
        else:
            raise ValueError(f"unknown toy dataset {name!r}; known: moons, circles, xor")
        points.append([x + rng.gauss(0.0, noise), y + rng.gauss(0.0, noise)])
        labels.append(1.0 if positive else -1.0)
    return points, labels


@dataclass(frozen=True)
class EpochResult:
    """One training epoch: mean loss and accuracy on the training points."""

    epoch: int
    loss: float
    accuracy: float


def train_classifier(model: MLP, points: Sequence, labels: Sequence, epochs: int = 30,
                     lr: float = 0.05, l2: float = 1e-4,
                     on_epoch: Optional[Callable[[EpochResult], None]] = None) -> list:
    """Full-batch gradient descent with a hinge loss (labels +1 / -1) and L2 penalty.

    `on_epoch` is called with each EpochResult (for tutorials' live output).
    Returns the list of EpochResults.
    """
    if len(points) != len(labels) or len(points) == 0:  # (len: numpy arrays too)
        raise ValueError(f"need as many labels as points, got {len(points)} and {len(labels)}")
    _check_size(epochs, "epochs")
    # The hinge loss needs +1 / -1: with 0 / 1 labels the 0 class has no gradient and
    # training silently settles at chance.
    strange = [y for y in labels if y not in (1, -1) or isinstance(y, bool)]
    if strange:
        raise ValueError(f"train_classifier: labels must be +1 or -1 (hinge loss), got "
                         f"{strange[0]!r}; map 0/1 labels with 2 * y - 1")
    params = model.parameters()
    history = []
    for epoch in range(1, epochs + 1):
        scores = [model(p)[0] for p in points]
        hinge = sum(((1.0 - y * s).relu() for y, s in zip(labels, scores)), Value(0.0))
        penalty = sum((p * p for p in params), Value(0.0))
        loss = hinge / len(points) + l2 * penalty
        model.zero_grad()
        loss.backward()
        for p in params:
            p.data -= lr * p.grad
        correct = sum((s.data > 0) == (y > 0) for y, s in zip(labels, scores))
        result = EpochResult(epoch, loss.data, float(correct / len(points)))
        history.append(result)
        if on_epoch is not None:
            on_epoch(result)
    return history
