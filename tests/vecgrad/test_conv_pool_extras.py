"""conv1d, grouped and "same" conv2d, conv_transpose, pools with dilation / ceil_mode /
count_include_pad, pad, interpolate and adaptive average pooling.

Each op: backward against central differences on every test device, forward against an
independent numpy loop, and, when torch is installed, forward and every gradient against
torch in float64 (the torch part skips cleanly without it).
"""

import numpy as np
import pytest

import vecgrad
import vecgrad.nn.functional as F
from vg_helpers import gradcheck


def torch_check(ours, theirs, arrays, device, **kwargs):
    """ours(*tensors) and theirs(torch, *torch_tensors): same value and same gradients
    (float64, one random upstream gradient) - skipped without torch."""
    torch = pytest.importorskip("torch")
    leaves = [vecgrad.tensor(a, dtype=vecgrad.float64, device=device, requires_grad=True)
              for a in arrays]
    refs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, ref = ours(*leaves, **kwargs), theirs(torch, *refs, **kwargs)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = np.random.default_rng(7).standard_normal(out.shape)
    out.backward(vecgrad.tensor(w, device=device))
    ref.backward(torch.tensor(w))
    for i, (leaf, r) in enumerate(zip(leaves, refs)):
        np.testing.assert_allclose(leaf.grad.numpy(), r.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"gradient of input {i}")


