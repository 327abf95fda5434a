"""RunConfig: every setting of one training run, typed, validated in one place.

The command line fills a RunConfig from its flags; Python code and notebooks build one
directly (`RunConfig(model="cnn", epochs=5)`). `RunConfig.resume(path, **changes)` reads
the settings back from a checkpoint, refusing changes to what the checkpoint fixes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

# What a checkpoint fixes: a different value given together with a resume is an error.
FIXED_BY_CHECKPOINT = ("dataset", "model", "activation", "loss", "optimizer", "lr",
                       "batch_size", "weight_decay", "l1", "dropout", "schedule", "seed",
                       "normalize", "clip_grad_norm", "batch_norm")
# Settings newer than some checkpoints, with the value those checkpoints trained with.
ADDED_LATER = {"clip_grad_norm": None, "batch_norm": False}
# Settings a resumed run may change.
RESUMABLE = ("epochs", "patience")


# The ranges a checkpoint's schema accepts (vecgrad/train/schema.py): a run the flags
# allow must be resumable.
MAX_EPOCHS = 10_000_000
MAX_BATCH = 1 << 24


class ConfigError(ValueError):
    """A setting or combination of settings that cannot work (one line, no traceback)."""


@dataclass
class RunConfig:
    """The settings of `vecgrad train`; defaults reach >= 97% test accuracy on digits."""

    dataset: str = "digits"
    model: str = "mlp:128,64"
    activation: str = "relu"
    loss: str | None = None          # None: cross_entropy (classification) or mse
    optimizer: str = "adam"
    lr: float | None = None          # None: the optimizer's default (models.DEFAULT_LR)
    batch_size: int = 32
    epochs: int = 40
    weight_decay: float = 0.0
    l1: float = 0.0
    dropout: float = 0.0
    patience: int = 10               # 0: no early stopping
    schedule: str = "none"
    seed: int = 0
    normalize: str = "zscore"
    clip_grad_norm: float | None = None  # rescale each batch's gradients to this 2-norm
    batch_norm: bool = False         # BatchNorm between hidden layers and activations
    # Where the run happens; not fixed by a checkpoint.
    device: str | None = None        # cpu, opencl, opencl:P:D or auto; None: $VECGRAD_DEVICE,
                                     # else the resumed run's device, else cpu
    data_dir: str | None = None      # IDX folder for the MNIST datasets
    checkpoint: str | None = None    # written after every epoch when set
    resume_from: str | None = None   # the checkpoint a resumed run came from (for messages)

    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        """The training settings (what a checkpoint records), without device and paths."""
        return tuple(f.name for f in dataclasses.fields(cls)
                     if f.name not in ("device", "data_dir", "checkpoint", "resume_from"))

    def settings(self) -> dict:
        return {name: getattr(self, name) for name in self.setting_names()}

    def validate(self) -> RunConfig:
        """Raise ConfigError naming the first setting of a wrong type or out of range;
        returns self."""
        from scalargrad.functions import ACTIVATIONS

        from vecgrad.train.models import OPTIMIZERS

        self._check_types()
        checks = [
            (self.optimizer in OPTIMIZERS, f"--optimizer {self.optimizer!r}: choose one of "
             + ", ".join(OPTIMIZERS)),
            (self.activation in ACTIVATIONS, f"--activation {self.activation!r}: choose one "
             "of " + ", ".join(ACTIVATIONS)),
            (1 <= self.batch_size <= MAX_BATCH,
             f"--batch-size must be in 1..{MAX_BATCH}, got {self.batch_size}"),
            (1 <= self.epochs <= MAX_EPOCHS,
             f"--epochs must be in 1..{MAX_EPOCHS}, got {self.epochs}"),
            (self.lr is None or (self.lr > 0 and math.isfinite(self.lr)),
             f"--lr must be a finite number > 0, got {self.lr}"),
            (self.weight_decay >= 0 and math.isfinite(self.weight_decay),
             f"--weight-decay must be a finite number >= 0, got {self.weight_decay}"),
            (self.l1 >= 0 and math.isfinite(self.l1),
             f"--l1 must be a finite number >= 0, got {self.l1}"),
            (0 <= self.seed < 2**63, f"--seed must be in 0..2**63-1, got {self.seed}"),
            (0 <= self.dropout < 1, f"--dropout must be in [0, 1), got {self.dropout}"),
            (0 <= self.patience <= MAX_EPOCHS,
             f"--patience must be in 0..{MAX_EPOCHS}, got {self.patience}"),
            (isinstance(self.batch_norm, bool),
             f"batch_norm must be True or False, got {self.batch_norm!r}"),
            (self.clip_grad_norm is None or 0 < self.clip_grad_norm < math.inf,
             f"--clip-grad-norm must be a finite number > 0, got {self.clip_grad_norm}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self

    def _check_types(self) -> None:
        """From Python (`RunConfig(epochs="5")`) a wrong type is named here, not met as a
        TypeError inside a comparison or a KeyError later on. numpy scalars (an
        np.int64 from np.arange) become Python numbers, as the checkpoint stores them."""
        import numbers

        whole = ("batch_size", "epochs", "patience", "seed")
        real = ("lr", "weight_decay", "l1", "dropout", "clip_grad_norm")
        text = ("dataset", "model", "activation", "loss", "optimizer", "schedule", "normalize")
        optional = ("lr", "loss", "clip_grad_norm")
        for name in whole + real + text:
            value = getattr(self, name)
            if value is None and name in optional:
                continue
            if name in text:
                ok, kind = isinstance(value, str), "a string"
            else:
                kind = "an int" if name in whole else "a number"
                ok = (isinstance(value, numbers.Integral if name in whole else numbers.Real)
                      and not isinstance(value, bool))
                if ok:
                    setattr(self, name, int(value) if name in whole else float(value))
            if not ok:
                raise ConfigError(f"{name} must be {kind}, got {type(value).__name__} "
                                  f"{value!r}")
        import os

        # (data_dir=3 raised os.fspath's "expected str, bytes or os.PathLike object")
        for name, kind in (("data_dir", "a folder"), ("checkpoint", "a file name")):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise ConfigError(f"{name} must be {kind} (str or os.PathLike), got "
                                  f"{type(value).__name__} {value!r}")

    @classmethod
    def resume(cls, path, **changes) -> tuple[RunConfig, dict]:
        """The config and state of the checkpoint at `path`, with `changes` applied.

        Only epochs and patience may change; a different value for anything the
        checkpoint fixes raises ConfigError listing every conflict.
        """
        import vecgrad

        state = vecgrad.load(path, device="cpu")  # loads anywhere; the run moves it
        config = checkpoint_config(state, path)
        conflicts = [f"--{k.replace('_', '-')} {v} (checkpoint: {config[k]})"
                     for k, v in changes.items()
                     if k in FIXED_BY_CHECKPOINT and v is not None and v != config[k]]
        if conflicts:
            raise ConfigError(f"--resume {path}: these flags differ from the run being "
                              f"resumed: {'; '.join(conflicts)}. Drop them to resume.")
        settings = {k: config[k] for k in FIXED_BY_CHECKPOINT}
        for k in RESUMABLE:
            settings[k] = changes[k] if changes.get(k) is not None else config[k]
        for k in ("device", "checkpoint"):
            if changes.get(k) is not None:
                settings[k] = changes[k]
        # The data folder the run was trained from, unless told otherwise.
        settings["data_dir"] = changes.get("data_dir") or config.get("data_dir")
        settings["checkpoint"] = settings.get("checkpoint") or str(path)
        settings["resume_from"] = str(path)
        # types and ranges first: epochs="2" raised "'<=' not supported between
        # instances of 'str' and 'int'" in the check below
        resumed = cls(**settings).validate()
        _check_resumable(path, state, config, {"epochs": resumed.epochs,
                                               "patience": resumed.patience}, changes)
        return resumed, state


def _check_resumable(path, state, config, settings, changes) -> None:
    """Is there anything left to train? The rule for a run that ended:

    - It finished its epochs: pass --epochs N with N above the epochs done.
    - It stopped early (no better validation loss for `patience` epochs): it trains again
      when --patience is raised above the epochs without improvement (the count goes on)
      or when --epochs is given (the count starts over). Otherwise there is nothing to do,
      and the error says so instead of "resuming" into zero epochs.
    """
    done, epochs = state["epoch"], settings["epochs"]
    if epochs <= done:
        asked = (f"--epochs {epochs} asks for no more" if changes.get("epochs") is not None
                 else f"it finished all {done} epochs")
        raise ConfigError(f"--resume {path}: the run has already trained {done} epochs and "
                          f"{asked}; pass --epochs N with N > {done} to train further")
    bad = state["early_stopping"]["bad_epochs"]
    old_patience, patience = config["patience"], settings["patience"]
    if not (old_patience and bad >= old_patience):
        return  # interrupted or killed: it simply continues
    if changes.get("patience") is not None and (patience == 0 or patience > bad):
        return
    if changes.get("epochs") is not None and changes.get("patience") is None:
        # More epochs asked for explicitly: early stopping gets a fresh count.
        state["early_stopping"]["bad_epochs"] = 0
        return
    raise ConfigError(f"--resume {path}: the run stopped early after epoch {done} (no better "
                      f"validation loss for {bad} epochs; best epoch "
                      f"{state['early_stopping']['best_epoch']}); to train on, pass --patience "
                      f"N with N > {bad} (0 = off), or --epochs N to restart the count")


def checkpoint_config(state, path) -> dict:
    """The `config` entry of a `vecgrad train` checkpoint, after the whole state passed
    the schema check (vecgrad.train.schema: types, ranges, sizes; CheckpointError
    naming the file and the entry otherwise). Settings newer than the checkpoint get
    the value it was trained with (ADDED_LATER)."""
    from vecgrad.train.schema import check_trainer_state

    if isinstance(state, dict) and isinstance(state.get("config"), dict):
        state["config"] = {**ADDED_LATER, **state["config"]}
    return check_trainer_state(state, path)
