"""`vecgrad train | evaluate | devices | bench | check`.

train and evaluate live here. devices, bench and check are delegated to
vecgrad.devices, vecgrad.bench and vecgrad.check (each provides
`add_arguments(parser)` and `main(args) -> int`), imported only when asked for, so
`vecgrad train` never touches OpenCL unless --device says so.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from vecgrad.checkpoint import CheckpointError
from vecgrad.data import DATASET_NAMES, NORMALIZERS, IDXError

DELEGATED = {
    "devices": ("vecgrad.devices", "list the compute devices (numpy CPU, OpenCL platforms)"),
    "bench": ("vecgrad.bench", "measure the backends against each other"),
    "check": ("vecgrad.check", "check gradients and backends against each other"),
}
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.05,
              "rmsprop": 0.001, "adam": 0.001}
# Defaults chosen so `vecgrad train` alone reaches >= 97% test accuracy on digits.
TRAIN_DEFAULTS = {
    "dataset": "digits", "model": "mlp:128,64", "activation": "relu", "loss": None,
    "optimizer": "adam", "lr": None, "batch_size": 32, "epochs": 40, "weight_decay": 0.0,
    "l1": 0.0, "dropout": 0.0, "patience": 10, "schedule": "none", "seed": 0,
    "normalize": "zscore",
}
# What a checkpoint fixes: giving a different value together with --resume is an error.
FIXED_BY_CHECKPOINT = ("dataset", "model", "activation", "loss", "optimizer", "lr",
                       "batch_size", "weight_decay", "l1", "dropout", "schedule", "seed",
                       "normalize")
EXIT_ERROR, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130


class UsageError(ValueError):
    """A flag combination or value that cannot work; printed without a traceback."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits 2."""

    def error(self, message):
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ------------------------------------------------------------------------- models
def build_model(spec: str, input_shape, outputs: int, activation: str = "relu",
                dropout: float = 0.0):
    """A Sequential from a spec: `mlp:H1,H2,...` (hidden sizes; `mlp` = no hidden
    layer) or `cnn` / `cnn:C1,C2` (3x3 conv + activation + 2x2 max-pool per channel
    count, then a 64-unit hidden layer). Dropout follows every hidden activation."""
    from vecgrad import nn

    kind, colon, sizes_text = spec.partition(":")
    try:
        sizes = [int(s) for s in sizes_text.split(",")] if colon else []
    except ValueError:
        raise UsageError(f"--model {spec!r}: sizes must be integers, e.g. mlp:128,64 or "
                         "cnn:16,32") from None
    if any(s < 1 for s in sizes):
        raise UsageError(f"--model {spec!r}: sizes must be positive")

    def act():
        return nn.Activation(activation)

    def regularized(layers):
        return layers + ([nn.Dropout(dropout)] if dropout > 0 else [])

    layers = []
    if kind == "mlp":
        width = int(np.prod(input_shape))
        layers.append(nn.Flatten())
        for size in sizes:
            layers += regularized([nn.Linear(width, size), act()])
            width = size
        layers.append(nn.Linear(width, outputs))
    elif kind == "cnn":
        if len(input_shape) != 3:
            raise UsageError(f"--model cnn needs image inputs (channels, height, width); this "
                             f"dataset has inputs of shape {tuple(input_shape)}: use mlp")
        channels, height, width = input_shape
        for size in sizes or [16, 32]:
            layers += [nn.Conv2d(channels, size, 3, padding=1), act()]
            channels = size
            if height >= 2 and width >= 2:
                layers.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
        layers += [nn.Flatten()] + regularized([nn.Linear(channels * height * width, 64), act()])
        layers.append(nn.Linear(64, outputs))
    else:
        raise UsageError(f"--model {spec!r}: unknown architecture {kind!r}; use mlp:H1,H2,... "
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
        raise UsageError(f"--schedule {text!r}: {exc}") from None
    raise UsageError(f"--schedule {text!r}: use none, step:STEP_SIZE:GAMMA (e.g. step:10:0.5) "
                     "or inverse:DECAY (e.g. inverse:0.1)")


def resolve_device(text: str) -> str:
    """cpu, opencl, opencl:P:D, or auto (an OpenCL GPU when there is one, else cpu)."""
    if text == "cpu":
        return "cpu"
    from vecgrad.backends import get_backend

    if text == "auto":
        return _first_opencl_gpu() or "cpu"
    if text == "opencl" or text.startswith("opencl:"):
        try:
            return get_backend(text).device
        except Exception as exc:  # any OpenCL failure: report it in the user's terms
            raise UsageError(f"--device {text}: cannot open that OpenCL device ({exc}); "
                             "`vecgrad devices` lists what is available") from None
    raise UsageError(f"--device {text!r}: use cpu, opencl, opencl:PLATFORM:DEVICE or auto")


def _first_opencl_gpu() -> str | None:
    """The device string of the first OpenCL GPU, or None (no OpenCL, or CPUs only)."""
    try:
        from vecgrad.backends.opencl_runtime import list_devices

        infos = list_devices()
    except Exception:  # no pyopencl, no platform, driver trouble: auto means cpu then
        return None
    gpus = [info for info in infos if "GPU" in info.type.split("/")]
    return gpus[0].device_string if gpus else None


# --------------------------------------------------------------------- arguments
def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    d = TRAIN_DEFAULTS
    p.add_argument("--dataset", choices=DATASET_NAMES,
                   help=f"what to learn (default {d['dataset']}: 8x8 digits, embedded)")
    p.add_argument("--data-dir", help="folder with the MNIST/Fashion-MNIST IDX files "
                   "(default data/<dataset>)")
    p.add_argument("--model", help=f"mlp:H1,H2,... or cnn[:C1,C2] (default {d['model']})")
    p.add_argument("--activation", help="hidden activation, a catalogue name "
                   f"(default {d['activation']})")
    p.add_argument("--loss", choices=("cross_entropy", "mse", "bce"),
                   help="default cross_entropy (classification) or mse (regression)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help=f"default {d['optimizer']}")
    p.add_argument("--lr", type=float, help="learning rate (default per optimizer: "
                   + ", ".join(f"{k} {v}" for k, v in DEFAULT_LR.items()) + ")")
    p.add_argument("--batch-size", type=int, help=f"default {d['batch_size']}")
    p.add_argument("--epochs", type=int, help=f"total epochs (default {d['epochs']})")
    p.add_argument("--weight-decay", type=float, help="L2 penalty λ·Σw² (default 0)")
    p.add_argument("--l1", type=float, help="L1 penalty λ·Σ|w| (default 0)")
    p.add_argument("--dropout", type=float, help="dropout after each hidden layer (default 0)")
    p.add_argument("--patience", type=int, help="early stopping: epochs without a better "
                   f"validation loss (default {d['patience']}; 0 = off)")
    p.add_argument("--schedule", help="learning rate: none, step:STEP:GAMMA, inverse:DECAY")
    p.add_argument("--checkpoint", help="write the training state here after every epoch")
    p.add_argument("--resume", help="continue from this checkpoint (same result as one run)")
    p.add_argument("--device", default="cpu", help="cpu, opencl, opencl:P:D or auto")
    p.add_argument("--seed", type=int, help=f"initialization and shuffling (default {d['seed']})")
    p.add_argument("--normalize", choices=tuple(NORMALIZERS), help="input scaling fit on the "
                   f"training split (default {d['normalize']})")
    _add_output_arguments(p)
    p.add_argument("--show", choices=("auto", "none", "forward", "grad", "all"), default="auto",
                   help="per-layer detail: forward stats, gradient norms, all, none")


def _add_output_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="print only the final metrics")
    p.add_argument("--json", action="store_true",
                   help="machine-readable metrics on stdout (progress goes to stderr)")
    p.add_argument("--plain", action="store_true", help="plain lines even on a terminal")


def build_parser() -> argparse.ArgumentParser:
    """The `vecgrad` argument parser (delegated commands parse their own flags)."""
    parser = OneLineParser(prog="vecgrad", description="Train and inspect "
                                     "networks with the vecgrad autograd engine.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = sub.add_parser("train", help="train a network (defaults: digits MLP, >= 97%%)")
    _add_train_arguments(train)
    evaluate = sub.add_parser("evaluate", help="test metrics and confusion matrix of a "
                              "checkpoint")
    evaluate.add_argument("checkpoint", help="a file written by vecgrad train --checkpoint")
    evaluate.add_argument("--split", choices=("test", "val"), default="test")
    evaluate.add_argument("--data-dir", help="folder with the IDX files (mnist datasets)")
    evaluate.add_argument("--device", default="cpu", help="cpu, opencl, opencl:P:D or auto")
    _add_output_arguments(evaluate)
    for name, (_, text) in DELEGATED.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


# -------------------------------------------------------------------------- train
def _views(args):
    """The views for this run, and the stream human-readable output goes to."""
    from vecgrad.ui import PlainView, make_view

    stream = sys.stderr if args.json else sys.stdout
    if args.quiet:
        return [], stream
    show = getattr(args, "show", "auto")
    view = PlainView(stream, show) if args.plain else make_view(stream, show)
    return [view], stream


def _settings(args) -> tuple[dict, dict | None]:
    """Flag values with defaults filled in, and on --resume the checkpoint state
    (whose config then supplies the settings)."""
    given = {k: getattr(args, k) for k in TRAIN_DEFAULTS}
    if args.resume is None:
        return {k: TRAIN_DEFAULTS[k] if v is None else v for k, v in given.items()}, None
    import vecgrad

    state = vecgrad.load(args.resume)
    config = _checkpoint_config(state, args.resume)
    conflicts = [f"--{k.replace('_', '-')} {given[k]} (checkpoint: {config[k]})"
                 for k in FIXED_BY_CHECKPOINT if given[k] is not None and given[k] != config[k]]
    if conflicts:
        raise UsageError(f"--resume {args.resume}: these flags differ from the run being "
                         f"resumed: {'; '.join(conflicts)}. Drop them to resume.")
    settings = {k: config[k] for k in FIXED_BY_CHECKPOINT}
    settings["epochs"] = given["epochs"] if given["epochs"] is not None else config["epochs"]
    settings["patience"] = (given["patience"] if given["patience"] is not None
                            else config["patience"])
    done = state.get("epoch")
    if isinstance(done, int) and settings["epochs"] <= done:
        raise UsageError(f"--resume {args.resume}: the checkpoint has already trained {done} "
                         f"epochs of {settings['epochs']}; pass --epochs N with N > {done} to "
                         "train further")
    return settings, state


def _checkpoint_config(state, path) -> dict:
    config = state.get("config") if isinstance(state, dict) else None
    needed = set(FIXED_BY_CHECKPOINT) | {"epochs", "patience"}
    if not isinstance(config, dict) or not needed <= set(config):
        missing = sorted(needed - set(config or {}))
        raise UsageError(f"{path}: not a `vecgrad train` checkpoint (its config lacks "
                         f"{', '.join(missing) if missing else 'everything'})")
    if "normalizer" not in state:
        raise UsageError(f"{path}: the checkpoint has no normalizer statistics")
    return config


def _validate(s: dict) -> None:
    from scalargrad.functions import ACTIVATIONS

    checks = [
        (s["activation"] in ACTIVATIONS, f"--activation {s['activation']!r}: choose one of "
         + ", ".join(ACTIVATIONS)),
        (s["batch_size"] >= 1, f"--batch-size must be >= 1, got {s['batch_size']}"),
        (s["epochs"] >= 1, f"--epochs must be >= 1, got {s['epochs']}"),
        (s["lr"] is None or (s["lr"] > 0 and math.isfinite(s["lr"])),
         f"--lr must be a finite number > 0, got {s['lr']}"),
        (s["weight_decay"] >= 0 and math.isfinite(s["weight_decay"]),
         f"--weight-decay must be a finite number >= 0, got {s['weight_decay']}"),
        (s["l1"] >= 0 and math.isfinite(s["l1"]),
         f"--l1 must be a finite number >= 0, got {s['l1']}"),
        (s["seed"] >= 0, f"--seed must be >= 0, got {s['seed']}"),
        (0 <= s["dropout"] < 1, f"--dropout must be in [0, 1), got {s['dropout']}"),
        (s["patience"] >= 0, f"--patience must be >= 0, got {s['patience']}"),
    ]
    for ok, message in checks:
        if not ok:
            raise UsageError(message)


def _prepare(settings: dict, bundle):
    """Loss name, model outputs, normalizer fitted on the training split."""
    from vecgrad.data import make_normalizer

    loss = settings["loss"] or ("cross_entropy" if bundle.task == "classification" else "mse")
    if bundle.task == "regression" and loss != "mse":
        raise UsageError(f"--loss {loss}: {bundle.name} is a regression dataset; use mse")
    outputs = bundle.output_size
    if loss == "bce":
        if bundle.num_classes != 2:
            raise UsageError(f"--loss bce needs two classes; {bundle.name} has "
                             f"{bundle.num_classes}: use cross_entropy")
        outputs = 1
    normalizer = make_normalizer(settings["normalize"]).fit(bundle.train.inputs)
    return loss, outputs, normalizer


def _normalized(bundle, normalizer):
    from vecgrad.data import TensorDataset

    return [TensorDataset(normalizer.transform(part.inputs), part.targets)
            for part in (bundle.train, bundle.val, bundle.test)]


def run_train(args) -> int:
    """`vecgrad train`: returns the exit status."""
    import vecgrad
    from vecgrad.data import DataLoader, load_dataset, normalizer_from_state
    from vecgrad.trainer import Trainer, TrainingDiverged

    started = time.perf_counter()
    settings, resume_state = _settings(args)
    _validate(settings)
    if args.checkpoint and not Path(args.checkpoint).resolve().parent.is_dir():
        raise UsageError(f"--checkpoint {args.checkpoint}: the folder "
                         f"{Path(args.checkpoint).resolve().parent} does not exist")
    device = resolve_device(args.device)
    data_dir = args.data_dir
    if data_dir is None and resume_state is not None:
        data_dir = resume_state["config"].get("data_dir")
    bundle = load_dataset(settings["dataset"], data_dir)
    loss, outputs, normalizer = _prepare(settings, bundle)
    if resume_state is not None:
        normalizer = normalizer_from_state(resume_state["normalizer"])
    train, val, test = _normalized(bundle, normalizer)
    lr = settings["lr"] if settings["lr"] is not None else DEFAULT_LR[settings["optimizer"]]
    settings["lr"], settings["loss"] = lr, loss
    vecgrad.manual_seed(settings["seed"])
    model = build_model(settings["model"], bundle.input_shape, outputs,
                        settings["activation"], settings["dropout"]).to(device)
    optimizer = make_optimizer(settings["optimizer"], model.parameters(), lr)
    config = dict(settings, input_shape=list(bundle.input_shape), outputs=outputs,
                  task=bundle.task, class_names=list(bundle.class_names),
                  data_dir=None if data_dir is None else str(Path(data_dir).resolve()))
    trainer = Trainer(
        model, loss, optimizer, scheduler=make_schedule(settings["schedule"], optimizer),
        epochs=settings["epochs"], l2=settings["weight_decay"], l1=settings["l1"],
        patience=settings["patience"] or None,
        checkpoint=args.checkpoint or args.resume,
        extra_state={"config": config, "normalizer": normalizer.state_dict()},
        layer_stats=not args.quiet, class_names=bundle.class_names)
    if resume_state is not None:
        trainer.load_state_dict(resume_state)
    views, stream = _views(args)
    for view in views:
        trainer.subscribe(view)
    loaders = [DataLoader(part, settings["batch_size"], shuffle=(part is train),
                          seed=settings["seed"], device=device) for part in (train, val, test)]
    status = 0
    try:
        history = trainer.fit(loaders[0], loaders[1])
    except TrainingDiverged as exc:
        if not views:  # the views already showed the message
            print(f"vecgrad train: stopped: {exc}", file=sys.stderr)
        history, status = exc.history, EXIT_DIVERGED
    if history.stop_reason == "interrupted":
        status = EXIT_INTERRUPTED
    # A run that stopped before finishing one epoch has no weights worth testing.
    result = None if trainer.best_state is None else trainer.evaluate(loaders[2], "test")
    seconds = time.perf_counter() - started
    _report(args, stream, settings, device, history, result, seconds)
    return status


def _report(args, stream, settings, device, history, result, seconds) -> None:
    if result is None:
        metric = "no test metrics (no epoch finished)"
    elif result.accuracy is not None:
        metric = f"test accuracy {100 * result.accuracy:.2f}%"
    else:
        metric = f"test loss {result.loss:.4g}"
    best = f" (best {history.best_epoch})" if history.best_epoch else ""
    summary = (f"{settings['dataset']} {settings['model']}: {metric} after "
               f"{len(history.train_loss)} epochs{best} in {seconds:.1f}s on {device}")
    if args.json:
        print(json.dumps(_json_metrics(settings, device, history, result, seconds,
                                       args.checkpoint or args.resume)), file=sys.stdout)
    else:
        print(summary, file=stream)


def _json_metrics(settings, device, history, result, seconds, checkpoint) -> dict:
    def clean(values):
        return [None if v is None or not np.isfinite(v) else float(v) for v in values]

    return {
        "dataset": settings["dataset"], "model": settings["model"], "device": device,
        "settings": settings, "seconds": round(seconds, 3),
        "stop_reason": history.stop_reason, "stop_message": history.stop_message,
        "epochs": len(history.train_loss),
        "best_epoch": history.best_epoch,
        "best_val_loss": history.best_val_loss if np.isfinite(history.best_val_loss) else None,
        "test": None if result is None else {
            "loss": result.loss, "accuracy": result.accuracy, "samples": result.samples,
            "confusion": None if result.confusion is None else result.confusion.tolist()},
        "history": {k: clean(getattr(history, k)) for k in
                    ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")},
        "checkpoint": checkpoint,
    }


# ----------------------------------------------------------------------- evaluate
def run_evaluate(args) -> int:
    """`vecgrad evaluate CHECKPOINT`: metrics on the test (or val) split."""
    import vecgrad
    from vecgrad.data import DataLoader, load_dataset, normalizer_from_state
    from vecgrad.trainer import Trainer

    started = time.perf_counter()
    state = vecgrad.load(args.checkpoint)
    config = _checkpoint_config(state, args.checkpoint)
    device = resolve_device(args.device)
    # The folder the run was trained from, unless told otherwise.
    bundle = load_dataset(config["dataset"], args.data_dir or config.get("data_dir"))
    normalizer = normalizer_from_state(state["normalizer"])
    _, val, test = _normalized(bundle, normalizer)
    model = build_model(config["model"], tuple(config["input_shape"]), int(config["outputs"]),
                        config["activation"], float(config["dropout"]))
    weights = state.get("best_model") or state.get("model")
    model.load_state_dict(weights)
    model = model.to(device)
    trainer = Trainer(model, config["loss"], None, class_names=config["class_names"])
    views, stream = _views(args)
    for view in views:
        trainer.subscribe(view)
    data = test if args.split == "test" else val
    result = trainer.evaluate(DataLoader(data, 256, device=device), args.split)
    settings = {k: config[k] for k in FIXED_BY_CHECKPOINT}
    if args.json:
        print(json.dumps({
            "checkpoint": args.checkpoint, "dataset": config["dataset"], "model": config["model"],
            "device": device, "split": args.split, "loss": result.loss,
            "accuracy": result.accuracy, "samples": result.samples, "settings": settings,
            "seconds": round(time.perf_counter() - started, 3),
            "confusion": None if result.confusion is None else result.confusion.tolist()}))
    elif args.quiet:
        accuracy = "" if result.accuracy is None else f" accuracy {100 * result.accuracy:.2f}%"
        print(f"{args.split}: loss {result.loss:.4g}{accuracy}", file=stream)
    return 0


# ---------------------------------------------------------------------- dispatch
def _run_delegated(name: str, argv: list[str]) -> int:
    module_name, text = DELEGATED[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        print(f"vecgrad {name}: not available in this installation ({module_name} is "
              "missing)", file=sys.stderr)
        return EXIT_ERROR
    parser = OneLineParser(prog=f"vecgrad {name}", description=text)
    module.add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return int(module.main(args) or 0)


def main(argv=None) -> int:
    """Entry point of the `vecgrad` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        return _run_delegated(argv[0], argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad flag (2, already explained)
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    handler = run_train if args.command == "train" else run_evaluate
    try:
        return handler(args)
    except KeyboardInterrupt:
        print(f"vecgrad {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, ValueError, CheckpointError, IDXError, OSError) as exc:
        print(f"vecgrad {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
