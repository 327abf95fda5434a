"""The schema of a `vecgrad train` checkpoint, checked before anything is built.

A checkpoint file is validated by vecgrad.checkpoint (digest, sizes, dtypes), but a
valid file can still hold hostile values: `batch_size="32"`, `model=5`, Adam `step=-1`,
20,000 class names, `outputs=10**12`. `check_trainer_state` checks every entry's type,
range and size, and how entries agree with each other (best weights against current
weights, class names against outputs, history length against the epoch), and raises
CheckpointError naming the file and the entry. Only then is a model built from it.
"""

from __future__ import annotations

import math

import numpy as np

from vecgrad.checkpoint import CheckpointError
from vecgrad.train.config import MAX_BATCH, MAX_EPOCHS

TRAINER_FORMAT = "vecgrad-trainer"   # matches trainer.CHECKPOINT_FORMAT
TRAINER_VERSION = 1

MAX_CLASSES = 10_000          # outputs and class names of one run
MAX_INPUT_SIZE = 1 << 26      # numbers in one input sample
MAX_TEXT = 1_000              # a model spec, a schedule, a class name, a path
MAX_ENTRIES = 100_000         # tensors in a model's state
OPTIMIZER_CLASSES = {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD",
                     "adagrad": "AdaGrad", "rmsprop": "RMSProp", "adam": "Adam"}
HISTORY_SERIES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")


