"""The activation catalogue against lecture 002's formulas, central differences and limits."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalargrad.functions import ACTIVATIONS, Activation, activation

EXPECTED_NAMES = ["identity", "step", "sigmoid", "tanh", "arctan", "relu", "leaky_relu",
                  "elu", "softplus", "bent_identity", "soft_exponential", "sin", "cos",
                  "sinc", "gaussian"]


def _soft_exp_reference(x, a):
    """Lecture 002's three cases, written out independently."""
    if a < 0:
        return -math.log(1 - a * (x + a)) / a
    if a == 0:
        return x
    return (math.exp(a * x) - 1) / a + a


def _soft_exp_df_reference(x, a):
    if a < 0:
        return 1 / (1 - a * (x + a))
    return math.exp(a * x)


# name -> (f, f') straight from the lecture's table (valid on moderate inputs).
REFERENCE = {
    "identity": (lambda x, a: x, lambda x, a: 1.0),
    "step": (lambda x, a: 1.0 if x >= 0 else 0.0, lambda x, a: 0.0),
    "sigmoid": (lambda x, a: 1 / (1 + math.exp(-x)),
                lambda x, a: (1 / (1 + math.exp(-x))) * (1 - 1 / (1 + math.exp(-x)))),
    "tanh": (lambda x, a: (math.exp(x) - math.exp(-x)) / (math.exp(x) + math.exp(-x)),
             lambda x, a: 1 - ((math.exp(x) - math.exp(-x)) / (math.exp(x) + math.exp(-x))) ** 2),
    "arctan": (lambda x, a: math.atan(x), lambda x, a: 1 / (x * x + 1)),
    "relu": (lambda x, a: x if x >= 0 else 0.0, lambda x, a: 1.0 if x > 0 else 0.0),
    "leaky_relu": (lambda x, a: x if x >= 0 else a * x, lambda x, a: 1.0 if x > 0 else a),
    "elu": (lambda x, a: x if x > 0 else a * (math.exp(x) - 1),
            lambda x, a: 1.0 if x > 0 else a * math.exp(x)),
    "softplus": (lambda x, a: math.log(1 + math.exp(x)), lambda x, a: 1 / (1 + math.exp(-x))),
    "bent_identity": (lambda x, a: (math.sqrt(x * x + 1) - 1) / 2 + x,
                      lambda x, a: x / (2 * math.sqrt(x * x + 1)) + 1),
    "soft_exponential": (_soft_exp_reference, _soft_exp_df_reference),
    "sin": (lambda x, a: math.sin(x), lambda x, a: math.cos(x)),
    "cos": (lambda x, a: math.cos(x), lambda x, a: -math.sin(x)),
    "sinc": (lambda x, a: 1.0 if x == 0 else math.sin(x) / x,
             lambda x, a: 0.0 if x == 0 else math.cos(x) / x - math.sin(x) / x ** 2),
    "gaussian": (lambda x, a: math.exp(-x * x), lambda x, a: -2 * x * math.exp(-x * x)),
}

KINKED = {"step", "relu", "leaky_relu", "elu"}
# alphas each parametrised activation is checked with (soft_exponential: all 3 cases)
ALPHAS = {"leaky_relu": [0.01, 0.2], "elu": [1.0, 0.5], "soft_exponential": [-0.5, 0.0, 0.5, 1.3]}

moderate = st.floats(min_value=-8.0, max_value=8.0, allow_nan=False)


def _case_list():
    for name in EXPECTED_NAMES:
        for alpha in ALPHAS.get(name, [None]):
            yield pytest.param(name, alpha, id=f"{name}-{alpha}")


def test_catalogue_names_and_entries():
    assert list(ACTIVATIONS) == EXPECTED_NAMES
    for name, entry in ACTIVATIONS.items():
        assert isinstance(entry, Activation)
        assert entry.name == name
        assert entry.formula.startswith("f(")
    assert {n for n, e in ACTIVATIONS.items() if e.default_alpha is not None} == set(ALPHAS)
    assert ACTIVATIONS["leaky_relu"].default_alpha == 0.01
    assert ACTIVATIONS["elu"].default_alpha == 1.0
    assert ACTIVATIONS["soft_exponential"].default_alpha == 0.5


