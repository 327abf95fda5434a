"""One training run from a RunConfig, in one pass: data, model, optimizer, fit, test.

    from vecgrad.train import RunConfig, run
    result = run(RunConfig(model="mlp:64", epochs=5))
    result.test.accuracy, result.history.val_loss

This is what `vecgrad train` and `vecgrad evaluate` do after parsing their flags; the
command line only parses and prints, so Python code and notebooks get the same run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from vecgrad.train.config import FIXED_BY_CHECKPOINT, ConfigError, RunConfig, checkpoint_config
from vecgrad.train.models import DEFAULT_LR, build_model, make_optimizer, make_schedule
from vecgrad.train.schema import check_against_dataset


@dataclass
class RunResult:
    """What a run leaves: the history, test metrics (None if no epoch finished), and
    how it ended ("finished", "early_stop", "diverged", "interrupted", ...)."""

    settings: dict                 # the training settings, lr and loss resolved
    device: str
    history: object                # vecgrad.train.events.History
    test: object | None            # vecgrad.train.trainer EvalResult, or None
    seconds: float
    diverged: bool = False
    message: str = ""              # why training stopped early (divergence), if it did
    trainer: object = field(default=None, repr=False)
    notes: list = field(default_factory=list)   # sentences for the user (device fallback)
    # OpenCL devices: what the run asked of the device's queue (launches, reads, writes,
    # blocking_writes, waits over the whole run, evaluation included) and the training
    # batches of its epochs; None on cpu
    queue: dict | None = None

    @property
    def interrupted(self) -> bool:
        return self.history.stop_reason == "interrupted"


def choose_device(requested: str | None, run_device: str | None = None) -> tuple[str, str]:
    """The device a run uses, and a sentence to show the user ("" when nothing to say).

    The rule of every entry point: `requested` (--device) > $VECGRAD_DEVICE > the device
    the checkpoint's run used (`run_device`, on resume or evaluate) > cpu. A device that
    was asked for and does not open is an error (DeviceError, one line naming the flag or
    the variable); a checkpoint's device that does not open here is mapped to cpu, like
    torch's map_location, and the sentence says so.
    """
    from vecgrad.backends import DeviceError, device_setting, resolve_device

    text, origin = device_setting(requested, fallback=run_device or "cpu")
    if origin != "default" or run_device is None:
        return resolve_device(text, origin), ""
    try:
        return resolve_device(run_device, "checkpoint"), ""
    except DeviceError:
        return "cpu", (f"the checkpoint's run used {run_device}, which does not open here; "
                       "continuing on cpu (results may differ in the last digits)")


def _check_writable(checkpoint) -> None:
    """Before training: can the checkpoint be written where asked? (Found out after a
    whole epoch otherwise, and about a temp file the user never named.)"""
    from vecgrad.checkpoint import CheckpointError, check_writable

    try:
        check_writable(checkpoint, "--checkpoint")
    except CheckpointError as exc:
        raise ConfigError(str(exc)) from None


def _default_loss(loss, task: str) -> str:
    """The loss name a run uses: the one given, else its task's (cross-entropy, mse)."""
    return loss or ("cross_entropy" if task == "classification" else "mse")


def _prepare(settings: dict, bundle):
    """Loss name, model outputs, normalizer fitted on the training split."""
    from vecgrad.data import make_normalizer

    loss = _default_loss(settings["loss"], bundle.task)
    if bundle.task == "regression" and loss != "mse":
        raise ConfigError(f"--loss {loss}: {bundle.name} is a regression dataset; use mse")
    outputs = bundle.output_size
    if loss == "bce":
        if bundle.num_classes != 2:
            raise ConfigError(f"--loss bce needs two classes; {bundle.name} has "
                              f"{bundle.num_classes}: use cross_entropy")
        outputs = 1
    normalizer = make_normalizer(settings["normalize"]).fit(bundle.train.inputs)
    return loss, outputs, normalizer


def _normalized(bundle, normalizer):
    from vecgrad.data import TensorDataset

    return [TensorDataset(normalizer.transform(part.inputs), part.targets)
            for part in (bundle.train, bundle.val, bundle.test)]


