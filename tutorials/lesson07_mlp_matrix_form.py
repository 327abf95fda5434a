"""Lesson 7: an MLP in matrix-vector form; backprop as Jacobian products (TU Graz ML1 lecture 8)."""

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
from scalargrad import Value
from scalargrad.graph import topological_order

from tutorials.framework import Lesson, Step, main_for
from tutorials.views import table

SIZES = (3, 4, 4, 2)  # inputs, two hidden layers, outputs


def make_parameters(seed=0):
    rng = np.random.default_rng(seed)
    # Weight shape (out, in) as in vecgrad/PyTorch: the TU Graz W^T.
    weights = [rng.uniform(-1, 1, size=(n_out, n_in))
               for n_in, n_out in zip(SIZES, SIZES[1:])]
    biases = [rng.uniform(-0.5, 0.5, size=n_out) for n_out in SIZES[1:]]
    x = rng.uniform(-1, 1, size=SIZES[0])
    target = rng.uniform(-1, 1, size=SIZES[-1])
    return weights, biases, x, target


def forward_matrix_form():
    (w1, w2, w3), (b1, b2, b3), x, target = make_parameters()
    a1 = w1 @ x + b1
    h1 = np.tanh(a1)                 # phi_1 = tanh
    a2 = w2 @ h1 + b2
    h2 = np.maximum(a2, 0.0)         # phi_2 = ReLU
    y_hat = w3 @ h2 + b3             # output layer: affine only
    loss = 0.5 * np.sum((y_hat - target) ** 2)
    return {"a1": a1, "h1": h1, "a2": a2, "h2": h2, "y_hat": y_hat,
            "loss": float(loss)}


def show_forward(r):
    rows = [(name, np.array2string(r[name], precision=4))
            for name in ("a1", "h1", "a2", "h2", "y_hat")]
    rows.append(("loss = |y_hat - t|^2 / 2", f"{r['loss']:.6f}"))
    return [table("forward pass, layer by layer", ["vector", "value"], rows)]


def backward_jacobians():
    (w1, w2, w3), (b1, b2, b3), x, target = make_parameters()
    f = forward_matrix_form()
    g_a3 = f["y_hat"] - target               # closed form for the loss
    g_h2 = w3.T @ g_a3                       # Jacobian of a linear map
    g_a2 = np.diag((f["a2"] > 0).astype(float)) @ g_h2   # diag(phi_2')
    g_h1 = w2.T @ g_a2
    g_a1 = np.diag(1.0 - f["h1"] ** 2) @ g_h1        # diag(tanh')
    # dl/dw_jk = dl/da_j * h_k: an outer product per layer.
    grads = {"w1": np.outer(g_a1, x), "b1": g_a1,
             "w2": np.outer(g_a2, f["h1"]), "b2": g_a2,
             "w3": np.outer(g_a3, f["h2"]), "b3": g_a3}
    return {"grads": grads}


def show_jacobians(r):
    rows = [(name, str(g.shape), float(np.linalg.norm(g)))
            for name, g in r["grads"].items()]
    return [table("gradients from Jacobian products", ["parameter", "shape",
                                                       "norm |dl/dp|"], rows)]


def backward_scalargrad():
    weights, biases, x, target = make_parameters()
    w = [[[Value(v) for v in row] for row in m] for m in weights]
    b = [[Value(v) for v in vec] for vec in biases]
    h = [Value(v) for v in x]
    for layer, phi in enumerate(("tanh", "relu", "identity")):
        a = [sum((wjk * hk for wjk, hk in zip(row, h)), bj)
             for row, bj in zip(w[layer], b[layer])]
        h = [aj.activation(phi) for aj in a]
    loss = 0.5 * sum((yj - tj) ** 2 for yj, tj in zip(h, target))
    loss.backward()
    grads = {}
    for k in range(3):
        grads[f"w{k + 1}"] = np.array([[v.grad for v in row]
                                        for row in w[k]])
        grads[f"b{k + 1}"] = np.array([v.grad for v in b[k]])
    return {"loss": loss.data, "grads": grads, "root": loss,
            "nodes": len(topological_order(loss))}