def naive_conv1d(x, w, b, stride, padding, dilation, groups):
    n, c, length = x.shape
    o, cg, k = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    out_len = (length + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    out = np.zeros((n, o, out_len))
    per_group = o // groups
    for oc in range(o):
        g = oc // per_group
        for t in range(out_len):
            taps = xp[:, g * cg:(g + 1) * cg, t * stride:t * stride + dilation * (k - 1) + 1:dilation]
            out[:, oc, t] = np.einsum("nck,ck->n", taps, w[oc])
    return out + (0 if b is None else b[None, :, None])


RNG = np.random.default_rng(11)


@pytest.mark.parametrize("stride, padding, dilation, groups, bias", [
    (1, 0, 1, 1, True), (2, 1, 1, 1, False), (1, 2, 2, 1, True), (3, 0, 1, 2, True),
    (1, 1, 2, 4, False)])
def test_conv1d_against_loops_and_differences(device, stride, padding, dilation, groups, bias):
    x = RNG.standard_normal((1, 4, 7))
    w = RNG.standard_normal((4, 4 // groups, 3))
    b = RNG.standard_normal(4)
    args = [x, w, b] if bias else [x, w]

    def conv(*t):
        return F.conv1d(t[0], t[1], t[2] if bias else None, stride, padding, dilation, groups)

    result = gradcheck(conv, args, device, atol=1e-5)
    np.testing.assert_allclose(
        result.numpy(), naive_conv1d(x, w, b if bias else None, stride, padding, dilation,
                                     groups), rtol=1e-10, atol=1e-10)


def test_conv2d_groups_and_same_padding(device):
    x = RNG.standard_normal((1, 6, 4, 5))
    w = RNG.standard_normal((4, 3, 3, 2))
    b = RNG.standard_normal(4)
    out = gradcheck(lambda *t: F.conv2d(*t, groups=2), [x, w, b], device, atol=1e-5)
    assert out.shape == (1, 4, 2, 4)
    # "same" with an even kernel: the extra zero goes after, so shapes match the input
    same = gradcheck(lambda *t: F.conv2d(*t, padding="same", dilation=(1, 3)), [x[:, :3], w],
                     device, atol=1e-5)
    assert same.shape == (1, 4, 4, 5)
    valid = F.conv2d(vecgrad.tensor(x[:, :3]), vecgrad.tensor(w), padding="valid")
    assert valid.shape == (1, 4, 2, 4)
    # depthwise (groups = channels) equals one conv per channel
    dw = RNG.standard_normal((6, 1, 3, 3))
    got = F.conv2d(vecgrad.tensor(x, device=device), vecgrad.tensor(dw, device=device),
                   groups=6, padding=1).numpy()
    for ch in range(6):
        one = F.conv2d(vecgrad.tensor(x[:, ch:ch + 1]), vecgrad.tensor(dw[ch:ch + 1]), padding=1)
        np.testing.assert_allclose(got[:, ch:ch + 1], one.numpy(), rtol=1e-5, atol=1e-5)


def test_conv_transpose_is_the_adjoint_of_conv(device):
    """<conv(x), y> = <x, conv_transpose(y)> for the same weight: the definition."""
    f64 = vecgrad.float64
    for stride, padding, dilation, groups in [(1, 0, 1, 1), (2, 1, 1, 1), (2, 0, 2, 2),
                                              (3, 1, 1, 2)]:
        x = RNG.standard_normal((2, 4, 7, 8))
        w = RNG.standard_normal((6, 4 // groups, 3, 2))
        y_shape = F.conv2d(vecgrad.tensor(x), vecgrad.tensor(w), stride=stride,
                           padding=padding, dilation=dilation, groups=groups).shape
        y = RNG.standard_normal(y_shape)
        conv = F.conv2d(vecgrad.tensor(x, f64, device=device),
                        vecgrad.tensor(w, f64, device=device), stride=stride, padding=padding, dilation=dilation, groups=groups)
        # output_padding recovers the rows and columns that the stride dropped
        extra = tuple((x.shape[2 + i] + 2 * padding - dilation * ((3, 2)[i] - 1) - 1) % stride
                      for i in range(2))
        back = F.conv_transpose2d(vecgrad.tensor(y, f64, device=device),
                                  vecgrad.tensor(w, f64, device=device), stride=stride,
                                  padding=padding, output_padding=extra, groups=groups,
                                  dilation=dilation)
        assert back.shape == x.shape
        np.testing.assert_allclose(np.sum(conv.numpy() * y), np.sum(x * back.numpy()),
                                   rtol=1e-10)


@pytest.mark.parametrize("stride, padding, output_padding, groups, dilation", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (2, 0, 0, 2, 2), (3, 1, 2, 1, 1), (1, 1, 1, 2, 3),
    (2, 2, (0, 2), 1, 3)])
def test_conv_transpose2d_gradients(device, stride, padding, output_padding, groups, dilation):
    x = RNG.standard_normal((1, 4, 3, 3))
    w = RNG.standard_normal((4, 4 // groups, 2, 3))
    b = RNG.standard_normal(4)
    gradcheck(lambda *t: F.conv_transpose2d(*t, stride=stride, padding=padding,
                                            output_padding=output_padding, groups=groups,
                                            dilation=dilation), [x, w, b], device, atol=1e-5)
    torch_check(lambda *t: F.conv_transpose2d(*t, stride=stride, padding=padding,
                                              output_padding=output_padding, groups=groups,
                                              dilation=dilation),
                lambda torch, *t: torch.nn.functional.conv_transpose2d(
                    *t, stride=stride, padding=padding, output_padding=output_padding,
                    groups=groups, dilation=dilation), [x, w, b], device)


def test_conv_transpose1d(device):
    x, w, b = RNG.standard_normal((2, 2, 5)), RNG.standard_normal((2, 3, 3)), RNG.standard_normal(3)
    out = gradcheck(lambda *t: F.conv_transpose1d(*t, stride=2, padding=1, output_padding=1),
                    [x, w, b], device, atol=1e-5)
    assert out.shape == (2, 3, 10)
    torch_check(lambda *t: F.conv_transpose1d(*t, stride=2, padding=1, output_padding=1),
                lambda torch, *t: torch.nn.functional.conv_transpose1d(
                    *t, stride=2, padding=1, output_padding=1), [x, w, b], device)


def naive_pool2d(x, k, s, p, d, ceil_mode, reduce, pad_value):
    """Windows read straight off a padded copy; partial ceil windows clipped to it."""
    n, c, h, w = x.shape

    def length(size, kk, ss, pp, dd):
        out = -(-(size + 2 * pp - dd * (kk - 1) - 1) // ss) + 1 if ceil_mode else \
            (size + 2 * pp - dd * (kk - 1) - 1) // ss + 1
        if ceil_mode and (out - 1) * ss >= size + pp:
            out -= 1
        return out

    oh, ow = length(h, k[0], s[0], p[0], d[0]), length(w, k[1], s[1], p[1], d[1])
    big = np.full((n, c, h + 2 * p[0] + k[0] * d[0] + s[0], w + 2 * p[1] + k[1] * d[1] + s[1]),
                  np.nan)
    big[:, :, :h + 2 * p[0], :w + 2 * p[1]] = pad_value
    big[:, :, p[0]:p[0] + h, p[1]:p[1] + w] = x
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = big[:, :, i * s[0]:i * s[0] + d[0] * (k[0] - 1) + 1:d[0],
                         j * s[1]:j * s[1] + d[1] * (k[1] - 1) + 1:d[1]]
            out[:, :, i, j] = reduce(window.reshape(n, c, -1))
    return out


def _nanmax(w):
    return np.nanmax(w, axis=2)


def _nanmean(w):  # count_include_pad=True: padding cells hold 0, beyond them nan
    return np.nanmean(w, axis=2)


@pytest.mark.parametrize("k, s, p, d, ceil_mode", [
    ((2, 2), (2, 2), (0, 0), (1, 1), True), ((3, 2), (2, 1), (1, 1), (2, 1), False),
    ((3, 3), (2, 2), (1, 0), (1, 2), True), ((2, 3), (3, 2), (1, 1), (1, 1), True)])
def test_max_pool2d_dilation_and_ceil_mode(device, k, s, p, d, ceil_mode):
    x = np.random.default_rng(3).permutation(2 * 7 * 6).reshape(1, 2, 7, 6) / 9.0
    out = gradcheck(lambda t: F.max_pool2d(t, k, s, p, d, ceil_mode), [x], device, atol=1e-5)
    np.testing.assert_array_equal(out.numpy(),
                                  naive_pool2d(x, k, s, p, d, ceil_mode, _nanmax, -np.inf))
    torch_check(lambda t: F.max_pool2d(t, k, s, p, d, ceil_mode),
                lambda torch, t: torch.nn.functional.max_pool2d(t, k, s, p, d, ceil_mode),
                [x], device)


def test_max_pool_ties_give_the_first_maximum_the_gradient(device):
    x = vecgrad.tensor([[[[1.0, 1.0, 0.0], [1.0, 0.5, 2.0]]]], device=device, requires_grad=True)
    F.max_pool2d(x, (2, 2), stride=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]]])


@pytest.mark.parametrize("k, s, p, ceil_mode, include", [
    ((2, 2), (2, 2), (1, 1), True, True), ((3, 2), (2, 2), (1, 1), True, False),
    ((3, 3), (2, 1), (1, 0), False, False), ((2, 2), (3, 3), (0, 0), True, True)])
def test_avg_pool2d_ceil_mode_and_count_include_pad(device, k, s, p, ceil_mode, include):
    x = np.random.default_rng(5).standard_normal((1, 2, 7, 6))
    out = gradcheck(lambda t: F.avg_pool2d(t, k, s, p, ceil_mode, include), [x], device,
                    atol=1e-5)
    if include:
        want = naive_pool2d(x, k, s, p, (1, 1), ceil_mode, _nanmean, 0.0)
    else:
        want = naive_pool2d(x, k, s, p, (1, 1), ceil_mode, _nanmean, np.nan)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12)
    torch_check(lambda t: F.avg_pool2d(t, k, s, p, ceil_mode, include),
                lambda torch, t: torch.nn.functional.avg_pool2d(t, k, s, p, ceil_mode, include),
                [x], device)
    got = F.avg_pool2d(vecgrad.tensor(x, device=device), k, s, p, ceil_mode, include,
                       divisor_override=5).numpy()
    sums = F.avg_pool2d(vecgrad.tensor(x, device=device), k, s, p, ceil_mode, include,
                        divisor_override=1).numpy()
    np.testing.assert_allclose(got * 5, sums, rtol=1e-12)


def test_pools_1d(device):
    x = np.random.default_rng(6).permutation(2 * 11).reshape(1, 2, 11) / 5.0
    out = gradcheck(lambda t: F.max_pool1d(t, 3, 2, 1, 2, True), [x], device, atol=1e-5)
    want = naive_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1), (1, 2), True, _nanmax, -np.inf)
    np.testing.assert_array_equal(out.numpy(), want[:, :, 0])
    out = gradcheck(lambda t: F.avg_pool1d(t, 4, 3, 2, True, False), [x], device, atol=1e-5)
    want = naive_pool2d(x[:, :, None], (1, 4), (1, 3), (0, 2), (1, 1), True, _nanmean, np.nan)
    np.testing.assert_allclose(out.numpy(), want[:, :, 0], rtol=1e-12)
    assert F.max_pool1d(vecgrad.tensor(x), 2).shape == (1, 2, 5)
    torch_check(lambda t: F.max_pool1d(t, 3, 2, 1, 2, True),
                lambda torch, t: torch.nn.functional.max_pool1d(t, 3, 2, 1, 2, True),
                [x], device)
    torch_check(lambda t: F.avg_pool1d(t, 4, 3, 2, True, False),
                lambda torch, t: torch.nn.functional.avg_pool1d(t, 4, 3, 2, True, False),
                [x], device)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_modes(device, mode):
    x = RNG.standard_normal((1, 2, 4, 5))
    amounts = (2, 1, 3, 0)  # last axis (2, 1), the one before (3, 0)
    out = gradcheck(lambda t: F.pad(t, amounts, mode=mode), [x], device)
    numpy_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
                  "circular": "wrap"}[mode]
    want = np.pad(x, ((0, 0), (0, 0), (3, 0), (2, 1)), mode=numpy_mode)
    np.testing.assert_array_equal(out.numpy(), want)
    torch_check(lambda t: F.pad(t, amounts, mode=mode),
                lambda torch, t: torch.nn.functional.pad(t, amounts, mode=mode), [x], device)


