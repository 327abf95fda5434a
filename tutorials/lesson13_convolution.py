"""Lesson 13: convolution by sliding a kernel, as im2col, and as an OpenCL kernel (000)."""

from __future__ import annotations

import importlib.resources
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

import numpy as np
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

import vecgrad
import vecgrad.nn.functional as F

from tutorials import devices
from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import heatmap
from tutorials.views import table


def make_image():
    image = np.zeros((8, 8))
    image[:, 4:] = 1.0          # a vertical edge between columns 3 and 4
    image[5, 1:3] = 1.0         # and a small bright bar on the left
    # Sobel kernel: responds to a change from left to right
    kernel = np.array([[-1.0, 0.0, 1.0],
                       [-2.0, 0.0, 2.0],
                       [-1.0, 0.0, 1.0]])
    return image, kernel


def slide():
    image, kernel = make_image()
    k = kernel.shape[0]
    out = np.zeros((image.shape[0] - k + 1, image.shape[1] - k + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            patch = image[i:i + k, j:j + k]
            out[i, j] = np.sum(patch * kernel)   # multiply and add up
    return {"image": image, "kernel": kernel, "out": out}


def _side_by_side(*panels):
    grid = Table.grid(padding=(0, 3))
    for _ in panels:
        grid.add_column()
    grid.add_row(*panels)
    return grid


def show_slide(r):
    return [_side_by_side(heatmap(r["image"], title="image 8x8"),
                          heatmap(r["kernel"], title="kernel", show_values=True,
                                  fmt="{:3.0f}"),
                          heatmap(r["out"], title="output 6x6", show_values=True,
                                  fmt="{:3.0f}"))]


def im2col():
    image, kernel = make_image()
    k = kernel.shape[0]
    rows = []
    for i in range(image.shape[0] - k + 1):
        for j in range(image.shape[1] - k + 1):
            rows.append(image[i:i + k, j:j + k].reshape(-1))  # a patch
    patches = np.array(rows)                  # (36 patches, 9 pixels)
    out = (patches @ kernel.reshape(-1)).reshape(6, 6)  # one matrix product
    return {"patches_shape": patches.shape, "out": out,
            "same_as_sliding": bool(np.array_equal(out, slide()["out"]))}


def show_im2col(r):
    return [table("", ["", "value"],
                  [("patch matrix shape", str(r["patches_shape"])),
                   ("equal to the sliding window", str(r["same_as_sliding"]))])]


def with_vecgrad():
    image, kernel = make_image()
    # shapes (N, C, H, W) for the image, (out, in, kh, kw) for the kernel
    x = vecgrad.tensor(image[None, None], dtype=vecgrad.float64)
    w = vecgrad.tensor(kernel[None, None], dtype=vecgrad.float64,
                       requires_grad=True)
    out = F.conv2d(x, w)
    out.sum().backward()
    # d(sum of outputs)/d(kernel) = the sum of all patches
    patches = np.array([image[i:i + 3, j:j + 3]
                        for i in range(6) for j in range(6)])
    return {"out": out.numpy()[0, 0], "kernel_grad": w.grad.numpy()[0, 0],
            "patch_sum": patches.sum(axis=0)}


def show_vecgrad(r):
    return [_side_by_side(heatmap(r["out"], title="F.conv2d output", show_values=True,
                                  fmt="{:3.0f}"),
                          heatmap(r["kernel_grad"], title="dL/d kernel",
                                  show_values=True, fmt="{:4.0f}"),
                          heatmap(r["patch_sum"], title="sum of patches",
                                  show_values=True, fmt="{:4.0f}"))]


def many_channels():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, size=(1, 3, 32, 32))   # one RGB image
    kernels = rng.normal(0, 0.2, size=(6, 3, 5, 5))  # 6 kernels, 5x5x3
    x = vecgrad.tensor(image, dtype=vecgrad.float64)
    w = vecgrad.tensor(kernels, dtype=vecgrad.float64)
    maps = F.conv2d(x, w).relu().numpy()  # then a ReLU, as in the lecture
    # one entry by hand: kernel 2 at row 7, column 11, all three channels
    patch = image[0, :, 7:12, 11:16]                 # 3 x 5 x 5
    per_channel = [float(np.sum(patch[c] * kernels[2, c]))
                   for c in range(3)]
    return {"in_shape": image.shape, "kernel_shape": kernels.shape,
            "out_shape": maps.shape, "per_channel": per_channel,
            "by_hand": max(sum(per_channel), 0.0),
            "entry": float(maps[0, 2, 7, 11]),
            "products_per_entry": 5 * 5 * 3, "weights": kernels.size,
            "multiply_adds": maps.size * 5 * 5 * 3}


def show_channels(r):
    rows = [("image (N, C, H, W)", str(r["in_shape"])),
            ("kernels (out, in, kh, kw)", str(r["kernel_shape"])),
            ("feature maps", str(r["out_shape"])),
            ("entry [2, 7, 11]: channel sums R, G, B",
             ", ".join(f"{v:.6f}" for v in r["per_channel"])),
            ("ReLU of their total, by hand", f"{r['by_hand']:.12f}"),
            ("the same entry from F.conv2d + relu", f"{r['entry']:.12f}"),
            ("products per output entry", r["products_per_entry"]),
            ("kernel weights", r["weights"]),
            ("multiply-adds for the whole layer", r["multiply_adds"])]
    return [table("", ["", "value"], rows)]


def kernel_source():
    folder = importlib.resources.files("vecgrad.kernels")
    text = (folder / "conv2d.cl").read_text()
    start = text.index("__kernel void im2col")
    end = text.index("\n}\n", start) + 2
    return text[start:end]


def on_opencl():
    device, reason = devices.opencl_device()
    image, kernel = make_image()
    x = vecgrad.tensor(image[None, None], dtype=vecgrad.float32)
    w = vecgrad.tensor(kernel[None, None], dtype=vecgrad.float32)
    cpu = F.conv2d(x, w).numpy()[0, 0]
    if device is None:  # no OpenCL here: say why, the lesson goes on
        return {"device": "cpu", "reason": reason, "cpu": cpu,
                "source": kernel_source()}
    gpu = F.conv2d(x.to(device), w.to(device))  # im2col + matmul kernels
    return {"device": gpu.device, "reason": None, "cpu": cpu,
            "opencl": gpu.numpy()[0, 0], "source": kernel_source(),
            "max_difference": float(np.abs(gpu.numpy()[0, 0] - cpu).max())}


def show_opencl(r):
    parts = [Text("kernels/conv2d.cl: one work item per entry of the patch matrix",
                  style="bold"),
             Syntax(r["source"], "c", theme="ansi_dark", word_wrap=True)]
    if r["reason"] is not None:
        parts.append(Text(f"No OpenCL device here ({r['reason']}); "
                          "the lesson continues on cpu.", style="yellow"))
    else:
        parts.append(table("", ["", "value"],
                           [("device", r["device"]),
                            ("max |opencl - cpu|", r["max_difference"])]))
    return parts


LESSON = Lesson(
    number=13,
    title="Convolution: a kernel sliding over an image, im2col, and OpenCL",
    lectures="000",
    intro="""
    A convolutional layer slides a small kernel over the image; at each position it
    multiplies the patch under the kernel with the kernel's weights and adds them up,
    giving one entry of a new feature map (TU Graz ML1 lecture 8). We do it by hand with loops,
    then the way fast libraries do it (im2col: all patches as rows of one matrix, then a
    single matrix product), then with vecgrad on cpu and on an OpenCL device.
    """,
    steps=(
        Step("Sliding the kernel", """
            An 8x8 image with a vertical edge and a short bar, and a 3x3 Sobel kernel
            that measures how much brighter the right side of a patch is than the left.
            With no padding and stride 1 the output is (8 - 3 + 1) x (8 - 3 + 1) = 6x6.
            Along the edge it is 4 (1 + 2 + 1, the kernel's right column, where the
            bar is not in the same patch); the bar answers positively at its left end
            and negatively at its right end, where brightness falls; flat areas give 0.
            (Deep learning libraries do not flip the kernel, so strictly this is a
            cross-correlation; the name convolution stuck.)
            """, slide, show_slide, also_show=(make_image,)),
        Step("im2col: convolution as one matrix product", """
            Copy every 3x3 patch into a row of a matrix: 36 rows of 9 pixels. The whole
            convolution is then this matrix times the kernel as a 9-vector; with many
            kernels and channels it becomes a matrix-matrix product, the operation GPUs
            and BLAS libraries are fastest at.
            """, im2col, show_im2col),
        Step("The same op in vecgrad, with its gradient", """
            `F.conv2d` takes a batch of images (N, C, H, W) and kernels
            (out channels, in channels, kh, kw). Its backward pass gives the gradient of
            the loss with respect to the kernel: for the loss "sum of all outputs" each
            kernel weight's gradient is the sum of the pixels it touched, the sum of all
            patches.
            """, with_vecgrad, show_vecgrad),
        Step("Channels: 32x32x3 in, 28x28 maps out", """
            TU Graz ML1 lecture 8 builds a convolutional layer on a 32x32 RGB image,
            32x32x3. A kernel then has a 5x5 window for *each* of the three channels,
            5x5x3 weights, and one output entry is the sum of all 75 products (the
            three channels' sums added). Sliding it over the 32x32 image without
            padding gives a 28x28 map, since 32 - 5 + 1 = 28. Every further kernel adds
            a map; here six of them make a 28x28x6 feature map (the number of output
            channels is a hyperparameter), and a ReLU follows, as on the slide. We
            check one entry by hand, channel by channel.
            """, many_channels, show_channels),
        Step("As an OpenCL kernel", """
            On an OpenCL device vecgrad runs the same im2col as a kernel in which each
            work item fills one entry of the patch matrix, followed by a matrix-product
            kernel. The result matches the cpu to float32 rounding. Without an OpenCL
            device the lesson says so and stays on the cpu.
            """, on_opencl, show_opencl, also_show=(kernel_source,)),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
