"""Lesson 11: vanishing gradients in a deep sigmoid network, and ReLU (ELTE ML lecture 6)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

import numpy as np

import vecgrad
import vecgrad.nn.functional as F
from vecgrad import nn
from vecgrad.nn import init

from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import bar_chart

DEPTH, WIDTH = 10, 32


def deep_network(activation, seed=0):
    vecgrad.manual_seed(seed)
    layers = []
    for _ in range(DEPTH):
        linear = nn.Linear(WIDTH, WIDTH, dtype=vecgrad.float64)
        if activation == "sigmoid":
            init.xavier_normal_(linear.weight)   # the usual pairing
        else:
            init.kaiming_normal_(linear.weight)  # He init for ReLU
        init.zeros_(linear.bias)
        layers += [linear, nn.Activation(activation)]
    return nn.Sequential(*layers)


def layer_gradient_norms(activation):
    model = deep_network(activation)
    rng = np.random.default_rng(1)
    x = vecgrad.tensor(rng.normal(size=(64, WIDTH)), dtype=vecgrad.float64)
    target = vecgrad.tensor(rng.normal(size=(64, WIDTH)),
                            dtype=vecgrad.float64)
    F.mse_loss(model(x), target).backward()
    linears = [m for m in model.children() if isinstance(m, nn.Linear)]
    return [float(np.linalg.norm(m.weight.grad.numpy())) for m in linears]


def compare_norms():
    sigmoid = layer_gradient_norms("sigmoid")
    relu = layer_gradient_norms("relu")
    return {"sigmoid": sigmoid, "relu": relu,
            "sigmoid_first_over_last": sigmoid[0] / sigmoid[-1],
            "relu_first_over_last": relu[0] / relu[-1]}


def show_norms(r):
    labels = [f"layer {k + 1}" for k in range(DEPTH)]
    return [bar_chart(labels, r["sigmoid"], log=True, color="magenta",
                      title="sigmoid: |dL/dW| per layer (log scale, input first)"),
            bar_chart(labels, r["relu"], log=True, color="green",
                      title="ReLU: |dL/dW| per layer (log scale, input first)")]


def activation_slopes():
    slopes = {}
    for activation in ("sigmoid", "relu"):
        model = deep_network(activation)
        seen = []

        def record(module, inputs, output, seen=seen):
            a = inputs[0].numpy()  # the pre-activation entering the unit
            if module.name == "sigmoid":
                s = 1 / (1 + np.exp(-a))
                seen.append(float(np.mean(s * (1 - s))))
            else:
                seen.append(float(np.mean(a > 0)))

        for m in model.children():
            if isinstance(m, nn.Activation):
                m.register_forward_hook(record)
        rng = np.random.default_rng(1)
        with vecgrad.no_grad():
            model(vecgrad.tensor(rng.normal(size=(64, WIDTH)),
                                 dtype=vecgrad.float64))
        slopes[activation] = seen
    return slopes


def show_slopes(r):
    labels = [f"layer {k + 1}" for k in range(DEPTH)]
    return [bar_chart(labels, r["sigmoid"], color="magenta",
                      title="sigmoid: mean slope sigma'(a) per layer"),
            bar_chart(labels, r["relu"], color="green",
                      title="ReLU: mean slope (fraction of active units)")]


LESSON = Lesson(
    number=11,
    title="Vanishing gradients: a deep sigmoid network vs ReLU",
    lectures="002",
    intro="""
    ELTE ML lecture 6 warns that in a deep network the gradient for the first layers is a
    product of many factors, one per layer above, and can shrink towards zero: the
    **vanishing gradient** problem. We build two networks of 10 fully connected layers
    of 32 units, one with sigmoid and one with ReLU activations, and measure the
    gradient that reaches each layer.
    """,
    steps=(
        Step("Gradient norms layer by layer", """
            One batch of 64 random inputs, a squared-error loss, one backward pass. For
            each layer we print the size (Frobenius norm) of dL/dW. In the sigmoid
            network the gradient shrinks on its way back: the first layer's is over a
            million times smaller than the last layer's (9e-8 against 0.13). In the
            ReLU network no layer's gradient is more than four times another's (they
            lie between 2.7 and 9.4).
            """, compare_norms, show_norms, also_show=(deep_network,
                                                        layer_gradient_norms)),
        Step("Where the factor comes from", """
            On the way back every layer multiplies the gradient by its weights and by
            the slope of its activation. The sigmoid's slope is at most 0.25 and is
            smaller still away from 0, so ten layers multiply ten such factors. A ReLU
            unit has slope exactly 1 when active and 0 when not; about half are active,
            and He initialisation doubles the weights' variance to make up for that
            half, so the product does not shrink. Forward hooks record the slopes
            without changing the network.
            """, activation_slopes, show_slopes),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
