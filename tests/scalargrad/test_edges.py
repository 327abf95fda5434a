"""Division by zero, 0 ** negative, negative bases, infinities: reverse mode, forward mode
and PyTorch give the same value and gradients.

EDGES was produced by PyTorch 2.13 (float64 tensors, autograd) and is kept here as
literals so the check runs without torch; when torch is installed, a wider grid is
compared with it directly.
"""

import itertools
import math

import pytest

from scalargrad import Dual, Value

inf, nan = math.inf, math.nan

OPS = {"div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "mul": lambda a, b: a * b}

# (op, a, b, a op b, d/da, d/db) as PyTorch computes them
EDGES = [
    ("div", 1.0, 0.0, inf, inf, -inf),
    ("div", -1.0, 0.0, -inf, inf, inf),
    ("div", 0.0, 0.0, nan, inf, nan),
    ("div", 1.0, -0.0, -inf, -inf, -inf),
    ("div", inf, 2.0, inf, 0.5, -inf),
    ("pow", 0.0, -1.0, inf, -inf, -inf),
    ("pow", -0.0, -1.0, -inf, -inf, inf),
    ("pow", 0.0, 0.0, 1.0, 0.0, 0.0),
    ("pow", 0.0, 0.5, 0.0, inf, 0.0),
    ("pow", 0.0, 2.0, 0.0, 0.0, 0.0),
    ("pow", -8.0, 1 / 3, nan, nan, nan),
    ("pow", -8.0, 2.0, 64.0, -16.0, nan),
    ("pow", -2.0, 3.0, -8.0, 12.0, nan),
    ("pow", 10.0, 400.0, inf, inf, inf),
    ("pow", -10.0, 401.0, -inf, inf, nan),
    ("pow", 2.0, -inf, 0.0, nan, 0.0),
    ("pow", 1.0, inf, 1.0, inf, 0.0),
    ("pow", -1.0, 0.5, nan, nan, nan),
    ("pow", -10.0, 400.5, nan, nan, nan),  # too large, but complex before it is large
    ("pow", -1e-5, -300.5, nan, nan, nan),
    ("mul", 0.0, inf, nan, inf, 0.0),
    ("mul", 1e300, 1e300, inf, 1e300, 1e300),
]


def _same(got, expected):
    return all(g == e or (math.isnan(g) and math.isnan(e)) for g, e in zip(got, expected))


def _reverse(op, a, b):
    x, y = Value(a), Value(b)
    out = OPS[op](x, y)
    out.backward()
    return out.data, x.grad, y.grad


def _forward(op, a, b):
    da = OPS[op](Dual(a, 1.0), Dual(b))
    db = OPS[op](Dual(a), Dual(b, 1.0))
    return da.value, da.tangent, db.tangent


@pytest.mark.parametrize("op, a, b, value, da, db", EDGES)
def test_binary_edges_as_pytorch(op, a, b, value, da, db):
    assert _same(_reverse(op, a, b), (value, da, db))
    assert _same(_forward(op, a, b), (value, da, db))


@pytest.mark.parametrize("a, b, value, da", [e[1:5] for e in EDGES if e[0] == "pow"])
def test_number_exponent_matches_value_exponent(a, b, value, da):
    """x ** 2.0 (a constant exponent, one parent) agrees with x ** Value(2.0)."""
    x = Value(a)
    out = x ** b
    out.backward()
    assert _same((out.data, x.grad), (value, da))
    d = Dual(a, 1.0) ** b
    assert _same((d.value, d.tangent), (value, da))


GRID = [0.0, -0.0, 1.0, -1.0, 2.0, -8.0, 0.5, -0.5, 1e6, -1e6, inf, -inf]


@pytest.mark.parametrize("op", list(OPS))
def test_binary_grid_against_pytorch(op):
    torch = pytest.importorskip("torch")
    for a, b in itertools.product(GRID, GRID):
        ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
        out = OPS[op](ta, tb)
        out.backward()
        expected = (out.item(), ta.grad.item(), tb.grad.item())
        assert _same(_reverse(op, a, b), expected), (op, a, b, expected)
        assert _same(_forward(op, a, b), expected), (op, a, b, expected)


def _torch_unary(torch):
    functional = torch.nn.functional
    return {
        "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "abs": torch.abs,
        "tanh": torch.tanh, "sigmoid": torch.sigmoid, "softplus": functional.softplus,
        "relu": torch.relu, "elu": functional.elu, "leaky_relu": functional.leaky_relu,
        "arctan": torch.atan, "sin": torch.sin, "cos": torch.cos,
        "gaussian": lambda t: torch.exp(-t * t),
    }


# Where scalargrad deliberately differs from PyTorch (documented in functions.py):
# a nan input gives a nan gradient also at the kinked activations (PyTorch: the slope
# of one branch), and gaussian'(+-inf) is the limit 0 (PyTorch: inf * 0 = nan).
DELIBERATE = {("abs", "nan"), ("relu", "nan"), ("elu", "nan"), ("leaky_relu", "nan"),
              ("gaussian", "inf"), ("gaussian", "-inf")}


def test_unary_extremes_against_pytorch():
    torch = pytest.importorskip("torch")
    for name, reference in _torch_unary(torch).items():
        for x in (1e6, -1e6, 1e308, -1e308, 0.0, -0.0, -1.0, 0.5, inf, -inf, nan):
            if (name, repr(x)) in DELIBERATE:
                continue
            t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            out = reference(t)
            out.backward()
            expected = (out.item(), t.grad.item())
            v = Value(x)
            result = getattr(v, name)()
            result.backward()
            assert _same((result.data, v.grad), expected), (name, x, expected)
            d = getattr(Dual(x, 1.0), name)()
            assert _same((d.value, d.tangent), expected), (name, x, expected)