def test_entries_are_frozen():
    with pytest.raises(AttributeError):
        ACTIVATIONS["relu"].name = "other"


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*relu"):
        activation("swish")


CASES = list(_case_list())


def _in_domain(name, x, alpha):
    if name == "soft_exponential" and alpha is not None and alpha < 0:
        return 1 - alpha * (x + alpha) > 0.05
    return True


@pytest.mark.parametrize("name, alpha", CASES)
@settings(max_examples=40, deadline=None)
@given(x=moderate)
def test_matches_the_lecture_formulas(name, alpha, x):
    if not _in_domain(name, x, alpha):
        return
    entry = ACTIVATIONS[name]
    a = alpha if alpha is not None else entry.default_alpha
    f_ref, df_ref = REFERENCE[name]
    assert entry.f(x, alpha) == pytest.approx(f_ref(x, a), rel=1e-9, abs=1e-12)
    if name in KINKED and x == 0.0:
        return  # conventions at the kink are tested separately
    if name == "sinc" and abs(x) < 1e-2:
        return  # the closed form itself cancels here: test_sinc_derivative_near_zero
    assert entry.df(x, alpha) == pytest.approx(df_ref(x, a), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name, alpha", CASES)
@settings(max_examples=40, deadline=None)
@given(x=moderate)
def test_derivative_matches_central_differences(name, alpha, x):
    if name in KINKED and abs(x) < 1e-4:
        return  # not differentiable at 0: see test_kink_conventions
    if not _in_domain(name, x, alpha):
        return
    entry = ACTIVATIONS[name]
    h = 1e-6
    numeric = (entry.f(x + h, alpha) - entry.f(x - h, alpha)) / (2 * h)
    assert entry.df(x, alpha) == pytest.approx(numeric, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("x", [1e-9, -1e-9, 1e-4, -3e-4, 1e-3, 2e-3, 9.9e-3, 1.01e-2, 0.05])
def test_sinc_derivative_near_zero(x):
    """Near 0 the closed form cancels; compare with the Taylor series to 1e-12."""
    series = sum((-1) ** k * 2 * k * x ** (2 * k - 1) / math.factorial(2 * k + 1)
                 for k in range(1, 8))
    assert ACTIVATIONS["sinc"].df(x) == pytest.approx(series, rel=1e-12)


def test_kink_conventions():
    """PyTorch's choices at non-differentiable points."""
    assert ACTIVATIONS["relu"].df(0.0) == 0.0
    assert ACTIVATIONS["relu"].f(0.0) == 0.0
    assert ACTIVATIONS["leaky_relu"].df(0.0) == 0.01
    assert ACTIVATIONS["leaky_relu"].df(0.0, 0.2) == 0.2
    assert ACTIVATIONS["elu"].df(0.0) == 1.0
    assert ACTIVATIONS["elu"].df(0.0, 0.3) == 0.3
    assert ACTIVATIONS["step"].f(0.0) == 1.0
    assert ACTIVATIONS["step"].f(-1e-300) == 0.0
    for x in (-2.0, 0.0, 3.0):
        assert ACTIVATIONS["step"].df(x) == 0.0
    assert ACTIVATIONS["sinc"].f(0.0) == 1.0
    assert ACTIVATIONS["sinc"].df(0.0) == 0.0
    assert ACTIVATIONS["sigmoid"].df(0.0) == 0.25
    assert ACTIVATIONS["softplus"].df(0.0) == 0.5
    assert ACTIVATIONS["gaussian"].f(0.0) == 1.0


# (name, x, f(x), f'(x)) at huge inputs: the mathematical limit, never OverflowError.
LIMITS = [
    ("sigmoid", 1e6, 1.0, 0.0), ("sigmoid", -1e6, 0.0, 0.0),
    ("tanh", 1e6, 1.0, 0.0), ("tanh", -1e6, -1.0, 0.0),
    ("arctan", 1e6, math.pi / 2 - 1e-6, 1e-12), ("arctan", -1e6, -math.pi / 2 + 1e-6, 1e-12),
    ("softplus", 1e6, 1e6, 1.0), ("softplus", -1e6, 0.0, 0.0),
    ("elu", -1e6, -1.0, 0.0), ("elu", 1e6, 1e6, 1.0),
    ("relu", 1e6, 1e6, 1.0), ("relu", -1e6, 0.0, 0.0),
    ("leaky_relu", -1e6, -1e4, 0.01),
    ("gaussian", 1e6, 0.0, 0.0), ("gaussian", -1e6, 0.0, 0.0),
    ("sinc", 1e6, math.sin(1e6) / 1e6, None),
    ("bent_identity", 1e6, 1.5e6 - 0.5, 1.5), ("bent_identity", -1e6, -0.5e6 - 0.5, 0.5),
    ("bent_identity", -math.inf, -math.inf, 0.5),  # was inf - inf = nan
    ("bent_identity", math.inf, math.inf, 1.5),
    ("soft_exponential", 1e6, math.inf, math.inf),
    ("soft_exponential", -1e6, -1.5, 0.0),
    ("step", 1e6, 1.0, 0.0), ("identity", -1e6, -1e6, 1.0),
]


@pytest.mark.parametrize("name, x, value, slope", LIMITS)
def test_extreme_inputs_give_the_limit(name, x, value, slope):
    entry = ACTIVATIONS[name]
    assert entry.f(x) == pytest.approx(value, rel=1e-9, abs=1e-12)
    if slope is not None:
        assert entry.df(x) == pytest.approx(slope, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("name", EXPECTED_NAMES)
@pytest.mark.parametrize("x", [1e6, -1e6, 1e300, -1e300, math.inf, -math.inf, math.nan])
def test_never_raises(name, x):
    entry = ACTIVATIONS[name]
    for alpha in ALPHAS.get(name, [None]):
        assert isinstance(entry.f(x, alpha), float)
        assert isinstance(entry.df(x, alpha), float)


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_huge_finite_inputs_give_no_nan(name):
    """Finite in, no nan out: e.g. gaussian'(1e308) is 0, not -2e308 * 0 = -inf * 0."""
    entry = ACTIVATIONS[name]
    for alpha in ALPHAS.get(name, [None]):
        for x in (1e308, -1e308, 1e154, -1e154, 5e-324, -5e-324):
            if not _in_domain(name, x, alpha):
                continue  # soft_exponential with alpha < 0 is a log: nan outside
            assert not math.isnan(entry.f(x, alpha)), (x, alpha)
            assert not math.isnan(entry.df(x, alpha)), (x, alpha)


def test_nan_propagates():
    for name, entry in ACTIVATIONS.items():
        assert math.isnan(entry.f(math.nan)), name


def test_soft_exponential_outside_its_log_domain():
    """alpha < 0 is a log: -inf at the boundary 1 - a(x + a) = 0, nan beyond it."""
    se = ACTIVATIONS["soft_exponential"]
    boundary = (1 - 0.5 ** 2) / -0.5  # 1 - a(x + a) = 0 at x = (1 - a^2) / a = -1.5
    assert se.f(boundary, -0.5) == -math.inf
    assert se.df(boundary, -0.5) == math.inf
    assert math.isnan(se.f(boundary - 1, -0.5))
    assert math.isnan(se.df(boundary - 1, -0.5))


def test_bent_identity_near_zero_keeps_its_square_term():
    # (hypot(x, 1) - 1) / 2 + x cancelled: f(1e-8) came out as 1e-8 exactly
    f = ACTIVATIONS["bent_identity"].f
    for x in (1e-8, -1e-8, 1e-4, 0.3):
        exact = x + x * x / 4 - x ** 4 / 16  # the series, to the last digit needed
        assert f(x) == pytest.approx(exact, rel=2e-16 if abs(x) < 1e-3 else 1e-4)
    assert f(1e-8) != 1e-8
