"""Forward mode (dual numbers) vs reverse mode vs central differences on random graphs."""

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scalargrad import ACTIVATIONS, Value
from scalargrad.forward import Dual, gradient, jvp
from scalargrad.gradcheck import numerical_grad

# Smooth ops only (kinks would make finite differences meaningless), each usable on
# Values and Duals alike. Domains are kept safe by construction (log of 1 + a^2, ...).
UNARY_OPS = [
    ("neg", lambda a: -a), ("exp_tanh", lambda a: a.tanh().exp()),
    ("log1p_sq", lambda a: (1 + a * a).log()), ("sqrt1p_sq", lambda a: (1 + a * a).sqrt()),
    ("square", lambda a: a ** 2), ("recip", lambda a: 1 / (2 + a.sin())),
    ("rpow", lambda a: 1.5 ** a.tanh()),
] + [(name, (lambda n: lambda a: a.activation(n))(name))
     for name in ("sigmoid", "tanh", "arctan", "softplus", "bent_identity", "sin", "cos",
                  "sinc", "gaussian", "identity", "soft_exponential")]

BINARY_OPS = [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / (1.5 + b.tanh())), ("pow", lambda a, b: (1 + a * a) ** b.tanh()),
]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("u"), st.integers(0, len(UNARY_OPS) - 1), st.integers(0, 10 ** 6)),
        st.tuples(st.just("b"), st.integers(0, len(BINARY_OPS) - 1),
                  st.integers(0, 10 ** 6), st.integers(0, 10 ** 6)),
    ),
    min_size=1, max_size=12,
)
inputs = st.lists(st.floats(min_value=-2.0, max_value=2.0), min_size=1, max_size=3)


def run_program(program, leaves):
    """Apply the program's ops; every node may be reused by later steps (a DAG)."""
    nodes = list(leaves)
    for step in program:
        if step[0] == "u":
            _, op, i = step
            nodes.append(UNARY_OPS[op][1](nodes[i % len(nodes)]))
        else:
            _, op, i, j = step
            nodes.append(BINARY_OPS[op][1](nodes[i % len(nodes)], nodes[j % len(nodes)]))
    total = nodes[-1]
    for node in nodes[len(leaves):-1]:  # every intermediate reaches the output
        total = total + 0.1 * node
    return total


@settings(max_examples=60, deadline=None)
@given(program=steps, xs=inputs)
def test_reverse_equals_forward_equals_finite_differences(program, xs):
    leaves = [Value(x) for x in xs]
    out = run_program(program, leaves)
    assume(math.isfinite(out.data) and abs(out.data) < 1e6)
    out.backward()
    reverse = [v.grad for v in leaves]
    forward = gradient(lambda *ds: run_program(program, ds), xs)
    numeric = numerical_grad(lambda *vs: run_program(program, vs), [Value(x) for x in xs])
    assert reverse == pytest.approx(forward, rel=1e-9, abs=1e-12)
    assert reverse == pytest.approx(numeric, rel=1e-4, abs=1e-5)


@settings(max_examples=30, deadline=None)
@given(program=steps, xs=inputs, data=st.data())
def test_vjp_jvp_identity(program, xs, data):
    """<u, J v> from one forward pass equals <J^T u, v> from one reverse pass."""
    direction = data.draw(st.lists(st.floats(-1.0, 1.0), min_size=len(xs), max_size=len(xs)))
    leaves = [Value(x) for x in xs]
    out = run_program(program, leaves)
    assume(math.isfinite(out.data) and abs(out.data) < 1e6)
    out.backward(0.7)
    value, tangent = jvp(lambda *ds: run_program(program, ds), xs, direction)
    assert value == out.data
    assert 0.7 * tangent == pytest.approx(sum(v.grad * d for v, d in zip(leaves, direction)),
                                          rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("x", [-2.3, -0.4, 0.7, 3.1])
def test_dual_activation_matches_value(name, x):
    v = Value(x)
    out = getattr(v, name)()
    out.backward()
    d = getattr(Dual(x, 1.0), name)()
    assert d.value == out.data
    assert d.tangent == v.grad


def test_dual_edges_match_value():
    for build in (lambda a: a.log(), lambda a: a.sqrt(), lambda a: a ** 0.5,
                  lambda a: a.exp(), lambda a: 1 / a, lambda a: a.abs()):
        for x in (0.0, -1.0, 1e6):
            v = Value(x)
            out = build(v)
            out.backward()
            d = build(Dual(x, 1.0))
            assert d.value == out.data or (math.isnan(d.value) and math.isnan(out.data))
            same = d.tangent == v.grad or (math.isnan(d.tangent) and math.isnan(v.grad))
            assert same, (x, d, v)


def test_dual_arithmetic_and_errors():
    a = Dual(3.0, 1.0)
    assert (a * a).tangent == 6.0
    assert (2 * a + 1).tangent == 2.0
    assert (1 / a).tangent == pytest.approx(-1 / 9)
    assert (a ** 2).tangent == 6.0
    assert (2 ** a).tangent == pytest.approx(8 * math.log(2))
    assert (a - 5).value == -2.0 and (5 - a).tangent == -1.0
    with pytest.raises(TypeError, match="Dual value needs a real number"):
        Dual("x")
    with pytest.raises(ValueError, match="jvp: 2 values but 1 direction"):
        jvp(lambda a, b: a * b, [1.0, 2.0], [1.0])


def test_dual_checks_activation_calls_like_value():
    """The same boundary checks in both modes (an alpha is never silently ignored)."""
    for make in (Value, Dual):
        with pytest.raises(TypeError, match="leaky_relu alpha needs a real number, got str"):
            make(1.0).leaky_relu("big")  # x > 0 never reads alpha: still refused
        with pytest.raises(TypeError, match="elu alpha needs a real number, got bool"):
            make(-1.0).elu(True)
        with pytest.raises(TypeError, match="'relu' takes no alpha"):
            make(1.0).activation("relu", 0.1)
        with pytest.raises(ValueError, match="unknown activation 'swish'"):
            make(1.0).activation("swish")
        with pytest.raises(ValueError, match=r"unknown activation \['relu'\]"):
            make(1.0).activation(["relu"])


def test_nested_duals_print():
    # repr of a nested Dual (the second-derivative carrier) used to raise TypeError
    d = Dual(Dual(2.0, 1.0), Dual(1.0, 0.0)) ** 3
    assert repr(d) == ("Dual(value=Dual(value=8, tangent=12), "
                       "tangent=Dual(value=12, tangent=12))")
    assert f"{d:.2f}" == "8.00"
    assert repr(Dual(Value(1.5), 1.0)) == "Dual(value=1.5, tangent=1)"
