"""Conv1d/Conv2d (groups, "same", padding_mode), ConvTranspose1d/2d, the 1-D and 2-D pools,
adaptive average pooling and Upsample as layers: gradients against central differences,
and state_dict keys, shapes, outputs and gradients against torch's layers."""

import numpy as np
import pytest

import vecgrad
from vecgrad import nn

from .torch_parity import check_module_against_torch
from .test_layers import _check_gradients

RNG = np.random.default_rng(8)


@pytest.mark.parametrize("kwargs", [
    dict(), dict(stride=2, padding=1, bias=False), dict(dilation=2, padding="same", groups=2),
    dict(padding=2, padding_mode="reflect"), dict(padding="same", padding_mode="circular")])
def test_conv1d_layer(device, kwargs):
    layer = nn.Conv1d(4, 6, 3, **kwargs)
    assert layer.weight.shape == (6, 4 // kwargs.get("groups", 1), 3)
    x = RNG.standard_normal((2, 4, 9))
    out = check_module_against_torch(layer, lambda torch: torch.nn.Conv1d(4, 6, 3, **kwargs),
                                     x, device)
    if kwargs.get("padding") == "same":
        assert out.shape == (2, 6, 9)


def test_conv1d_layer_gradients(device):
    layer = nn.Conv1d(2, 3, 3, padding=1, padding_mode="replicate").to(vecgrad.float64)
    _check_gradients(layer.to(device), RNG.standard_normal((1, 2, 5)), device)


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note about its copy
@pytest.mark.parametrize("kwargs", [
    dict(groups=3, padding=(1, 0)), dict(padding="same", kernel_size=(2, 3)),
    dict(padding=1, padding_mode="replicate", stride=2)])
def test_conv2d_layer(device, kwargs):
    kwargs = dict(kwargs)
    kernel = kwargs.pop("kernel_size", 3)
    layer = nn.Conv2d(3, 6, kernel, **kwargs)
    x = RNG.standard_normal((2, 3, 5, 6))
    check_module_against_torch(layer, lambda torch: torch.nn.Conv2d(3, 6, kernel, **kwargs),
                               x, device)


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=1, output_padding=1),
                                    dict(groups=2, dilation=2, bias=False)])
def test_conv_transpose_layers(device, kwargs):
    layer = nn.ConvTranspose2d(4, 2, (3, 2), **kwargs)
    assert layer.weight.shape == (4, 2 // kwargs.get("groups", 1), 3, 2)
    check_module_against_torch(layer, lambda torch: torch.nn.ConvTranspose2d(4, 2, (3, 2),
                                                                             **kwargs),
                               RNG.standard_normal((2, 4, 3, 4)), device)
    layer = nn.ConvTranspose1d(4, 2, 3, **kwargs)
    check_module_against_torch(layer, lambda torch: torch.nn.ConvTranspose1d(4, 2, 3, **kwargs),
                               RNG.standard_normal((2, 4, 5)), device)


def test_conv_transpose_whose_output_is_only_the_output_padding(device):
    # (L - 1)s - 2p + d(k - 1) + 1 = 0 here, and output_padding adds the one output
    # position back: PyTorch computes it, we used to refuse ("leaves no output").
    layer = nn.ConvTranspose1d(1, 1, 4, stride=2, padding=2, output_padding=1)
    layer.to(vecgrad.float64).to(device)
    out = layer(vecgrad.tensor([[[3.0]]], dtype=vecgrad.float64, device=device))
    # the full (uncropped) output is 3·w[0..3]; cropping 2 on the left keeps index 2
    expected = 3.0 * layer.weight.numpy()[0, 0, 2] + layer.bias.numpy()[0]
    np.testing.assert_allclose(out.numpy(), [[[expected]]], rtol=1e-15)
    layer = nn.ConvTranspose2d(4, 4, 2, stride=(3, 2), padding=1, dilation=(2, 1), groups=2,
                               output_padding=(0, 1))
    check_module_against_torch(layer, lambda torch: torch.nn.ConvTranspose2d(
        4, 4, 2, stride=(3, 2), padding=1, dilation=(2, 1), groups=2, output_padding=(0, 1)),
        RNG.standard_normal((1, 4, 7, 1)), device)


def test_conv_transpose_of_an_empty_length_is_refused_as_in_pytorch(device):
    # (0 - 1)s - 2p + d(k - 1) + 1 gave a (1, 3, 1) output of the bias alone for a
    # length-0 input (PyTorch: "Only zero batch or zero channel inputs are supported");
    # an output of length 0 stays an error, as PyTorch's "Output size is too small"
    x = vecgrad.zeros(1, 2, 0, device=device)
    with pytest.raises(ValueError, match=r"conv_transpose1d: input of 1x0 has an empty"):
        nn.ConvTranspose1d(2, 3, 2).to(device)(x)
    with pytest.raises(ValueError, match=r"conv_transpose2d: input of 0x2 has an empty"):
        nn.ConvTranspose2d(2, 3, 2).to(device)(vecgrad.zeros(1, 2, 0, 2, device=device))
    with pytest.raises(ValueError, match="leaves no output"):
        nn.ConvTranspose1d(2, 3, 2, padding=1).to(device)(vecgrad.zeros(1, 2, 1, device=device))
    empty_batch = nn.ConvTranspose1d(2, 3, 2).to(device)(vecgrad.zeros(0, 2, 3, device=device))
    assert empty_batch.shape == (0, 3, 4)


def test_conv_transpose_output_size(device):
    layer = nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1).to(device)
    x = vecgrad.zeros(1, 2, 4, 4, device=device)
    assert layer(x).shape == (1, 2, 7, 7)
    assert layer(x, output_size=(8, 8)).shape == (1, 2, 8, 8)
    assert layer(x, output_size=(1, 2, 8, 7)).shape == (1, 2, 8, 7)
    with pytest.raises(ValueError, match=r"output_size \(10, 10\) is not reachable"):
        layer(x, output_size=(10, 10))


