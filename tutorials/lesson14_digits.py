"""Lesson 14: training a digit classifier with the Trainer, on cpu and OpenCL (000)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

import numpy as np
from rich.table import Table
from rich.text import Text

import vecgrad
from vecgrad import nn
from vecgrad.backends import get_backend
from vecgrad.data import MinMax, TensorDataset, load_dataset
from vecgrad.optim import SGD

from tutorials import devices
from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import Series, heatmap, line_plot
from tutorials.views import table


def look_at_the_data():
    digits = load_dataset("digits")
    images = digits.train.inputs[:4, 0]      # (4, 8, 8) grey levels
    sizes = {"train": len(digits.train), "validation": len(digits.val),
             "test": len(digits.test)}
    return {"sizes": sizes, "images": images,
            "labels": digits.train.targets[:4].tolist(),
            "input_shape": digits.input_shape,
            "range": (float(images.min()), float(images.max()))}


def show_data(r):
    grid = Table.grid(padding=(0, 2))
    for _ in r["images"]:
        grid.add_column()
    grid.add_row(*(heatmap(img, title=f"label {lab}")
                   for img, lab in zip(r["images"], r["labels"])))
    sizes = ", ".join(f"{k} {v}" for k, v in r["sizes"].items())
    return [grid, Text(f"{sizes} images of shape {r['input_shape']}, "
                       f"pixel values {r['range'][0]:g}..{r['range'][1]:g}")]


def prepare():
    digits = load_dataset("digits")
    scaler = MinMax().fit(digits.train.inputs)  # statistics from train only
    parts = {"train": digits.train, "val": digits.val, "test": digits.test}
    return {name: TensorDataset(scaler.transform(part.inputs), part.targets)
            for name, part in parts.items()}


def train(device, epochs, seed=0):
    splits = prepare()
    vecgrad.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 10)).to(device)
    trainer = vecgrad.Trainer(model, "cross_entropy",
                              SGD(model.parameters(), lr=0.1),
                              epochs=epochs, batch_size=32, seed=seed,
                              layer_stats=False)
    epochs_seen = []
    trainer.subscribe(lambda event: epochs_seen.append(event)
                      if type(event).__name__ == "EpochEnd" else None)
    start = time.perf_counter()
    trainer.fit(splits["train"], splits["val"])
    seconds = time.perf_counter() - start
    test = trainer.evaluate(splits["test"], emit=False)
    return {"device": device, "seconds": seconds,
            "train_loss": [e.train_loss for e in epochs_seen],
            "val_accuracy": [e.val_accuracy for e in epochs_seen],
            "test_accuracy": test.accuracy, "confusion": test.confusion}


def train_on_cpu():
    return train("cpu", epochs=5)


def show_training(r):
    epochs = list(range(1, len(r["train_loss"]) + 1))
    rows = [(e, loss, acc) for e, loss, acc in zip(epochs, r["train_loss"],
                                                   r["val_accuracy"])]
    confusion = np.asarray(r["confusion"])
    return [line_plot([Series("training loss", epochs, r["train_loss"], "cyan")],
                      title=f"{r['device']}: {r['seconds']:.1f} s for "
                      f"{len(epochs)} epochs", xlabel="epoch", height=8),
            table("", ["epoch", "training loss", "validation accuracy"], rows,
                  digits=4),
            Text(f"test accuracy {r['test_accuracy']:.3f}; test images per true "
                 f"digit classified correctly: "
                 f"{np.diag(confusion).tolist()} of {confusion.sum(axis=1).tolist()}")]


def train_on_opencl():
    device, reason = devices.opencl_device()
    if device is None:  # say why, then keep going on the cpu
        result = train("cpu", epochs=2)
        return {**result, "opencl_missing": reason}
    on_device = train(device, epochs=2)
    on_cpu = train("cpu", epochs=2)
    gap = max(abs(a - b) for a, b in zip(on_device["train_loss"],
                                          on_cpu["train_loss"]))
    info = get_backend(device).runtime.info  # the device that ran it
    kind = f"{info.type} device {info.name!r} ({info.platform})"
    return {**on_device, "opencl_missing": None,
            "cpu_seconds": on_cpu["seconds"],
            "cpu_train_loss": on_cpu["train_loss"], "loss_gap": gap,
            "device_kind": kind}


def show_opencl(r):
    if r["opencl_missing"] is not None:
        return [Text(f"No OpenCL device here ({r['opencl_missing']}); trained on cpu "
                     "instead.", style="yellow"),
                table("", ["epoch", "training loss"],
                      list(enumerate(r["train_loss"], start=1)), digits=4)]
    rows = [(e, a, b) for e, (a, b) in enumerate(zip(r["train_loss"],
                                                     r["cpu_train_loss"]), start=1)]
    return [table(f"same seed, same batches: OpenCL {r['seconds']:.2f} s, cpu "
                  f"{r['cpu_seconds']:.2f} s (timed once, on this machine)",
                  ["epoch", f"loss on {r['device']}", "loss on cpu"], rows,
                  digits=6),
            Text(f"OpenCL ran on a {r['device_kind']}.")]


LESSON = Lesson(
    number=14,
    title="Training digits with the Trainer, on cpu and OpenCL",
    lectures="000",
    intro="""
    TU Graz ML1 lecture 8 trains multilayer perceptrons on MNIST. Here we do the same on a small
    built-in set of 8x8 handwritten digits, with the pieces the lecture lists: min-max
    scaling fit on the training set, a ReLU hidden layer, softmax cross-entropy,
    mini-batch SGD with step size 0.1, and a held-out validation and test set. The
    Trainer runs the loop; we only listen to its events. To stay quick the lesson
    trains for a few epochs only.
    """,
    steps=(
        Step("The data", """
            1797 grey-level digits, split once (with a fixed seed) into training,
            validation and test images. Each is an 8x8 array with values 0 to 16;
            here are the first four training images.
            """, look_at_the_data, show_data),
        Step("Five epochs on the cpu", """
            A 64-64-10 network: flatten the image, one ReLU hidden layer of 64 units,
            ten outputs whose softmax gives the class probabilities. Inputs are min-max
            scaled with statistics from the training images only, then applied to the
            validation and test images as well. The Trainer shuffles into batches of 32
            and reports every epoch as an event; we collect those.

            This is smaller than the lecture's example on purpose. TU Graz ML1 lecture 8
            trains two hidden layers of 200 units with batches of 100 on MNIST's
            784-pixel images, 600 batches an epoch (the slide's count: all 60,000
            training images). Our images have 64 pixels and there are 1258 of them:
            batches of 100 would give only 13 updates an epoch, and one layer of 64
            units already reaches over 90% test accuracy in the five epochs that fit in
            a few seconds.
            """, train_on_cpu, show_training, also_show=(prepare, train)),
        Step("The same training on an OpenCL device", """
            Moving the model with `.to("opencl")` is the only change; the data loader
            follows the model's device, and every op runs as an OpenCL kernel. With the
            same seed the losses match the cpu run to float32 rounding. On a machine
            without OpenCL the lesson says so and trains on the cpu.

            Do not be surprised if OpenCL is the slower one here. TU Graz ML1 lecture 8
            says GPUs speed up neural networks, and they do, for large matrix products.
            Without a GPU driver the OpenCL device is PoCL running on the same CPU
            cores that numpy uses, and every op becomes a kernel launch with a fixed
            cost (queueing, argument setup) before any arithmetic; a 32 x 64 by 64 x 64
            product is too small to pay that back. The line under the table names the device.
            """, train_on_opencl, show_opencl),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