def backward_vecgrad():
    weights, biases, x, target = make_parameters()
    params = {}
    for k, (wk, bk) in enumerate(zip(weights, biases), start=1):
        params[f"w{k}"] = vecgrad.tensor(wk, dtype=vecgrad.float64,
                                         requires_grad=True)
        params[f"b{k}"] = vecgrad.tensor(bk, dtype=vecgrad.float64,
                                         requires_grad=True)
    h = vecgrad.tensor(x, dtype=vecgrad.float64)
    h = F.linear(h, params["w1"], params["b1"]).tanh()
    h = F.linear(h, params["w2"], params["b2"]).relu()
    y_hat = F.linear(h, params["w3"], params["b3"])
    t = vecgrad.tensor(target, dtype=vecgrad.float64)
    loss = 0.5 * ((y_hat - t) ** 2).sum()
    loss.backward()
    return {"loss": loss.item(),
            "grads": {name: p.grad.numpy() for name, p in params.items()}}


def show_loss_and_norms(r):
    rows = [("loss", r["loss"])]
    if "nodes" in r:
        rows.append(("nodes in the graph", r["nodes"]))
    rows += [(f"|dl/d{name}|", float(np.linalg.norm(g)))
             for name, g in r["grads"].items()]
    return [table("", ["", "value"], rows)]


def three_way_comparison():
    jac = backward_jacobians()["grads"]
    sg = backward_scalargrad()["grads"]
    vg = backward_vecgrad()["grads"]
    rows = []
    for name in jac:
        rows.append((name, float(np.abs(sg[name] - jac[name]).max()),
                     float(np.abs(vg[name] - jac[name]).max())))
    return {"rows": rows, "max_gap": max(max(r[1], r[2]) for r in rows)}


def show_comparison(r):
    return [table("largest difference from the Jacobian products",
                  ["parameter", "scalargrad", "vecgrad"], r["rows"], digits=3)]


LESSON = Lesson(
    number=7,
    title="An MLP in matrix-vector form: backprop as Jacobian products",
    lectures="000",
    intro="""
    TU Graz ML1 lecture 8 writes a multilayer perceptron as alternating matrix products and
    elementwise non-linearities, and backprop as a product of Jacobians taken from the
    output back: the Jacobian of a linear layer is its weight matrix, that of an
    elementwise activation is diagonal. We build a 3-4-4-2 network (tanh, ReLU, linear
    output, squared loss) and compute its gradients three independent ways.
    """,
    steps=(
        Step("Forward in matrix-vector form", """
            Each layer computes a = W h + b and then h = phi(a). Our weight matrices
            have shape (outputs, inputs), the transpose of the lecture's W, so the
            product reads W h instead of W^T h.
            """, forward_matrix_form, show_forward, also_show=(make_parameters,)),
        Step("Backward as Jacobian products", """
            Starting from dl/dy_hat = y_hat - t, every layer multiplies by a transposed
            Jacobian: W^T for a linear map, diag(phi'(a)) for an activation. A weight's
            gradient is "backprop times forward": dl/dW = (dl/da) h^T. We build the
            diagonal matrices explicitly here; real code multiplies elementwise, which
            is the same thing.
            """, backward_jacobians, show_jacobians),
        Step("The same network in scalargrad", """
            With every weight a scalar Value, the network is a graph of 142 nodes
            (counted below): 49 leaves for the 46 weights and biases and the 3 inputs,
            72 products and sums, 10 activations, and 11 more for the loss (its
            constants, differences, squares, their sum and the factor 1/2). One
            `backward()` fills in every gradient. The table shows each gradient's
            norm, the square root of the sum of its squared entries, as in the step
            before.
            """, backward_scalargrad, show_loss_and_norms),
        Step("The same network in vecgrad", """
            vecgrad keeps each layer's weights in one tensor; `F.linear(h, W, b)`
            computes W h + b.
            """, backward_vecgrad, show_loss_and_norms),
        Step("Three engines, one answer", """
            The Jacobian products (numpy), scalargrad and vecgrad agree to rounding
            error on every weight and bias.
            """, three_way_comparison, show_comparison),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