@pytest.mark.parametrize("make", [
    lambda nn: nn.MaxPool1d(3, 2, 1, dilation=2, ceil_mode=True),
    lambda nn: nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False),
    lambda nn: nn.MaxPool2d((3, 2), 2, (1, 0), ceil_mode=True),
    lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
    lambda nn: nn.AvgPool2d(2, divisor_override=3),
    lambda nn: nn.AdaptiveAvgPool1d(4), lambda nn: nn.AdaptiveAvgPool2d((3, 2)),
    lambda nn: nn.AdaptiveAvgPool2d(1),
    lambda nn: nn.Upsample(scale_factor=2), lambda nn: nn.Upsample(size=(5, 4), mode="bilinear"),
    lambda nn: nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True)])
def test_pooling_and_resampling_layers(device, make):
    layer = make(nn)
    one_d = type(layer).__name__.endswith("1d")
    x = RNG.permutation(2 * 3 * 7 * (1 if one_d else 6)).reshape(
        (2, 3, 7) if one_d else (2, 3, 7, 6)) / 10.0
    check_module_against_torch(layer, lambda torch: make(torch.nn), x, device)


def test_layer_errors_are_named():
    with pytest.raises(ValueError, match=r"Conv1d: expected input \(N, 4, L\), got \(1, 3, 8\)"):
        nn.Conv1d(4, 2, 3)(vecgrad.zeros(1, 3, 8))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        nn.Conv1d(4, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(4, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="only padding_mode='zeros'"):
        nn.ConvTranspose2d(4, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="MaxPool1d: padding .* at most half"):
        nn.MaxPool1d(2, padding=2)
    with pytest.raises(ValueError, match=r"ConvTranspose1d: expected input \(N, 4, L\)"):
        nn.ConvTranspose1d(4, 2, 3)(vecgrad.zeros(1, 4, 2, 2))


def test_reprs():
    assert repr(nn.Conv1d(2, 4, 3, padding="same", groups=2)) == \
        "Conv1d(2, 4, kernel_size=(3,), stride=(1,), padding='same', dilation=(1,), groups=2, " \
        "bias=True)"
    assert repr(nn.MaxPool1d(2)) == \
        "MaxPool1d(kernel_size=(2,), stride=(2,), padding=(0,), ceil_mode=False, dilation=(1,))"
    assert repr(nn.AdaptiveAvgPool2d(1)) == "AdaptiveAvgPool2d(output_size=1)"