def run(config: RunConfig, *, resume_state: dict | None = None, views=(),
        layer_stats: bool = True) -> RunResult:
    """Train as `config` says and test the best weights; never prints (views watch).

    `resume_state` is the state from `RunConfig.resume(path)`; training then continues
    where the checkpoint stopped and ends bit-identical to one uninterrupted run.
    """
    import vecgrad
    from vecgrad.data import DataLoader, load_dataset, normalizer_from_state
    from vecgrad.train.trainer import Trainer, TrainingDiverged

    started = time.perf_counter()
    config.validate()
    checkpoint = config.checkpoint
    if checkpoint is not None:  # "" too: it named the working folder, found after an epoch
        _check_writable(checkpoint)
    run_device = None if resume_state is None else saved_device(resume_state)
    device, note = choose_device(config.device, run_device)
    settings = config.settings()
    bundle = load_dataset(settings["dataset"], config.data_dir)
    loss, outputs, normalizer = _prepare(settings, bundle)
    source = config.resume_from or "the resumed checkpoint"
    if resume_state is not None:
        check_against_dataset(resume_state["config"], bundle, source)
        normalizer = _from_checkpoint(source, "normalizer", normalizer_from_state,
                                      resume_state["normalizer"])
    train, val, test = _normalized(bundle, normalizer)
    _check_batch_norm_batches(settings, len(train))
    lr = settings["lr"] if settings["lr"] is not None else DEFAULT_LR[settings["optimizer"]]
    settings["lr"], settings["loss"] = lr, loss
    vecgrad.manual_seed(settings["seed"])
    if resume_state is None:
        model = build_model(settings["model"], bundle.input_shape, outputs,
                            settings["activation"], settings["dropout"],
                            batch_norm=settings["batch_norm"])
    else:
        model = _from_checkpoint(source, "the model", partial(
            build_model, batch_norm=settings["batch_norm"]), settings["model"],
            bundle.input_shape, outputs, settings["activation"], settings["dropout"],
            _saved_parameters(resume_state))
    model = model.to(device)
    optimizer = make_optimizer(settings["optimizer"], model.parameters(), lr)
    data_dir = config.data_dir
    saved_config = dict(settings, input_shape=list(bundle.input_shape), outputs=outputs,
                        task=bundle.task, class_names=list(bundle.class_names), device=device,
                        data_dir=None if data_dir is None else str(Path(data_dir).resolve()))
    trainer = Trainer(
        model, loss, optimizer, scheduler=make_schedule(settings["schedule"], optimizer),
        epochs=settings["epochs"], l2=settings["weight_decay"], l1=settings["l1"],
        patience=settings["patience"] or None, checkpoint=checkpoint,
        extra_state={"config": saved_config, "normalizer": normalizer.state_dict()},
        layer_stats=layer_stats, class_names=bundle.class_names,
        clip_grad_norm=settings["clip_grad_norm"])
    trainer.input_normalization = settings["normalize"]
    if resume_state is not None:
        _from_checkpoint(source, "the training state", trainer.load_state_dict, resume_state)
    for view in views:
        trainer.subscribe(view)
    loaders = [DataLoader(part, settings["batch_size"], shuffle=(part is train),
                          seed=settings["seed"], device=device) for part in (train, val, test)]
    diverged, message = False, ""
    stats = getattr(getattr(vecgrad.get_backend(device), "runtime", None), "stats", None)
    before = None if stats is None else stats.as_dict()
    first_epoch = trainer.start_epoch
    try:
        history = trainer.fit(loaders[0], loaders[1])
    except TrainingDiverged as exc:
        history, diverged, message = exc.history, True, str(exc)
    # A run that stopped before finishing one epoch has no weights worth testing.
    result = None if trainer.best_state is None else trainer.evaluate(loaders[2], "test")
    queue = None
    if stats is not None:
        queue = {name: value - before[name] for name, value in stats.as_dict().items()}
        queue["training_batches"] = (len(history.train_loss) - first_epoch) * len(loaders[0])
    return RunResult(settings=settings, device=device, history=history, test=result,
                     seconds=time.perf_counter() - started, diverged=diverged,
                     message=message, trainer=trainer, notes=[note] if note else [],
                     queue=queue)