def test_pad_constant_value_and_crop(device):
    x = RNG.standard_normal((1, 5, 4))
    out = gradcheck(lambda t: F.pad(t, (-1, 2, 1, -2), value=0.5), [x], device)
    want = np.pad(x[:, :-2, 1:], ((0, 0), (1, 0), (0, 2)), constant_values=0.5)
    np.testing.assert_array_equal(out.numpy(), want)
    torch_check(lambda t: F.pad(t, (-1, 2, 1, -2, 1, 1), value=0.5),
                lambda torch, t: torch.nn.functional.pad(t, (-1, 2, 1, -2, 1, 1), value=0.5),
                [x], device)


@pytest.mark.parametrize("out_size", [1, (2, 3), (3, 1), (4, 5), (None, 2)])
def test_adaptive_avg_pool2d(device, out_size):
    x = RNG.standard_normal((1, 2, 7, 5))
    out = gradcheck(lambda t: F.adaptive_avg_pool2d(t, out_size), [x], device)
    oh, ow = (out_size, out_size) if isinstance(out_size, int) else out_size
    oh = 7 if oh is None else oh
    want = np.zeros((1, 2, oh, ow))
    for i in range(oh):  # PyTorch's windows: [floor(i*H/oh), ceil((i+1)*H/oh))
        for j in range(ow):
            rows = slice(i * 7 // oh, -(-(i + 1) * 7 // oh))
            cols = slice(j * 5 // ow, -(-(j + 1) * 5 // ow))
            want[:, :, i, j] = x[:, :, rows, cols].mean(axis=(2, 3))
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-14)
    torch_check(lambda t: F.adaptive_avg_pool2d(t, out_size),
                lambda torch, t: torch.nn.functional.adaptive_avg_pool2d(t, out_size),
                [x], device)


def test_global_average_pool_is_the_spatial_mean(device):
    x = vecgrad.tensor(RNG.standard_normal((2, 3, 4, 4)), device=device)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 1).numpy(),
                               x.mean(axis=(2, 3), keepdims=True).numpy(), rtol=1e-6)
    x1 = RNG.standard_normal((2, 3, 10))
    gradcheck(lambda t: F.adaptive_avg_pool1d(t, 4), [x1], device)
    torch_check(lambda t: F.adaptive_avg_pool1d(t, 4),
                lambda torch, t: torch.nn.functional.adaptive_avg_pool1d(t, 4), [x1], device)


