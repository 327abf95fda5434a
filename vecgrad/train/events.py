"""What a Trainer tells its views: one frozen dataclass per event, plus the History.

Views (vecgrad.train.views, the tutorials, tests) depend on this module only, never on the
training loop, so a view cannot reach into training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FitStart:
    """Training begins (or resumes at `start_epoch`, counted from 0)."""
    epochs: int
    start_epoch: int
    batches_per_epoch: int
    train_samples: int
    val_samples: int
    device: str
    parameters: int
    model: str


@dataclass(frozen=True)
class EpochStart:
    epoch: int  # 1-based
    epochs: int
    batches: int
    lr: float


@dataclass(frozen=True)
class BatchEnd:
    epoch: int
    batch: int  # 1-based
    batches: int
    loss: float
    samples: int  # samples in this batch
    seconds: float  # since the epoch started
    grad_norm: float | None = None  # the gradients' 2-norm before clipping (if clipping)


@dataclass(frozen=True)
class LayerStat:
    """One module's forward output statistics and its parameters' gradient norm."""
    name: str
    kind: str
    mean: float | None
    std: float | None
    dead_fraction: float | None  # ReLU units that were zero for every sample
    grad_norm: float | None


@dataclass(frozen=True)
class LayerStats:
    epoch: int
    layers: tuple


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float | None
    val_loss: float
    val_accuracy: float | None
    lr: float
    seconds: float
    improved: bool
    best_epoch: int
    grad_norm: float | None = None  # the largest pre-clip gradient norm of the epoch
    clipped_batches: int = 0  # batches whose gradients were clipped
    clip_grad_norm: float | None = None  # the clipping threshold (None: no clipping)


@dataclass(frozen=True)
class FitEnd:
    """reason: completed, early_stop, interrupted, diverged, or failed (an exception
    other than divergence; it propagates from fit() right after this event)."""
    reason: str
    epochs_run: int
    best_epoch: int
    best_val_loss: float
    message: str
    history: "History"


@dataclass(frozen=True)
class EvalEnd:
    split: str
    loss: float
    accuracy: float | None
    samples: int
    confusion: np.ndarray | None
    class_names: tuple


@dataclass
class History:
    """Per-epoch metrics of one fit (resumed fits continue the same lists)."""
    train_loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    stop_reason: str = ""
    stop_message: str = ""

    SERIES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")

    def state_dict(self) -> dict:
        # None (no accuracy for regression) is stored as NaN in the float arrays.
        return {k: np.array([np.nan if v is None else v for v in getattr(self, k)],
                            dtype=np.float64) for k in self.SERIES}

    def records(self) -> list:
        """One plain dict per epoch, e.g. {"epoch": 1, "train_loss": 0.9, "val_loss": 0.8,
        "val_accuracy": 0.7, ...} (None where nothing was measured): ready for a plot, a
        CSV writer or pandas.DataFrame, without needing pandas here."""
        count = max((len(getattr(self, k)) for k in self.SERIES), default=0)
        return [{"epoch": i + 1, **{k: (getattr(self, k)[i] if i < len(getattr(self, k))
                                        else None) for k in self.SERIES}}
                for i in range(count)]

    def load_state_dict(self, state: dict) -> None:
        for key in self.SERIES:
            values = np.asarray(state[key], dtype=np.float64).reshape(-1)
            setattr(self, key, [None if np.isnan(v) else float(v) for v in values])


class TrainingDiverged(RuntimeError):
    """A loss or gradient became NaN/inf; the message names where and the likely cause."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history



__all__ = ["FitStart", "EpochStart", "BatchEnd", "LayerStat", "LayerStats", "EpochEnd",
           "FitEnd", "EvalEnd", "History", "TrainingDiverged"]
