"""The model, optimizer and schedule of a training run, built from short text specs.

`vecgrad train --model mlp:128,64 --optimizer adam --schedule step:10:0.5` and
`RunConfig(model="mlp:128,64", ...)` both come here: a spec names an architecture, and
these functions turn it into vecgrad.nn / vecgrad.optim objects.
"""

from __future__ import annotations

import numpy as np

from vecgrad.nn.module import Module
from vecgrad.train.config import ConfigError

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.05,
              "rmsprop": 0.001, "adam": 0.001}


MAX_PARAMETERS = 1 << 28  # 1 GiB of float32 (Adam keeps two more): larger is a typo


def build_model(spec: str, input_shape, outputs: int, activation: str = "relu",
                dropout: float = 0.0, max_parameters: int | None = None, *,
                batch_norm: bool = False):
    """A model from a spec: `mlp:H1,H2,...` (hidden sizes; `mlp` = no hidden
    layer), `cnn` / `cnn:C1,C2` (3x3 conv + activation + 2x2 max-pool per channel
    count, then a 64-unit hidden layer), `cnn1d` / `cnn1d:C1,C2` (the same with a
    1-D conv of width 3 and max-pool 2 over the steps of sequence inputs), or `lstm:H` /
    `gru:H` / `rnn:H` (`lstm:H,H`: two layers) over sequence inputs with a Linear head on
    the last step. Dropout
    follows every hidden activation (between and after recurrent layers).

    batch_norm=True puts a BatchNorm (1d after Linear and Conv1d, 2d after Conv2d)
    between every hidden layer and its activation (`vecgrad train --batch-norm`).

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

    def normalized(layer, size: int, norm):
        if not batch_norm:
            return [layer]
        charge(2 * size)  # weight and bias (running statistics are buffers)
        return [layer, norm(size)]

    def regularized(layers):
        return layers + ([nn.Dropout(dropout)] if dropout > 0 else [])

    layers = []
    if kind == "mlp":
        width = int(np.prod(input_shape))
        layers.append(nn.Flatten())
        for size in sizes:
            layers += regularized(normalized(linear(width, size), size, nn.BatchNorm1d)
                                  + [act()])
            width = size
        layers.append(linear(width, outputs))
    elif kind == "cnn":
        if len(input_shape) != 3:
            raise ConfigError(f"--model cnn needs image inputs (channels, height, width); this "
                              f"dataset has inputs of shape {tuple(input_shape)}: use mlp")
        channels, height, width = input_shape
        for size in sizes or [16, 32]:
            layers += normalized(conv(channels, size), size, nn.BatchNorm2d) + [act()]
            channels = size
            if height >= 2 and width >= 2:
                layers.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
        layers += [nn.Flatten()] + regularized(
            normalized(linear(channels * height * width, 64), 64, nn.BatchNorm1d) + [act()])
        layers.append(linear(64, outputs))
    elif kind == "cnn1d":
        if len(input_shape) != 2:
            raise ConfigError(f"--model cnn1d needs sequence inputs (steps, features); this "
                              f"dataset has inputs of shape {tuple(input_shape)}")
        steps, channels = input_shape
        layers.append(ChannelsFirst())  # (N, steps, features) -> (N, features, steps)
        for size in sizes or [16, 32]:
            charge(channels * size * 3 + size)
            layers += normalized(nn.Conv1d(channels, size, 3, padding=1), size,
                                 nn.BatchNorm1d) + [act()]
            channels = size
            if steps >= 2:
                layers.append(nn.MaxPool1d(2))
                steps //= 2
        layers += [nn.Flatten()] + regularized(
            normalized(linear(channels * steps, 64), 64, nn.BatchNorm1d) + [act()])
        layers.append(linear(64, outputs))
    elif kind in RECURRENT:
        if batch_norm:
            raise ConfigError(f"--model {spec!r}: --batch-norm applies to mlp, cnn and cnn1d "
                              f"models, not to recurrent ones")
        charge(recurrent_parameters(kind, sizes or [64], input_shape, outputs))
        return RecurrentNet(kind, sizes or [64], input_shape, outputs, dropout, spec)
    else:
        raise ConfigError(f"--model {spec!r}: unknown architecture {kind!r}; use mlp:H1,H2,... "
                          ", cnn[:C1,C2], cnn1d[:C1,C2], lstm:H, gru:H or rnn:H")
    return nn.Sequential(*layers)


RECURRENT = ("lstm", "gru", "rnn")


class ChannelsFirst(Module):
    """(N, steps, features) -> (N, features, steps): sequences as Conv1d's NCL input."""

    def forward(self, x):
        return x.transpose(1, 2)


