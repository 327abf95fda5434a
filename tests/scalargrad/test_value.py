"""Every Value op: forward value, derivative vs central differences, edge behaviour."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalargrad import ACTIVATIONS, Value
from scalargrad.gradcheck import gradcheck, numerical_grad

finite = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False)
positive = st.floats(min_value=0.1, max_value=10.0)
away_from_zero = finite.filter(lambda x: abs(x) > 0.05)


def _grads(f, *xs):
    """(analytic, numeric) gradients of f at xs."""
    values = [Value(x) for x in xs]
    out = f(*values)
    out.backward()
    return [v.grad for v in values], numerical_grad(f, [Value(x) for x in xs])


def _assert_grads_match(f, *xs):
    analytic, numeric = _grads(f, *xs)
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-6)


BINARY = {
    "add": (lambda a, b: a + b, finite, finite),
    "sub": (lambda a, b: a - b, finite, finite),
    "mul": (lambda a, b: a * b, finite, finite),
    "div": (lambda a, b: a / b, finite, away_from_zero),
    "pow": (lambda a, b: a ** b, positive, st.floats(min_value=-3.0, max_value=3.0)),
}

UNARY = {
    "neg": (lambda a: -a, finite),
    "pos": (lambda a: +a + 0.0, finite),
    "exp": (lambda a: a.exp(), finite),
    "log": (lambda a: a.log(), positive),
    "sqrt": (lambda a: a.sqrt(), positive),
    "abs": (lambda a: a.abs(), away_from_zero),
    "builtin_abs": (lambda a: abs(a), away_from_zero),
    "square": (lambda a: a ** 2, finite),
    "cube": (lambda a: a ** 3, finite),
    "inverse": (lambda a: a ** -1, away_from_zero),
    "root": (lambda a: a ** 0.5, positive),
    "radd": (lambda a: 2.5 + a, finite),
    "rsub": (lambda a: 2.5 - a, finite),
    "rmul": (lambda a: 2.5 * a, finite),
    "rdiv": (lambda a: 2.5 / a, away_from_zero),
    "rpow": (lambda a: 2.5 ** a, finite),
    "number_rhs": (lambda a: (a + 1) * 3 - 4 / (a * a + 1), finite),
}


@pytest.mark.parametrize("name", list(BINARY))
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_binary_op_gradients(name, data):
    f, sa, sb = BINARY[name]
    _assert_grads_match(f, data.draw(sa), data.draw(sb))


@pytest.mark.parametrize("name", list(UNARY))
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_unary_op_gradients(name, data):
    f, strategy = UNARY[name]
    _assert_grads_match(f, data.draw(strategy))


def test_forward_values():
    a, b = Value(3.0), Value(-2.0)
    assert (a + b).data == 1.0
    assert (a - b).data == 5.0
    assert (a * b).data == -6.0
    assert (a / b).data == -1.5
    assert (a ** b).data == pytest.approx(1 / 9)
    assert (b ** 2).data == 4.0
    assert (2 ** a).data == 8.0
    assert (1 - a).data == -2.0
    assert (6 / a).data == 2.0
    assert (-a).data == -3.0
    assert a.exp().data == pytest.approx(math.e ** 3)
    assert a.log().data == pytest.approx(math.log(3))
    assert Value(16.0).sqrt().data == 4.0
    assert b.abs().data == 2.0


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@settings(max_examples=20, deadline=None)
@given(x=finite)
def test_activation_methods_use_the_catalogue(name, x):
    entry = ACTIVATIONS[name]
    v = Value(x)
    out = getattr(v, name)()
    out.backward()
    assert out.op == name
    assert out.data == entry.f(x)
    assert v.grad == entry.df(x)


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "soft_exponential"])
def test_activation_alpha_is_used(name):
    v = Value(-0.7)
    out = getattr(v, name)(alpha=0.3)
    out.backward()
    assert out.data == ACTIVATIONS[name].f(-0.7, 0.3)
    assert v.grad == ACTIVATIONS[name].df(-0.7, 0.3)
    assert out.data != getattr(Value(-0.7), name)().data


@pytest.mark.parametrize("x", [-1.0, -1e-12, 0.0, 1e-12, 2.0])
def test_relu_and_abs_kinks(x):
    """relu'(0) = 0 and abs'(0) = 0 (PyTorch); one-sided elsewhere."""
    v = Value(x)
    v.relu().backward()
    assert v.grad == (1.0 if x > 0 else 0.0)
    w = Value(x)
    w.abs().backward()
    assert w.grad == (1.0 if x > 0 else (-1.0 if x < 0 else 0.0))


def test_relu_tanh_fast_paths_match_catalogue():
    for x in (-3.0, -0.0, 0.0, 0.5, 40.0, math.nan):
        for name in ("relu", "tanh"):
            out = getattr(Value(x), name)()
            ref = ACTIVATIONS[name]
            if math.isnan(x):
                assert math.isnan(out.data)
            else:
                assert out.data == ref.f(x) and out.local == (ref.df(x),)


# ----- edges: no exceptions, PyTorch's values -------------------------------------------

def test_exp_overflow_is_inf_not_error():
    """exp(1e6) = inf (Python's math.exp would raise OverflowError)."""
    v = Value(1e6)
    out = v.exp()
    out.backward()
    assert out.data == math.inf
    assert v.grad == math.inf
    assert Value(-1e6).exp().data == 0.0


def test_log_of_zero_and_negative():
    """log(0) = -inf with derivative inf; log(x < 0) = nan (derivative 1/x, as PyTorch)."""
    z = Value(0.0)
    out = z.log()
    out.backward()
    assert out.data == -math.inf
    assert z.grad == math.inf
    n = Value(-2.0)
    out = n.log()
    out.backward()
    assert math.isnan(out.data)
    assert n.grad == -0.5


def test_sqrt_edges():
    """sqrt(-1) = nan; sqrt'(0) = inf."""
    assert math.isnan(Value(-1.0).sqrt().data)
    z = Value(0.0)
    z.sqrt().backward()
    assert z.grad == math.inf


def test_negative_base_to_non_integer_power_is_nan():
    """(-8) ** (1/3) is nan as in PyTorch (Python would return a complex number)."""
    out = Value(-8.0) ** (1 / 3)
    assert isinstance(out.data, float) and math.isnan(out.data)
    assert (Value(-2.0) ** 3).data == -8.0  # integer powers of negatives are fine
    assert (Value(-2.0) ** 2.0).data == 4.0
    assert math.isnan(((-8.0) ** Value(0.5)).data)


def test_pow_edges():
    """0 ** -1 = inf; overflowing powers are +-inf; x ** 0 has derivative 0."""
    assert (Value(0.0) ** -1).data == math.inf
    assert (Value(10.0) ** 400).data == math.inf
    assert (Value(-10.0) ** 401).data == -math.inf
    x = Value(0.0)
    (x ** 0).backward()
    assert x.grad == 0.0
    base, exponent = Value(0.0), Value(2.0)
    (base ** exponent).backward()
    assert exponent.grad == 0.0  # PyTorch: d(0**b)/db = 0 for b >= 0
    assert base.grad == 0.0


def test_division_by_zero_is_ieee():
    """1/0 = inf, -1/0 = -inf, 0/0 = nan (no ZeroDivisionError)."""
    assert (Value(1.0) / 0.0).data == math.inf
    assert (Value(-1.0) / 0).data == -math.inf
    assert math.isnan((Value(0.0) / Value(0.0)).data)


@pytest.mark.parametrize("name", list(ACTIVATIONS) + ["exp", "log", "sqrt", "abs"])
def test_huge_inputs_never_raise(name):
    for x in (1e6, -1e6, 1e308, -1e308):
        out = getattr(Value(x), name)()
        out.backward()
        assert isinstance(out.data, float)


# ----- API details ----------------------------------------------------------------------

def test_attributes_and_repr():
    x = Value(2, label="x")
    y = x * 3
    assert isinstance(x.data, float) and x.data == 2.0
    assert x.grad == 0.0 and x.parents == () and x.op == "" and x.label == "x"
    assert y.op == "*" and isinstance(y.parents, tuple) and y.parents[0] is x
    assert y.parents[1].data == 3.0
    assert y.local == (3.0, 2.0)
    assert repr(x) == "Value('x', data=2, grad=0)"


def test_parents_keep_operand_order():
    a, b = Value(1.0), Value(2.0)
    assert (a - b).parents == (a, b)
    assert (b - a).parents == (b, a)
    assert (5 - a).parents[1] is a


@pytest.mark.parametrize("bad", ["3", None, [1.0], 1j, True])
def test_constructor_rejects_non_numbers(bad):
    with pytest.raises(TypeError, match="Value needs a real number"):
        Value(bad)


def test_huge_int_is_a_clear_error():
    with pytest.raises(ValueError, match="too large for a float"):
        Value(10 ** 400)
    # 5001 digits: the message must not try to print them (Python refuses > 4300)
    with pytest.raises(ValueError, match="Value: an int of about 5001 digits is too large"):
        Value(10 ** 5000)
    with pytest.raises(ValueError, match="Value operand: an int of about 401 digits"):
        Value(1.0) + 10 ** 400
    with pytest.raises(ValueError, match="exponent: an int of about 401 digits"):
        Value(2.0) ** 10 ** 400


def test_unsupported_operands_raise_type_error():
    with pytest.raises(TypeError):
        Value(1.0) + "a"
    with pytest.raises(TypeError):
        "a" * Value(1.0)
    with pytest.raises(TypeError):
        Value(1.0) ** "2"


def test_unknown_activation_and_bad_alpha():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        Value(1.0).activation("swish")
    with pytest.raises(TypeError, match="'relu' takes no alpha"):
        Value(1.0).activation("relu", 0.1)
    with pytest.raises(TypeError, match="leaky_relu alpha needs a real number"):
        Value(1.0).leaky_relu(alpha="big")


def test_numerical_grad_restores_data_and_validates():
    x = Value(1.5)
    assert numerical_grad(lambda v: v * v, [x]) == pytest.approx([3.0], rel=1e-8)
    assert x.data == 1.5
    with pytest.raises(TypeError, match=r"values\[0\] is float"):
        numerical_grad(lambda v: v, [1.0])
    with pytest.raises(ValueError, match="eps must be a positive"):
        numerical_grad(lambda v: v, [x], eps=0)
    for bad in (True, math.nan, math.inf, -1e-6, "1e-6"):
        with pytest.raises(ValueError, match="eps must be a positive"):
            numerical_grad(lambda v: v, [x], eps=bad)
    # numpy's scalars are real numbers too (they were refused as not positive)
    np = pytest.importorskip("numpy")
    for eps in (np.float64(1e-6), np.float32(1e-4), 1):
        (g,) = numerical_grad(lambda v: v * v, [x], eps=eps)
        assert type(g) is float and g == pytest.approx(3.0, rel=1e-8)


def test_gradcheck_reports_a_wrong_derivative():
    """gradcheck itself must catch an engine bug: a node with a wrong local derivative."""
    def wrong(v):
        out = v * v
        out._da = 0.0  # sabotage d(out)/d(first operand)
        return out

    assert gradcheck(lambda v: v * v, [Value(1.5)]) == []
    mismatches = gradcheck(wrong, [Value(1.5)])
    assert len(mismatches) == 1 and mismatches[0][0] == 0


def test_label_must_be_text():
    with pytest.raises(TypeError, match="Value label must be a str or None, got int"):
        Value(1.0, label=3)
