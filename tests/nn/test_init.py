"""vecgrad.nn.init: bounds and variances against the closed-form formulas, seeding, errors."""

import math

import numpy as np
import pytest

import vecgrad
from vecgrad.nn import init

from .helpers import device_name

SHAPE = (300, 200, 2, 2)  # fan_in = 800, fan_out = 1200; 240,000 draws
FAN_IN, FAN_OUT = 200 * 4, 300 * 4


def _sample(fill, device, *args, **kwargs):
    vecgrad.manual_seed(0)
    tensor = vecgrad.zeros(SHAPE, device=device, requires_grad=True)
    assert fill(tensor, *args, **kwargs) is tensor
    assert tensor.device == device_name(device) and tensor.dtype == np.float32 and tensor.is_leaf
    return tensor.numpy().astype(np.float64)


def _assert_uniform(values, bound):
    assert np.abs(values).max() <= bound * (1 + 1e-6)
    assert np.abs(values).max() > 0.999 * bound
    # var of U(-b, b) = b²/3; with 240k draws the relative error is well under 1%
    np.testing.assert_allclose(values.var(), bound**2 / 3, rtol=0.01)
    assert abs(values.mean()) < 0.01 * bound


def _assert_normal(values, std):
    np.testing.assert_allclose(values.std(), std, rtol=0.01)
    assert abs(values.mean()) < 0.01 * std
    # about 0.27% of normal draws lie beyond 3σ
    np.testing.assert_allclose((np.abs(values) > 3 * std).mean(), 0.0027, atol=0.0005)


def test_uniform_noise_is_small_and_symmetric(device):
    _assert_uniform(_sample(init.uniform_noise, device), 0.05)
    _assert_uniform(_sample(init.uniform_noise, device, scale=0.001), 0.001)


def test_xavier(device):
    _assert_uniform(_sample(init.xavier_uniform_, device), math.sqrt(6 / (FAN_IN + FAN_OUT)))
    _assert_uniform(_sample(init.xavier_uniform_, device, gain=2.0),
                    2 * math.sqrt(6 / (FAN_IN + FAN_OUT)))
    _assert_normal(_sample(init.xavier_normal_, device), math.sqrt(2 / (FAN_IN + FAN_OUT)))


def test_kaiming(device):
    _assert_uniform(_sample(init.kaiming_uniform_, device), math.sqrt(6 / FAN_IN))
    _assert_uniform(_sample(init.kaiming_uniform_, device, mode="fan_out"), math.sqrt(6 / FAN_OUT))
    _assert_normal(_sample(init.kaiming_normal_, device), math.sqrt(2 / FAN_IN))
    leaky = math.sqrt(2 / (1 + 0.2**2)) / math.sqrt(FAN_IN)
    _assert_normal(_sample(init.kaiming_normal_, device, a=0.2, nonlinearity="leaky_relu"), leaky)


def test_kaiming_uses_a_by_default_as_pytorch(device):
    # PyTorch's default nonlinearity is leaky_relu, so `a` alone changes the gain:
    # a = √5 is the recipe of torch's Linear, bound = √(6 / ((1 + 5) fan_in)) = 1/√fan_in.
    _assert_uniform(_sample(init.kaiming_uniform_, device, a=math.sqrt(5)),
                    1 / math.sqrt(FAN_IN))
    _assert_normal(_sample(init.kaiming_normal_, device, a=1.0), 1 / math.sqrt(FAN_IN))
    # relu ignores a
    _assert_normal(_sample(init.kaiming_normal_, device, a=1.0, nonlinearity="relu"),
                   math.sqrt(2 / FAN_IN))


def test_constants(device):
    assert (_sample(init.zeros_, device) == 0).all()
    assert (_sample(init.ones_, device) == 1).all()
    assert (_sample(init.constant_, device, 0.5) == 0.5).all()


def test_seeded_and_reproducible(device):
    a = _sample(init.xavier_normal_, device)
    b = _sample(init.xavier_normal_, device)
    np.testing.assert_array_equal(a, b)
    vecgrad.manual_seed(1)
    c = init.xavier_normal_(vecgrad.zeros(SHAPE, device=device)).numpy()
    assert not np.array_equal(a, c)


def test_gains_match_pytorch_table():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01**2))
    assert init.calculate_gain("selu") == 0.75
    assert init.calculate_gain("conv1d") == init.calculate_gain("conv_transpose2d") == 1.0
    with pytest.raises(ValueError, match="no standard gain for 'sinc'"):
        init.calculate_gain("sinc")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"xavier_uniform_: .*at least 2 dimensions, got shape \(5,\)"):
        init.xavier_uniform_(vecgrad.zeros(5))
    with pytest.raises(TypeError, match="needs a floating point tensor, got dtype int64"):
        init.uniform_noise(vecgrad.zeros(5, dtype=vecgrad.int64))
    with pytest.raises(TypeError, match="expected a vecgrad Tensor, got ndarray"):
        init.zeros_(np.zeros(3))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(vecgrad.zeros((2, 2)), mode="fan")


def test_argument_names_are_pytorchs():
    # init.uniform_(w, a=-0.1, b=0.1) and init.constant_(w, val=0.5) are PyTorch calls;
    # they were TypeErrors (low/high, value).
    t = vecgrad.zeros((50, 50))
    values = init.uniform_(t, a=-0.1, b=0.1).numpy()
    assert values.min() >= -0.1 and values.max() <= 0.1 and values.std() > 0.05
    assert (init.constant_(t, val=0.5).numpy() == 0.5).all()
    assert init.normal_(t, mean=3.0, std=0.0).numpy().mean() == 3.0
    with pytest.raises(ValueError, match="uniform_: need a <= b, got a=1, b=0"):
        init.uniform_(t, 1, 0)


@pytest.mark.parametrize("fill", [init.xavier_uniform_, init.xavier_normal_,
                                  init.kaiming_uniform_, init.kaiming_normal_])
@pytest.mark.parametrize("shape, mode", [((0, 0), "fan_in"), ((3, 0), "fan_in"),
                                         ((0, 3), "fan_out"), ((4, 0, 3), "fan_in")])
def test_a_tensor_without_elements_is_left_alone(device, fill, shape, mode):
    # PyTorch's no-op; the fan of 0 divided by zero (ZeroDivisionError)
    tensor = vecgrad.zeros(shape, device=device)
    options = {} if fill in (init.xavier_uniform_, init.xavier_normal_) else {"mode": mode}
    assert fill(tensor, **options) is tensor
    assert tensor.shape == shape