class _Checker:
    def __init__(self, path):
        self.path = path

    def fail(self, entry: str, problem: str):
        raise CheckpointError(f"{self.path}: entry {entry}: {problem}")

    @staticmethod
    def shown(value) -> str:
        text = repr(value) if not isinstance(value, np.ndarray) else \
            f"array of shape {value.shape}"
        text = text if len(text) <= 40 else text[:37] + "..."
        return f"{type(value).__name__} {text}"

    def dict_(self, value, entry: str) -> dict:
        if not isinstance(value, dict):
            self.fail(entry, f"expected a dict, got {self.shown(value)}")
        return value

    def int_(self, value, entry: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(entry, f"expected an int in {low}..{high}, got {self.shown(value)}")
        return value

    def number(self, value, entry: str, low: float, high: float = math.inf, *,
               low_open: bool = False, high_open: bool = False, inf: bool = False) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            value = float(value)
            if inf and math.isinf(value):
                return value
            ok = math.isfinite(value) and (value > low if low_open else value >= low) and \
                (value < high if high_open else value <= high)
        if not ok:
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            self.fail(entry, f"expected a finite number in {left}{low:g}, {high:g}{right}, "
                             f"got {self.shown(value)}")
        return value

    def text(self, value, entry: str, choices=None, optional: bool = False):
        if value is None and optional:
            return None
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            self.fail(entry, f"expected text of at most {MAX_TEXT} characters, got "
                             f"{self.shown(value)}")
        if choices is not None and value not in choices:
            self.fail(entry, f"{value!r} is not one of {', '.join(sorted(choices))}")
        return value

    def arrays(self, value, entry: str) -> dict:
        value = self.dict_(value, entry)
        if len(value) > MAX_ENTRIES:
            self.fail(entry, f"{len(value)} tensors (at most {MAX_ENTRIES})")
        for key, array in value.items():
            # float parameters and buffers; integer buffers (BatchNorm's num_batches_tracked)
            if not isinstance(array, np.ndarray) or array.dtype.kind not in "fi":
                self.fail(f"{entry}[{key!r}]", f"expected a float or integer array, got "
                                               f"{self.shown(array)}")
        return value


def check_trainer_state(state, path) -> dict:
    """Check a `vecgrad train` checkpoint's state; returns its config. Raises
    CheckpointError naming `path` and the first entry that is wrong."""
    from scalargrad.functions import ACTIVATIONS

    from vecgrad.data import DATASET_NAMES, NORMALIZERS
    from vecgrad.train.config import FIXED_BY_CHECKPOINT, RESUMABLE
    from vecgrad.train.losses import LOSSES

    c = _Checker(path)
    # isinstance first: an array there made "!=" an array ("truth value ... ambiguous")
    if (not isinstance(state, dict) or not isinstance(state.get("format"), str)
            or state["format"] != TRAINER_FORMAT):
        raise CheckpointError(f"{path}: not a `vecgrad train` checkpoint (its 'format' entry "
                              f"is not {TRAINER_FORMAT!r})")
    c.int_(state.get("version"), "version", TRAINER_VERSION, TRAINER_VERSION)
    config = c.dict_(state.get("config"), "config")
    needed = set(FIXED_BY_CHECKPOINT) | set(RESUMABLE) | {"input_shape", "outputs", "task",
                                                          "class_names"}
    missing = sorted(needed - set(config))
    if missing:
        raise CheckpointError(f"{path}: not a `vecgrad train` checkpoint (its config lacks "
                              f"{', '.join(missing)})")

    def conf(key):
        return f"config[{key!r}]"

    c.text(config["dataset"], conf("dataset"), DATASET_NAMES)
    c.text(config["model"], conf("model"))
    c.text(config["activation"], conf("activation"), ACTIVATIONS)
    c.text(config["loss"], conf("loss"), LOSSES, optional=True)
    c.text(config["optimizer"], conf("optimizer"), OPTIMIZER_CLASSES)
    if config["lr"] is not None:
        c.number(config["lr"], conf("lr"), 0, low_open=True)
    c.int_(config["batch_size"], conf("batch_size"), 1, MAX_BATCH)
    c.int_(config["epochs"], conf("epochs"), 1, MAX_EPOCHS)
    c.number(config["weight_decay"], conf("weight_decay"), 0)
    c.number(config["l1"], conf("l1"), 0)
    c.number(config["dropout"], conf("dropout"), 0, 1, high_open=True)
    c.int_(config["patience"], conf("patience"), 0, MAX_EPOCHS)
    c.text(config["schedule"], conf("schedule"))
    c.int_(config["seed"], conf("seed"), 0, 2**63 - 1)
    c.text(config["normalize"], conf("normalize"), NORMALIZERS)
    if not isinstance(config["batch_norm"], bool):
        c.fail(conf("batch_norm"), f"expected True or False, got "
                                   f"{c.shown(config['batch_norm'])}")
    if config["clip_grad_norm"] is not None:
        c.number(config["clip_grad_norm"], conf("clip_grad_norm"), 0, low_open=True)
    c.text(config["task"], conf("task"), ("classification", "regression"))
    for key in ("data_dir", "device"):
        c.text(config.get(key), conf(key), optional=True)
    shape = config["input_shape"]
    if not isinstance(shape, list) or not 1 <= len(shape) <= 4:
        c.fail(conf("input_shape"), f"expected a list of 1 to 4 sizes, got {c.shown(shape)}")
    for i, size in enumerate(shape):
        c.int_(size, f"{conf('input_shape')}[{i}]", 1, MAX_INPUT_SIZE)
    if math.prod(shape) > MAX_INPUT_SIZE:
        c.fail(conf("input_shape"), f"{shape} holds more than {MAX_INPUT_SIZE} numbers")
    outputs = c.int_(config["outputs"], conf("outputs"), 1, MAX_CLASSES)
    names = config["class_names"]
    if not isinstance(names, list) or len(names) > MAX_CLASSES:
        got = len(names) if isinstance(names, list) else c.shown(names)
        c.fail(conf("class_names"), f"expected a list of at most {MAX_CLASSES} names, got {got}")
    for i, name in enumerate(names):
        c.text(name, f"{conf('class_names')}[{i}]")
    if config["task"] == "classification" and len(names) != outputs and \
            not (outputs == 1 and len(names) == 2):  # bce: one logit for two classes
        c.fail(conf("class_names"), f"{len(names)} class names for {outputs} outputs")

    # Settings added after this schema (and every range RunConfig checks) go through
    # RunConfig.validate too: a wrong type there is a one-line error, not a TypeError.
    from vecgrad.train.config import ConfigError, RunConfig

    try:
        RunConfig(**{k: config[k] for k in (*FIXED_BY_CHECKPOINT, *RESUMABLE)}).validate()
    except (ConfigError, TypeError, ValueError) as exc:
        c.fail("config", f"{exc}".replace("--", "setting ", 1) if str(exc).startswith("--")
               else str(exc))

    epoch = c.int_(state.get("epoch"), "epoch", 0, config["epochs"])
    model = c.arrays(state.get("model"), "model")
    best = state.get("best_model")
    if best is not None:
        c.arrays(best, "best_model")
        if set(best) != set(model):
            c.fail("best_model", "its tensors are not the model's "
                                 f"({len(best)} vs {len(model)} names)")
        for key, array in best.items():
            if array.shape != model[key].shape or array.dtype != model[key].dtype:
                c.fail(f"best_model[{key!r}]", f"shape {array.shape} {array.dtype} but the "
                       f"model's is {model[key].shape} {model[key].dtype}")
    elif epoch > 0:
        c.fail("best_model", f"missing although {epoch} epoch(s) finished")

    optimizer = c.dict_(state.get("optimizer"), "optimizer")
    expected = OPTIMIZER_CLASSES[config["optimizer"]]
    if not isinstance(optimizer.get("optimizer"), str) or optimizer["optimizer"] != expected:
        c.fail("optimizer['optimizer']", f"expected {expected!r} (config says "
                                         f"{config['optimizer']}), got "
                                         f"{c.shown(optimizer.get('optimizer'))}")
    per_param = c.dict_(optimizer.get("state"), "optimizer['state']")
    for key, saved in per_param.items():
        saved = c.dict_(saved, f"optimizer['state'][{key!r}]")
        c.int_(saved.get("step"), f"optimizer['state'][{key!r}]['step']", 0, 2**62)
    if state.get("scheduler") is not None:
        c.dict_(state["scheduler"], "scheduler")
    rng = state.get("rng")
    if not isinstance(rng, str) or len(rng) > 10_000:
        c.fail("rng", f"expected the generator state as JSON text, got {c.shown(rng)}")
    stopping = c.dict_(state.get("early_stopping"), "early_stopping")
    c.int_(stopping.get("best_epoch"), "early_stopping['best_epoch']", 0, epoch)
    c.int_(stopping.get("bad_epochs"), "early_stopping['bad_epochs']", 0, epoch)
    c.number(stopping.get("best_val_loss"), "early_stopping['best_val_loss']", -math.inf,
             inf=True)
    history = c.dict_(state.get("history"), "history")
    for key in HISTORY_SERIES:
        series = history.get(key)
        if not isinstance(series, np.ndarray) or series.shape != (epoch,) or \
                series.dtype.kind != "f":
            c.fail(f"history[{key!r}]", f"expected {epoch} float(s) (one per finished epoch), "
                                        f"got {c.shown(series)}")
    normalizer = c.dict_(state.get("normalizer"), "normalizer")
    c.text(normalizer.get("kind"), "normalizer['kind']", NORMALIZERS)
    for key in ("shift", "scale"):
        values = normalizer.get(key)
        if not isinstance(values, (np.ndarray, int, float)) or isinstance(values, bool) or \
                np.size(values) > math.prod(shape):
            c.fail(f"normalizer[{key!r}]", f"expected at most {math.prod(shape)} numbers, got "
                                           f"{c.shown(values)}")
    return config


def check_against_dataset(config: dict, bundle, path) -> None:
    """The checkpoint's inputs, outputs and classes must be the dataset's."""
    saved = (tuple(config["input_shape"]), list(config["class_names"]))
    found = (tuple(bundle.input_shape), list(bundle.class_names))
    if saved[0] != found[0]:
        raise CheckpointError(f"{path}: entry config['input_shape']: the run was trained on "
                              f"inputs of shape {saved[0]}; {bundle.name} gives {found[0]}")
    if saved[1] != found[1]:
        raise CheckpointError(f"{path}: entry config['class_names']: the run's {len(saved[1])} "
                              f"classes are not {bundle.name}'s {len(found[1])}")