@pytest.mark.parametrize("kwargs", [
    dict(size=(5, 7), mode="nearest"), dict(scale_factor=2, mode="nearest"),
    dict(size=(3, 2), mode="nearest"), dict(scale_factor=1.7, mode="nearest"),
    dict(size=(6, 9), mode="bilinear", align_corners=False),
    dict(size=(6, 9), mode="bilinear", align_corners=True),
    dict(scale_factor=(0.6, 2.5), mode="bilinear"),
    dict(size=(2, 2), mode="bilinear", align_corners=True),
    dict(size=(2, 3), mode="area")])
def test_interpolate_2d(device, kwargs):
    x = RNG.standard_normal((1, 2, 4, 5))
    gradcheck(lambda t: F.interpolate(t, **kwargs), [x], device)
    torch_check(lambda t: F.interpolate(t, **kwargs),
                lambda torch, t: torch.nn.functional.interpolate(t, **kwargs), [x], device)


def test_interpolate_known_values(device):
    x = vecgrad.tensor([[[0.0, 1.0, 3.0]]], device=device)
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=2).numpy(),
                                  [[[0, 0, 1, 1, 3, 3]]])
    np.testing.assert_allclose(F.interpolate(x, size=5, mode="linear",
                                             align_corners=True).numpy(),
                               [[[0, 0.5, 1, 2, 3]]])
    # align_corners=False: sample centres, (dst + 0.5) * 3/6 - 0.5, clamped at 0
    np.testing.assert_allclose(F.interpolate(x, size=6, mode="linear").numpy(),
                               [[[0, 0.25, 0.75, 1.5, 2.5, 3]]], rtol=1e-6)
    x1 = RNG.standard_normal((1, 2, 6))
    torch_check(lambda t: F.interpolate(t, size=4, mode="linear"),
                lambda torch, t: torch.nn.functional.interpolate(t, size=4, mode="linear"),
                [x1], device)


