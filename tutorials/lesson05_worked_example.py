"""Lesson 5: the worked backprop example of NPFL114 lecture 2 and the delta form of 002."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

from scalargrad import Value

from tutorials.framework import Lesson, Step, main_for
from tutorials.views import table, vector

# The network of NPFL114 lecture 2: 2 inputs, 3 ReLU hidden units, 1 linear output, squared error.
X = (1.0, 2.0)
W_HIDDEN = ((2.0, 1.0), (-1.0, -1.0), (1.0, 2.0))  # rows: (w1, w2), (w3, w4), (w5, w6)
W_OUT = (-1.0, 3.0, 2.0)                           # (w7, w8, w9)
GOLD = 3.0


def build_network():
    x = [Value(v, label=f"x{k + 1}") for k, v in enumerate(X)]
    w = [[Value(v, label=f"w{2 * r + c + 1}") for c, v in enumerate(row)]
         for r, row in enumerate(W_HIDDEN)]
    w_out = [Value(v, label=f"w{7 + k}") for k, v in enumerate(W_OUT)]
    i = [row[0] * x[0] + row[1] * x[1] for row in w]  # pre-activations
    h = [v.relu() for v in i]                           # hidden outputs
    o = w_out[0] * h[0] + w_out[1] * h[1] + w_out[2] * h[2]
    loss = (o - GOLD) ** 2
    return x, w, w_out, i, h, o, loss


def forward():
    x, w, w_out, i, h, o, loss = build_network()
    return {"i": [v.data for v in i], "h": [v.data for v in h],
            "o": o.data, "L": loss.data}


def show_forward(r):
    rows = [("i = W x", vector(r["i"])), ("h = ReLU(i)", vector(r["h"])),
            ("o = w7 h1 + w8 h2 + w9 h3", r["o"]), ("L = (o - gold)^2, gold = 3", r["L"])]
    return [table("forward pass", ["quantity", "value"], rows)]


def backward():
    x, w, w_out, i, h, o, loss = build_network()
    loss.backward()
    return {"dL/do": o.grad,
            "dL/dw7..w9": [v.grad for v in w_out],
            "dL/dh": [v.grad for v in h],
            "dL/di": [v.grad for v in i],
            "dL/dw1..w6": [v.grad for row in w for v in row],
            "dL/dx": [v.grad for v in x]}


# The numbers printed on the slides of NPFL114 lecture 2.
SLIDE_NUMBERS = {"dL/do": 6.0, "dL/dw7..w9": [24.0, 0.0, 30.0], "dL/dh": [-6.0, 18.0, 12.0],
                 "dL/di": [-6.0, 0.0, 12.0], "dL/dw1..w6": [-6.0, -12.0, 0.0, 0.0, 12.0, 24.0],
                 "dL/dx": [0.0, 18.0]}


def _as_text(v):
    return vector(v) if isinstance(v, list) else f"{v:g}"


def show_backward(r):
    rows = [(name, _as_text(r[name]), _as_text(SLIDE_NUMBERS[name]),
             "yes" if r[name] == SLIDE_NUMBERS[name] else "NO") for name in SLIDE_NUMBERS]
    return [table("scalargrad's gradients next to the slides", ["gradient", "scalargrad",
                                                                "NPFL114 lecture 2", "equal"], rows)]


def delta_form():
    # Forward with plain floats, keeping the pre-activations.
    i = [w1 * X[0] + w2 * X[1] for w1, w2 in W_HIDDEN]
    h = [max(v, 0.0) for v in i]
    o = sum(w * hk for w, hk in zip(W_OUT, h))
    # Output layer: delta = f'(a) * dL/d(output); the output is linear.
    delta_out = 1.0 * 2.0 * (o - GOLD)
    # Hidden layer: delta = f'(i) elementwise times W_out^T delta_out.
    relu_prime = [1.0 if v > 0 else 0.0 for v in i]
    delta_hidden = [d * w * delta_out for d, w in zip(relu_prime, W_OUT)]
    # Weight gradients: delta times the layer's input (outer products).
    grad_w_out = [delta_out * hk for hk in h]
    grad_w_hidden = [dj * xk for dj in delta_hidden for xk in X]
    grad_x = [sum(delta_hidden[j] * W_HIDDEN[j][k] for j in range(3))
              for k in range(2)]
    return {"delta_out": delta_out, "delta_hidden": delta_hidden,
            "dL/dw7..w9": grad_w_out, "dL/dw1..w6": grad_w_hidden,
            "dL/dx": grad_x}


def show_delta(r):
    rows = [("delta(3) = f'(a3) (y3 - t) scaled by 2", _as_text(r["delta_out"])),
            ("delta(2) = f'(a2) . W(2)^T delta(3)", vector(r["delta_hidden"])),
            ("dL/dW(2) = delta(3) y(2)^T", vector(r["dL/dw7..w9"])),
            ("dL/dW(1) = delta(2) y(1)^T", vector(r["dL/dw1..w6"])),
            ("dL/dx = W(1)^T delta(2)", vector(r["dL/dx"]))]
    return [table("the same gradients from the delta recursion", ["formula", "value"], rows)]


def step_with(learning_rate):
    x, w, w_out, i, h, o, loss = build_network()
    loss.backward()
    for p in [v for row in w for v in row] + w_out:
        p.data -= learning_rate * p.grad
    # A fresh forward pass on the same (updated) leaves.
    i2 = [row[0] * x[0] + row[1] * x[1] for row in w]
    h2 = [v.relu() for v in i2]
    o2 = w_out[0] * h2[0] + w_out[1] * h2[1] + w_out[2] * h2[2]
    return o.data, loss.data, o2.data, ((o2 - GOLD) ** 2).data


def one_gradient_step():
    o, before, o_after, after = step_with(0.01)
    _, _, o_short, after_short = step_with(0.0075)
    return {"before": before, "after": after, "o_before": o,
            "o_after": o_after, "o_short": o_short,
            "after_short": after_short}


def show_step(r):
    return [table("one step of gradient descent (target 3)",
                  ["", "output o", "loss"],
                  [("before", r["o_before"], r["before"]),
                   ("after, learning rate 0.01", r["o_after"], r["after"]),
                   ("after, learning rate 0.0075", r["o_short"],
                    r["after_short"])])]


LESSON = Lesson(
    number=5,
    title="The worked backprop example with numbers, and the delta form",
    lectures="004, 002",
    intro="""
    NPFL114 lecture 2 works through backprop on a tiny network with concrete numbers; its
    figure is lost, but the weights below reproduce every number on the slides:
    x = (1, 2), hidden weights W = [[2, 1], [-1, -1], [1, 2]], ReLU hidden units,
    output weights (w7, w8, w9) = (-1, 3, 2), target 3 and squared error. We rebuild
    it with scalargrad, then derive the same numbers with the delta vectors of ELTE ML
    lecture 6.
    """,
    steps=(
        Step("Forward", """
            The hidden pre-activations are i = W x = (4, -3, 5). ReLU zeroes the negative
            one, h = (4, 0, 5), the output is o = -4 + 0 + 10 = 6 and the loss
            (6 - 3)^2 = 9.
            """, forward, show_forward, also_show=(build_network,)),
        Step("Backward with scalargrad", """
            One call to `loss.backward()` fills in every gradient. Two zeros come from
            two different causes. dL/dw8 = dL/do * h2 = 6 * 0 = 0 because the unit's
            *output* h2 is 0: w8 multiplies nothing. dL/dw3 and dL/dw4 are 0 because
            the unit's *slope* is 0: relu'(i2) = relu'(-3) = 0 blocks the gradient
            dL/dh2 = 18 on its way down, so dL/di2 = 0.
            """, backward, show_backward),
        Step("The delta form", """
            ELTE ML lecture 6 writes the same computation layer by layer. For each layer,
            delta = dL/d(pre-activation) = f'(a) times what comes back from the layer
            above, starting from the loss derivative 2(o - t). A layer's weight gradient
            is then delta times the transposed input of that layer. No graph is needed,
            only the saved forward values.
            """, delta_form, show_delta),
        Step("Using the gradient", """
            The gradient points uphill, so a small step against it lowers the loss. With
            learning rate 0.01 a single update brings the loss from 9 down to 0.73, but
            look at the output: it moves from 6 to 2.148, past the target 3. The step
            was too long: with learning rate 0.0075 the output lands at 3.09 and the
            loss at 0.008. A loss that still falls can hide an overshoot like this one.
            """, one_gradient_step, show_step, also_show=(step_with,)),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
