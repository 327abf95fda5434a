"""The model, optimizer and schedule of a training run, built from short text specs.

`vecgrad train --model mlp:128,64 --optimizer adam --schedule step:10:0.5` and
`RunConfig(model="mlp:128,64", ...)` both come here: a spec names an architecture, and
these functions turn it into vecgrad.nn / vecgrad.optim objects.
"""

from __future__ import annotations

import numpy as np

from vecgrad.train.config import ConfigError

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.05,
              "rmsprop": 0.001, "adam": 0.001}


MAX_PARAMETERS = 1 << 30  # 4 GiB of float32: a larger model is a typo, not a plan


def build_model(spec: str, input_shape, outputs: int, activation: str = "relu",
                dropout: float = 0.0, max_parameters: int | None = None):
    """A Sequential from a spec: `mlp:H1,H2,...` (hidden sizes; `mlp` = no hidden
    layer) or `cnn` / `cnn:C1,C2` (3x3 conv + activation + 2x2 max-pool per channel
    count, then a 64-unit hidden layer). Dropout follows every hidden activation.

    The parameters are counted before each layer allocates: more than `max_parameters`
    (default MAX_PARAMETERS; a resumed run passes what its checkpoint holds) raises
    ConfigError instead of exhausting memory."""
    from vecgrad import nn

    budget = [MAX_PARAMETERS if max_parameters is None else max_parameters]

    def charge(count: int):
        budget[0] -= count
        if budget[0] < 0:
            limit = MAX_PARAMETERS if max_parameters is None else max_parameters
            raise ConfigError(f"--model {spec!r}: more than {limit:,} parameters for inputs "
                              f"of shape {tuple(input_shape)} and {outputs} outputs")

    def linear(width: int, size: int):
        charge(width * size + size)
        return nn.Linear(width, size)

    def conv(channels: int, size: int):
        charge(channels * size * 9 + size)
        return nn.Conv2d(channels, size, 3, padding=1)

    kind, colon, sizes_text = spec.partition(":")
    try:
        sizes = [int(s) for s in sizes_text.split(",")] if colon else []
    except ValueError:
        raise ConfigError(f"--model {spec!r}: sizes must be integers, e.g. mlp:128,64 or "
                          "cnn:16,32") from None
    if any(s < 1 for s in sizes):
        raise ConfigError(f"--model {spec!r}: sizes must be positive")

    def act():
        return nn.Activation(activation)

    def regularized(layers):
        return layers + ([nn.Dropout(dropout)] if dropout > 0 else [])

    layers = []
    if kind == "mlp":
        width = int(np.prod(input_shape))
        layers.append(nn.Flatten())
        for size in sizes:
            layers += regularized([linear(width, size), act()])
            width = size
        layers.append(linear(width, outputs))
    elif kind == "cnn":
        if len(input_shape) != 3:
            raise ConfigError(f"--model cnn needs image inputs (channels, height, width); this "
                              f"dataset has inputs of shape {tuple(input_shape)}: use mlp")
        channels, height, width = input_shape
        for size in sizes or [16, 32]:
            layers += [conv(channels, size), act()]
            channels = size
            if height >= 2 and width >= 2:
                layers.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
        layers += [nn.Flatten()] + regularized([linear(channels * height * width, 64), act()])
        layers.append(linear(64, outputs))
    else:
        raise ConfigError(f"--model {spec!r}: unknown architecture {kind!r}; use mlp:H1,H2,... "
                          "or cnn[:C1,C2]")
    return nn.Sequential(*layers)


def make_optimizer(name: str, params, lr: float):
    """One of sgd, momentum (0.9), nesterov (0.9), adagrad, rmsprop, adam."""
    from vecgrad import optim

    if name == "sgd":
        return optim.SGD(params, lr)
    if name in ("momentum", "nesterov"):
        return optim.SGD(params, lr, momentum=0.9, nesterov=name == "nesterov")
    return {"adagrad": optim.AdaGrad, "rmsprop": optim.RMSProp, "adam": optim.Adam}[name](
        params, lr=lr)


def make_schedule(text: str, optimizer):
    """none | step:STEP_SIZE:GAMMA | inverse:DECAY."""
    from vecgrad import optim

    kind, *values = text.split(":")
    try:
        if kind == "none" and not values:
            return None
        if kind == "step" and len(values) == 2:
            return optim.StepDecay(optimizer, int(values[0]), float(values[1]))
        if kind == "inverse" and len(values) == 1:
            return optim.InverseTimeDecay(optimizer, float(values[0]))
    except ValueError as exc:
        raise ConfigError(f"--schedule {text!r}: {exc}") from None
    raise ConfigError(f"--schedule {text!r}: use none, step:STEP_SIZE:GAMMA (e.g. step:10:0.5) "
                      "or inverse:DECAY (e.g. inverse:0.1)")