@pytest.mark.parametrize("call, error, message", [
    (lambda x: F.conv1d(x, vecgrad.zeros(4, 2, 3)), ValueError,
     r"conv1d: input \(2, 3, 8\) has 3 channels but weight \(4, 2, 3\) expects 2"),
    (lambda x: F.conv1d(x[0], vecgrad.zeros(4, 3, 3)), ValueError,
     r"conv1d: input must be 3-D \(N, C, L\)"),
    (lambda x: F.conv1d(x, vecgrad.zeros(4, 3, 9)), ValueError,
     "window of 9 .* does not fit an input of length 8"),
    (lambda x: F.conv1d(x, vecgrad.zeros(4, 1, 3), groups=2), ValueError,
     r"expects 2 \(1 per group x 2 groups\)"),
    (lambda x: F.conv1d(x, vecgrad.zeros(4, 3, 3), stride=2, padding="same"),
     ValueError, "padding='same' needs stride 1"),
    (lambda x: F.conv1d(x, vecgrad.zeros(4, 3, 3), padding="full"), ValueError,
     "padding must be an int, a pair, 'valid' or 'same'"),
    (lambda x: F.conv1d(x, vecgrad.zeros(5, 1, 3), groups=3), ValueError,
     "5 output channels do not split into 3 groups"),
    (lambda x: F.conv_transpose1d(x, vecgrad.zeros(3, 2, 3), stride=2, output_padding=2),
     ValueError, "output_padding .* must be smaller than stride"),
    (lambda x: F.conv_transpose1d(x, vecgrad.zeros(2, 2, 3)), ValueError,
     r"has 3 channels but weight \(2, 2, 3\) expects 2"),
    (lambda x: F.max_pool1d(x, 2, padding=2), ValueError, "at most half the kernel size"),
    (lambda x: F.avg_pool1d(x, 2, stride=(1, 1)), TypeError, "stride must be an int"),
    (lambda x: F.avg_pool2d(x[None], 2, divisor_override=0), ValueError,
     "divisor_override must be a positive int"),
    (lambda x: F.pad(x, (1,)), ValueError, "even length"),
    (lambda x: F.pad(x, (8, 0), mode="reflect"), ValueError, "smaller than the size 8"),
    (lambda x: F.pad(x, (1, 1), mode="wrap"), ValueError, "mode must be one of"),
    (lambda x: F.pad(x, (-5, -4)), ValueError, "fewer than 0"),
    (lambda x: F.interpolate(x, size=4, mode="bilinear"), ValueError, "needs 4-D"),
    (lambda x: F.interpolate(x, size=4, scale_factor=2), ValueError, "exactly one"),
    (lambda x: F.interpolate(x, size=4, align_corners=True), ValueError,
     "align_corners only applies"),
    (lambda x: F.adaptive_avg_pool2d(x, 0), ValueError, "positive ints"),
    (lambda x: F.conv2d(x[None], vecgrad.zeros(2, 3, 1, 1, dtype=vecgrad.float64)), TypeError,
     "conv2d: input must be float32 or float64"),
])
def test_errors_are_named(call, error, message):
    x = vecgrad.zeros(2, 3, 8)
    if "float32 or float64" in message:
        x = vecgrad.zeros(2, 3, 8, dtype=vecgrad.int64)
    with pytest.raises(error, match=message):
        call(x)