def _check_batch_norm_batches(settings, samples: int) -> None:
    """BatchNorm cannot normalize a batch of one sample: say so before training, not as
    "use a larger batch" at the end of the first epoch when only the last batch is short."""
    size = settings["batch_size"]
    if not settings["batch_norm"]:
        return
    if size == 1:
        raise ConfigError("--batch-norm needs batches of 2 or more samples, got --batch-size 1")
    if samples % size == 1:
        raise ConfigError(f"--batch-norm needs batches of 2 or more samples: with --batch-size "
                          f"{size} the last batch of each epoch holds 1 of the {samples} "
                          f"training samples ({samples} = {samples // size}·{size} + 1); "
                          "choose another --batch-size")


@dataclass
class Evaluation:
    """Metrics of a checkpoint's best weights on one split."""

    checkpoint: str
    config: dict                   # the run's saved config
    device: str
    split: str
    result: object                 # vecgrad.train.trainer EvalResult
    seconds: float
    note: str = ""                 # a sentence for the user (device fallback), or ""

    def settings(self) -> dict:
        return {k: self.config[k] for k in FIXED_BY_CHECKPOINT}


def _from_checkpoint(source, what: str, load, *args):
    """`load(*args)`, a failure reported as CheckpointError naming the file."""
    from vecgrad.checkpoint import CheckpointError

    try:
        return load(*args)
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"{source}: {what} does not fit this run: {exc}") from None


def _saved_parameters(state) -> int:
    """How many numbers the checkpoint's model holds: the most a model rebuilt from its
    spec may allocate (a forged spec cannot ask for more than the file carries)."""
    return sum(int(array.size) for array in state["model"].values())


def saved_device(state) -> str | None:
    """The device a checkpoint's run trained on (None for checkpoints without it)."""
    config = state.get("config") if isinstance(state, dict) else None
    device = config.get("device") if isinstance(config, dict) else None
    return device if isinstance(device, str) else None


def evaluate(checkpoint, split: str = "test", device: str | None = None,
             data_dir: str | None = None, views=()) -> Evaluation:
    """Test (or validation) metrics of the best weights a `vecgrad train` run saved."""
    import vecgrad
    from vecgrad.data import DataLoader, load_dataset, normalizer_from_state
    from vecgrad.train.trainer import Trainer

    started = time.perf_counter()
    state = vecgrad.load(checkpoint, device="cpu")  # loads anywhere; moved below
    config = checkpoint_config(state, checkpoint)
    device, note = choose_device(device, saved_device(state))
    # The folder the run was trained from, unless told otherwise.
    bundle = load_dataset(config["dataset"], data_dir or config.get("data_dir"))
    check_against_dataset(config, bundle, checkpoint)
    normalizer = _from_checkpoint(checkpoint, "normalizer", normalizer_from_state,
                                  state["normalizer"])
    _, val, test = _normalized(bundle, normalizer)
    model = _from_checkpoint(checkpoint, "the model", partial(
        build_model, batch_norm=config["batch_norm"]), config["model"],
        tuple(config["input_shape"]), int(config["outputs"]), config["activation"],
        float(config["dropout"]), _saved_parameters(state))
    weights = state.get("best_model") or state.get("model")
    _from_checkpoint(checkpoint, "the model", model.load_state_dict, weights)
    model = model.to(device)
    # A checkpoint may leave the loss unset (the schema allows it): the task's default,
    # as in training (None reached Trainer and ended in a TypeError traceback).
    trainer = Trainer(model, _default_loss(config["loss"], config["task"]), None,
                      class_names=config["class_names"])
    for view in views:
        trainer.subscribe(view)
    data = test if split == "test" else val
    # The run's batch size: float32 sums of other batches differed from the numbers the
    # run printed and saved (its best validation loss, its test loss) in the 7th digit.
    result = trainer.evaluate(DataLoader(data, int(config["batch_size"]), device=device),
                              split)
    return Evaluation(checkpoint=str(checkpoint), config=config, device=device, split=split,
                      result=result, seconds=time.perf_counter() - started, note=note)
