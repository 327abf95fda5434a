"""Lesson 16: curvature - Hessians five ways, Newton's method, and what it costs (001, 003)."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

import numpy as np

import scalargrad
import vecgrad
import vecgrad.nn.functional as F
from scalargrad import Value
from scalargrad.higher import MODES
from vecgrad import func
from vecgrad.optim import SGD, Newton

from tutorials.devices import opencl_device
from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import Series, line_plot
from tutorials.views import table, vector

# Lecture 003's exercise: l(w) = -log sigma(w . x) at x = (1, 1, 1), w = (1, 1, -1.5).
X3 = (1.0, 1.0, 1.0)
W3 = (1.0, 1.0, -1.5)
# Lecture 001's least squares: l(w, b) = (y - (w . x + b))^2 at x = (1, 2), y = 3.
X1, Y1 = (1.0, 2.0), 3.0
START1 = (0.5, -0.25, 0.1)  # (w1, w2, b)


def logistic(w):
    """l(w) for scalars (Values, Duals) or a vecgrad vector w."""
    if isinstance(w, vecgrad.Tensor):
        x = vecgrad.tensor(X3, dtype=w.dtype, device=w.device)
        return -(w * x).sum().sigmoid().log()
    s = w[0] * X3[0] + w[1] * X3[1] + w[2] * X3[2]
    return -(s.sigmoid().log())


def least_squares(p):
    """(y - (w . x + b))^2 for scalars or a vecgrad vector (w1, w2, b)."""
    if isinstance(p, vecgrad.Tensor):
        x = vecgrad.tensor(X1 + (1.0,), dtype=p.dtype, device=p.device)
        r = Y1 - (p * x).sum()
        return r * r
    r = Y1 - (p[0] * X1[0] + p[1] * X1[1] + p[2])
    return r * r


def _closed_logistic():
    s = sum(w * x for w, x in zip(W3, X3))
    sig = 1 / (1 + math.exp(-s))
    x = np.array(X3)
    return sig * (1 - sig) * np.outer(x, x)  # d^2/dw^2 of -log sigma(w . x)


def _closed_least_squares():
    a = np.array(X1 + (1.0,))
    return 2 * np.outer(a, a)  # the residual is linear in (w, b): H = 2 a a^T


def _finite_differences(f, point, eps=1e-5):
    """Central differences of the (exact, reverse-mode) gradient: one column per input."""
    def gradient(p):
        xs = [Value(v) for v in p]
        return scalargrad.grad(f(xs), xs)

    n = len(point)
    columns = []
    for k in range(n):
        up, down = list(point), list(point)
        up[k] += eps
        down[k] -= eps
        columns.append([(a - b) / (2 * eps) for a, b in zip(gradient(up), gradient(down))])
    return np.array(columns).T


def five_ways(f, point, closed):
    ways = {"closed form": closed}
    ways["scalargrad"] = np.array(scalargrad.hessian(lambda *xs: f(xs), list(point)))
    ways["vecgrad cpu"] = func.hessian(f, vecgrad.tensor(point, dtype=vecgrad.float64)).numpy()
    device, why = opencl_device()
    if device is not None:
        backend = vecgrad.get_backend(device)
        dtype = vecgrad.float64 if backend.supports_float64 else vecgrad.float32
        h = func.hessian(f, vecgrad.tensor(point, dtype=dtype, device=device))
        ways[f"vecgrad {device}"] = h.numpy().astype(np.float64)
    ways["finite differences of the gradient"] = _finite_differences(f, point)
    gaps = {name: float(np.abs(h - closed).max()) for name, h in ways.items()
            if name != "closed form"}
    # scalargrad's four nested modes (reverse/forward over reverse/forward) agree too
    modes = {mode: float(np.abs(np.array(scalargrad.hessian(lambda *xs: f(xs), list(point),
                                                             mode)) - closed).max())
             for mode in MODES}
    return {"hessian": closed, "gaps": gaps, "modes": modes,
            "opencl": device or f"none ({why})"}


def logistic_hessian():
    return five_ways(logistic, W3, _closed_logistic())


def least_squares_hessian():
    return five_ways(least_squares, START1, _closed_least_squares())


def _count_word(n):
    """3 -> 'three' (four ways with an OpenCL device, three without one)."""
    return {3: "three", 4: "four"}.get(n, str(n))


def show_five_ways(title, names):
    def view(r):
        h = r["hessian"]
        rows = [(names[i], *[f"{v:.6f}" for v in h[i]]) for i in range(len(h))]
        eig = np.linalg.eigvalsh(h)
        # scalargrad in each of its four modes (plain "scalargrad" is the first)
        ways = [(f"scalargrad {m}", f"{g:.1e}") for m, g in r["modes"].items()]
        ways += [(name, f"{gap:.1e}") for name, gap in r["gaps"].items()
                 if name != "scalargrad"]
        return [table(title, ["", *names], rows),
                table(f"the same matrix {_count_word(len(r['gaps']))} more ways "
                      "(scalargrad in its four modes): largest difference from the "
                      f"closed form (OpenCL: {r['opencl']})",
                      ["method", "max |difference|"], ways),
                table("curvature along the eigenvectors", ["eigenvalue"],
                      [(f"{e:.6g}",) for e in eig])]
    return view


# ------------------------------------------------------------ Newton vs gradient descent
def make_logistic_data(n=60, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)) * np.array([1.0, 0.25])  # elongated: a narrow valley
    y = (x @ np.array([1.0, 3.0]) + 0.8 * rng.normal(size=n) > 0).astype(float)
    return x, y


def _loss_fn(x, y, w):
    loss = F.binary_cross_entropy_with_logits(x @ w, y)
    return loss + 0.01 * (w * w).sum()


METHODS = ("gradient descent", "Newton", "Newton, line search")
COLORS = {"gradient descent": "red", "Newton": "yellow", "Newton, line search": "green"}


def newton_versus_gradient_descent(steps=12, lr=2.0):
    x, y = make_logistic_data()
    f64 = vecgrad.float64
    tx, ty = vecgrad.tensor(x, dtype=f64), vecgrad.tensor(y, dtype=f64)
    paths, losses = {}, {}
    for name in METHODS:
        w = vecgrad.tensor([-1.5, -1.0], dtype=f64, requires_grad=True)
        if name == "gradient descent":
            opt = SGD([w], lr=lr)
        else:
            opt = Newton([w], line_search=name.endswith("line search"))
        path, history = [tuple(w.numpy())], []
        for _ in range(steps):
            if isinstance(opt, Newton):
                history.append(opt.step(lambda: _loss_fn(tx, ty, w)).item())
            else:
                loss = _loss_fn(tx, ty, w)
                opt.zero_grad()
                loss.backward()
                opt.step()
                history.append(loss.item())
            path.append(tuple(w.numpy()))
        paths[name], losses[name] = path, history
    best = min(min(h) for h in losses.values())
    return {"paths": paths, "losses": losses, "best": best, "lr": lr,
            "steps": steps}


def show_paths(r):
    shown = ("gradient descent", "Newton, line search")  # pure Newton leaves the frame
    path_plot = line_plot([Series(name, [p[0] for p in r["paths"][name]],
                                  [p[1] for p in r["paths"][name]], COLORS[name])
                           for name in shown],
                          title="paths in the (w1, w2) plane, both from (-1.5, -1)",
                          xlabel="w1", ylabel="w2", height=12)
    gap_plot = line_plot([Series(name, list(range(1, r["steps"] + 1)),
                                 [max(v - r["best"], 1e-16) for v in hist], COLORS[name])
                          for name, hist in r["losses"].items()],
                         title="loss above the best value found, per step", logy=True,
                         xlabel="step", ylabel="loss - best", height=10)
    rows = [(name, " ".join(f"{v:.4f}" for v in hist[:6]), f"{hist[-1]:.10f}")
            for name, hist in r["losses"].items()]
    return [path_plot, gap_plot,
            table(f"{r['steps']} steps (gradient descent: lr {r['lr']})",
                  ["method", "first six losses", "last loss"], rows)]


# ------------------------------------------------------------------ cost per step
def _mlp(sizes, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(vecgrad.tensor(rng.normal(size=(fan_out, fan_in)) / math.sqrt(fan_in),
                                     dtype=vecgrad.float64, requires_grad=True))
        params.append(vecgrad.tensor(np.zeros(fan_out), dtype=vecgrad.float64,
                                     requires_grad=True))
    return params


def _mlp_loss(params, x, y):
    h = x
    for i in range(0, len(params) - 2, 2):
        h = F.linear(h, params[i], params[i + 1]).tanh()
    return F.mse_loss(F.linear(h, params[-2], params[-1]), y)


def _seconds(run, repeats=5):
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def cost_per_step():
    rng = np.random.default_rng(1)
    x = vecgrad.tensor(rng.normal(size=(32, 4)), dtype=vecgrad.float64)
    y = vecgrad.tensor(rng.normal(size=(32, 1)), dtype=vecgrad.float64)
    rows = []
    for hidden in (4, 8, 16):
        params = _mlp((4, hidden, 1))
        n = sum(p.numel() for p in params)

        def loss(*ps):
            return _mlp_loss(list(ps), x, y)

        def gradient():
            vecgrad.autograd.grad(loss(*params), params)

        vs = tuple(vecgrad.ones_like(p) for p in params)
        g = _seconds(gradient)
        hv = _seconds(lambda: func.hvp(loss, tuple(params), vs))
        full = _seconds(lambda: func.hessian(loss, tuple(params)), 1)
        rows.append({"params": n, "gradient": g, "hvp": hv,
                     "hessian": full})
    # the bench's MLP, 784-1000-1000-10
    big = 784 * 1000 + 1000 + 1000 * 1000 + 1000 + 1000 * 10 + 10
    return {"rows": rows, "big": big}


def show_cost(r):
    rows = [(row["params"], f"{row['gradient'] * 1e3:.2f} ms", f"{row['hvp'] * 1e3:.2f} ms",
             f"{row['hvp'] / row['gradient']:.1f}x",
             f"{row['hessian'] * 1e3:.0f} ms", f"{row['hessian'] / row['gradient']:.0f}x")
            for row in r["rows"]]
    n = r["big"]
    return [table("cost per step on this machine (best of 5; timings vary with load; "
                  "small MLPs 4-h-1, tanh)",
                  ["parameters n", "gradient", "Hessian-vector product", "HVP / gradient",
                   "full Hessian", "Hessian / gradient"], rows),
            table(f"the bench's MLP (784-1000-1000-10) has n = {n:,} parameters",
                  ["", "per Newton step"],
                  [("Hessian entries (n^2)", f"{n * n:.2e} entries"),
                   ("memory in float32", f"{n * n * 4 / 1e12:.1f} TB"),
                   ("Hessian-vector products to build it", f"{n:,}"),
                   ("flops to solve (n^3 / 3)", f"{n ** 3 / 3:.1e} flops"),
                   ("Hessian-free CG (k iterations)", "k HVPs, each a few gradients")])]


LESSON = Lesson(
    number=16,
    title="Curvature: Hessians, Newton's method and its cost",
    lectures="001, 003",
    intro="""
    The gradient says which way is downhill; the Hessian (the matrix of second
    derivatives) says how the slope itself changes - the curvature that the NYU CDS
    lecture warns about in regions of high curvature. We compute Hessians five ways and let them check each
    other: by hand (closed form), by scalargrad (gradients of gradients, and nested dual
    numbers), by vecgrad on the cpu and on OpenCL (backward(create_graph=True)), and by
    finite differences of the gradient. Then Newton's method uses the Hessian to take
    curvature-aware steps, and we count what that costs.
    """,
    steps=(
        Step("The Hessian of the AD lecture's logistic loss", """
            l(w) = -log sigma(w . x) with x = (1, 1, 1), w = (1, 1, -1.5). Its gradient is
            -(1 - sigma(s)) x with s = w . x = 0.5, and differentiating once more gives
            H = sigma(s) (1 - sigma(s)) x x^T: every entry sigma'(0.5) = 0.235004. H has
            rank one: the loss only curves along x, the one direction that changes s.
            """, logistic_hessian, show_five_ways("H of l(w) = -log sigma(w . x)",
                                                  ["w1", "w2", "w3"]),
             also_show=(logistic,)),
        Step("The Hessian of NYU CDS's least squares", """
            l(w, b) = (y - (w . x + b))^2 with x = (1, 2), y = 3. The residual is linear in
            (w1, w2, b), so H = 2 a a^T with a = (x1, x2, 1), the same at every point: a
            quadratic bowl. Over a data set the sum gives 2 A^T A, the normal equations'
            matrix - one Newton step solves least squares exactly.
            """, least_squares_hessian, show_five_ways("H of l = (y - w . x - b)^2",
                                                       ["w1", "w2", "b"]),
             also_show=(least_squares,)),
        Step("Newton's method next to gradient descent", """
            Gradient descent steps along -g with one step size for every direction: in a
            long narrow valley it must stay small for the steep walls and then crawls
            along the valley floor. Newton's method steps along -H^-1 g, rescaling every
            direction by its curvature: near the minimum the error roughly squares each
            step. Far from it the quadratic model can be poor: pure Newton overshoots
            and oscillates here, while backtracking (halve the step until the loss drops
            enough) tames the first steps and then takes full Newton steps. Same data,
            same start, all on vecgrad (optim.SGD, optim.Newton).
            """, newton_versus_gradient_descent, show_paths, also_show=(_loss_fn,)),
        Step("Why second order is rare in deep learning", """
            A Hessian-vector product costs a few gradients (it never forms H: the
            gradient is recorded and differentiated once more), but the full Hessian of n
            parameters costs n of them, n^2 memory, and n^3 work to solve. For a network
            with millions of weights that is out of reach; Hessian-free methods (CG on
            HVPs) and diagonal or low-rank approximations (Adam's second moment is a crude
            diagonal curvature estimate) are what remains.
            """, cost_per_step, show_cost),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