def test_non_contiguous_inputs_and_empty_batches(device):
    """Permuted (non-contiguous) views in, and batches of 0 through and back."""
    x, w = RNG.standard_normal((1, 2, 6)), RNG.standard_normal((3, 2, 2))
    gradcheck(lambda a, b: F.conv1d(a, b, padding=1), [x, w], device, permuted=True)
    x4 = RNG.standard_normal((1, 2, 3, 4))
    gradcheck(lambda a: F.pad(a, (1, 1, 2, 0), mode="reflect"), [x4], device, permuted=True)
    gradcheck(lambda a: F.interpolate(a, size=(4, 3), mode="bilinear"), [x4], device,
              permuted=True)
    gradcheck(lambda a: F.max_pool2d(a, 2, 1, ceil_mode=True), [x4], device, permuted=True)
    for call, shape in [(lambda t: F.conv1d(t, vecgrad.zeros(3, 2, 2, device=device)),
                         (0, 3, 5)),
                        (lambda t: F.avg_pool1d(t, 2, ceil_mode=True), (0, 2, 3)),
                        (lambda t: F.conv_transpose1d(t, vecgrad.zeros(2, 3, 2, device=device),
                                                      stride=2), (0, 3, 12))]:
        empty = vecgrad.zeros(0, 2, 6, device=device, requires_grad=True)
        out = call(empty)
        assert out.shape == shape
        out.sum().backward()
        assert empty.grad.shape == (0, 2, 6)