def recurrent_parameters(kind: str, sizes, input_shape, outputs: int) -> int:
    """How many numbers `kind:sizes` holds (recurrent layers and the Linear head)."""
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    shape = tuple(input_shape)
    width = shape[-1] if len(shape) != 3 else shape[0] * shape[2]
    total = 0
    for size in sizes:
        total += gates * size * (width + size + 2)
        width = size
    return total + width * outputs + outputs


class RecurrentNet(Module):
    """Recurrent layers over the input sequence, then a Linear head on the last step's
    output. `lstm:64` is one LSTM layer of 64 units, `lstm:64,64` two stacked (dropout
    between them and before the head). Inputs (steps, features) per sample; an image
    (C, H, W) is read row by row: H steps of C·W features."""

    def __init__(self, kind: str, sizes, input_shape, outputs: int, dropout: float = 0.0,
                 spec: str = ""):
        from vecgrad import nn

        super().__init__()
        spec = spec or f"{kind}:{','.join(map(str, sizes))}"
        if len(set(sizes)) != 1:
            raise ConfigError(f"--model {spec!r}: stacked recurrent layers share one hidden "
                              f"size, e.g. {kind}:64,64")
        shape = tuple(input_shape)
        if len(shape) not in (2, 3):
            raise ConfigError(f"--model {spec!r} needs sequence inputs (steps, features) or "
                              f"images; this dataset has inputs of shape {shape}: use "
                              f"--dataset adding or sine-next, or an mlp")
        self.input_shape = shape
        features = shape[1] if len(shape) == 2 else shape[0] * shape[2]
        layer = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind]
        self.rnn = layer(features, sizes[0], num_layers=len(sizes), batch_first=True,
                         dropout=dropout if len(sizes) > 1 else 0.0)
        self.dropout = dropout
        self.head = nn.Linear(sizes[0], outputs)

    def forward(self, x):
        from vecgrad.nn import functional as F

        if len(self.input_shape) == 3:  # (N, C, H, W) -> (N, H, C·W): rows as steps
            n, c, h, w = x.shape
            x = x.permute(0, 2, 1, 3).reshape(n, h, c * w)
        out, _ = self.rnn(x)
        last = out[:, -1]
        if self.dropout:
            last = F.dropout(last, self.dropout, training=self.training)
        return self.head(last)


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

    def number(word: str, name: str, whole: bool = False):
        try:
            return int(word) if whole else float(word)
        except ValueError:  # int()'s "invalid literal for int() with base 10" is Python's
            raise ConfigError(f"--schedule {text!r}: {name} must be a "
                              f"{'whole ' if whole else ''}number, got {word!r}") from None

    try:
        if kind == "none" and not values:
            return None
        if kind == "step" and len(values) == 2:
            return optim.StepDecay(optimizer, number(values[0], "STEP_SIZE", whole=True),
                                   number(values[1], "GAMMA"))
        if kind == "inverse" and len(values) == 1:
            return optim.InverseTimeDecay(optimizer, number(values[0], "DECAY"))
    except ConfigError:
        raise
    except ValueError as exc:  # the schedule's own range checks
        raise ConfigError(f"--schedule {text!r}: {exc}") from None
    raise ConfigError(f"--schedule {text!r}: use none, step:STEP_SIZE:GAMMA (e.g. step:10:0.5) "
                      "or inverse:DECAY (e.g. inverse:0.1)")
