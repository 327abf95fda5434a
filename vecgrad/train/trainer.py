"""Trainer: the training loop, early stopping, checkpoints, metrics, NaN diagnosis.

The Trainer never prints. It emits the events of vecgrad.train.events to every
subscribed view (any callable taking one event); vecgrad.train.views renders them. Early
stopping follows lecture 000: keep a checkpoint of the best validation loss, stop
after `patience` epochs without a new minimum, and restore the best weights at the end.

The events, the named losses and the layer hooks live in their own modules
(events.py, losses.py, layer_watch.py); their names are re-exported here.
"""

from __future__ import annotations

import json
import math
import numbers
import time
from typing import Callable

import numpy as np

import vecgrad
from vecgrad.checkpoint import SaveAbandoned, check_writable
from vecgrad.data import DataLoader, Dataset
from vecgrad.train.layer_watch import LayerWatch
from vecgrad.nn import Module
from vecgrad.nn.utils import clip_grad_norm_
from vecgrad.train.events import (BatchEnd, EpochEnd, EpochStart, EvalEnd, FitEnd,
                                     FitStart, History, LayerStat, LayerStats,
                                     TrainingDiverged)
from vecgrad.train.losses import LOSSES, Loss, get_loss

CHECKPOINT_FORMAT = "vecgrad-trainer"
CHECKPOINT_VERSION = 1


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


# the entries of Trainer.state_dict() (extra_state adds its own beside them)
_TRAINER_KEYS = ("format", "version", "epoch", "model", "best_model", "optimizer", "scheduler",
                 "rng", "early_stopping", "history")


class Trainer:
    """Fit a model with mini-batch gradient descent, early stopping and checkpoints.

    Args:
        model: a vecgrad.nn.Module.
        loss: "cross_entropy", "mse", "bce", a Loss, or a callable(outputs, targets).
        optimizer: a vecgrad.optim optimizer over model.parameters() (None is fine for a
            Trainer that only evaluates).
        scheduler: optional learning-rate schedule (its step() runs once per epoch).
        epochs: the total number of epochs (a resumed fit continues up to it).
        batch_size, seed: used when fit() is given Datasets instead of DataLoaders;
            `seed` orders the shuffles.
        l1, l2: penalties λ·Σ|w| and λ·Σw² added to the loss, over weights (ndim >= 2),
            not biases. The reported losses are the data losses without them.
        patience: stop after this many epochs without a new best validation loss
            (None: never stop early).
        checkpoint: path of a checkpoint written after every epoch; it holds the
            current state (for --resume) and the best weights.
        extra_state: dict saved in every checkpoint (model spec, normalizer, ...).
        layer_stats: record per-layer forward/gradient stats once per epoch.
        class_names: labels for the confusion matrix.
        clip_grad_norm: rescale the gradients of every batch to this joint 2-norm at most
            (nn.utils.clip_grad_norm_); batches and epochs then report the norm before
            clipping. None: no clipping.
    """

    def __init__(self, model, loss, optimizer, *, scheduler=None, epochs: int = 10,
                 batch_size: int = 32, seed: int = 0, l1: float = 0.0, l2: float = 0.0,
                 patience: int | None = None, checkpoint=None, extra_state: dict | None = None,
                 layer_stats: bool = True, class_names=(), clip_grad_norm: float | None = None):
        # numpy numbers (np.int64 from np.arange, np.float32 from an array) are numbers
        # here as in RunConfig; bools are not (epochs=True trained one epoch).
        for name, value in (("l1", l1), ("l2", l2)):
            if not (_is_real(value) and value >= 0 and math.isfinite(value)):
                raise ValueError(f"Trainer: {name} must be a finite number >= 0, got {value!r}")
        if clip_grad_norm is not None and not (_is_real(clip_grad_norm) and
                                               0 < clip_grad_norm < math.inf):
            raise ValueError(f"Trainer: clip_grad_norm must be a finite number > 0 or None, "
                             f"got {clip_grad_norm!r}")
        if not _is_int(epochs) or epochs < 1:
            raise ValueError(f"Trainer: epochs must be an int >= 1, got {epochs!r}")
        if patience is not None and (not _is_int(patience) or patience < 1):
            raise ValueError(f"Trainer: patience must be an int >= 1 or None, got {patience!r}")
        epochs = int(epochs)
        patience = None if patience is None else int(patience)
        if not isinstance(model, Module):
            raise TypeError(f"Trainer: model must be a vecgrad.nn.Module, got "
                            f"{type(model).__name__}")
        if optimizer is not None:
            # An optimizer over another model's parameters would train nothing, silently.
            own = {id(p) for p in model.parameters()}
            foreign = [p for p in getattr(optimizer, "params", ()) if id(p) not in own]
            if foreign:
                raise ValueError(f"Trainer: the optimizer holds {len(foreign)} parameter(s) "
                                 "that are not the model's; build it from model.parameters()")
        if scheduler is not None:
            # found only at the end of the first epoch otherwise (AttributeError), or
            # never: a schedule of another optimizer changed that one's lr, silently
            if not callable(getattr(scheduler, "step", None)):
                raise TypeError(f"Trainer: scheduler must have a step() method (e.g. "
                                f"optim.StepDecay(optimizer, 10, 0.5)), got "
                                f"{type(scheduler).__name__}")
            scheduled = getattr(scheduler, "optimizer", optimizer)
            if optimizer is not None and scheduled is not optimizer:
                raise ValueError("Trainer: the scheduler was built for another optimizer; "
                                 "build it from the one given to the Trainer")
        self.model = model
        self.loss = get_loss(loss)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed
        self.l1, self.l2 = float(l1), float(l2)
        self.patience = patience
        self.checkpoint = checkpoint
        self.extra_state = dict(extra_state or {})
        # state_dict() adds these after its own entries: a clash replaced the weights or
        # the epoch count in every checkpoint, silently (the resume then failed)
        clash = sorted(set(self.extra_state) & set(_TRAINER_KEYS))
        if clash:
            raise ValueError(f"Trainer: extra_state may not use the trainer's own "
                             f"checkpoint entries {clash}; choose other names")
        self.layer_stats = layer_stats
        self.class_names = tuple(class_names)
        self.clip_grad_norm = None if clip_grad_norm is None else float(clip_grad_norm)
        self.views: list[Callable] = []
        self.history = History()
        self.start_epoch = 0
        self.bad_epochs = 0
        self.best_state: dict | None = None
        self.epochs_done = 0            # epochs finished (history holds one row each)
        # How the inputs were scaled ("zscore", "minmax", "none"; None: not known). Only
        # for advice: a diverging run is not told to normalize inputs that already are.
        self.input_normalization: str | None = None
        self.saved = None               # (epochs, best epoch) in the checkpoint file, once written

    # ------------------------------------------------------------------ events
    def subscribe(self, view: Callable) -> None:
        """Send every event to `view(event)` from now on."""
        if not callable(view):
            raise TypeError(f"Trainer.subscribe: {view!r} is not callable")
        self.views.append(view)

    def emit(self, event) -> None:
        for view in self.views:
            view(event)

    # ----------------------------------------------------------------- helpers
    def _loader(self, data, shuffle: bool, what: str = "data") -> DataLoader:
        loader = self._make_loader(data, shuffle)
        if len(loader) == 0:  # a ZeroDivisionError at the end of the epoch otherwise
            raise ValueError(f"Trainer: the {what} loader gives no batches ("
                             f"{len(loader.dataset)} samples, batch_size {loader.batch_size}, "
                             "drop_last=True)")
        return loader

    def _make_loader(self, data, shuffle: bool) -> DataLoader:
        if isinstance(data, DataLoader):
            return data
        if isinstance(data, Dataset):
            return DataLoader(data, self.batch_size, shuffle=shuffle, seed=self.seed,
                              device=self._device(), dtype=self._float_dtype())
        raise TypeError(f"Trainer: expected a Dataset or DataLoader, got {type(data).__name__}")

    def _penalty(self):
        total = None
        for param in self.model.parameters():
            if param.ndim < 2:
                continue
            if self.l2:
                term = (param * param).sum() * self.l2
                total = term if total is None else total + term
            if self.l1:
                term = param.abs().sum() * self.l1
                total = term if total is None else total + term
        return total

    def _float_dtype(self):
        """The model's float dtype (its parameters', else float32): the batches' (layers
        refuse input of the other float dtype)."""
        for tensor in (*self.model.parameters(), *self.model.buffers()):
            if tensor.dtype in (np.float32, np.float64):
                return tensor.dtype
        return np.float32

    def _device(self) -> str:
        """The model's device: its parameters', else its buffers', else the default
        (a model without tensors, such as Sequential(ReLU()), raised a bare
        StopIteration)."""
        from vecgrad.backends import default_device

        for tensor in (*self.model.parameters(), *self.model.buffers()):
            return tensor.device
        return default_device()

    # --------------------------------------------------------------- evaluate
    def evaluate(self, data, split: str = "test", watch: LayerWatch | None = None,
                 emit: bool = True):
        """Loss, accuracy and confusion matrix on `data` (eval mode, no gradients)."""
        loader = self._loader(data, False, split)
        self.model.eval()
        # Sums and predictions stay on the device until the end: two host reads per
        # evaluation, not three per batch (each read waits for an OpenCL queue).
        loss_sum, count, predictions, targets = None, 0, [], []
        with vecgrad.no_grad():
            for index, (inputs, labels) in enumerate(loader):
                if watch is not None:
                    watch.recording = index == 0
                outputs = self.model(inputs)
                if watch is not None:
                    watch.recording = False
                loss = self.loss(outputs, labels)
                if loss_sum is None:
                    loss_sum = vecgrad.zeros((), dtype=loss.dtype, device=loss.device)
                loss_sum.add_(loss, alpha=float(len(labels)))  # one launch per batch
                count += len(labels)
                if labels.dtype == np.int64:
                    predictions.append(self.loss.predict_tensor(outputs))
                    targets.append(labels.reshape(-1))
            total = 0.0 if loss_sum is None else float(loss_sum.item())
        accuracy, confusion = None, None
        if predictions:  # integer targets: a classification task
            both = vecgrad.cat([vecgrad.cat(predictions), vecgrad.cat(targets)]).numpy()
            predicted, actual = both[:len(both) // 2], both[len(both) // 2:]
            accuracy = float(np.mean(predicted == actual))
            classes = max(len(self.class_names), int(actual.max()) + 1, int(predicted.max()) + 1)
            confusion = np.zeros((classes, classes), dtype=np.int64)
            np.add.at(confusion, (actual, predicted), 1)
        result = EvalEnd(split, total / count, accuracy, count, confusion, self.class_names)
        if emit:
            self.emit(result)
        return result

    # ----------------------------------------------------------- checkpoints
    def state_dict(self, epochs_done: int) -> dict:
        """Everything --resume needs, plus the best weights and `extra_state`."""
        state = {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "epoch": epochs_done,
            "model": {k: v.numpy() for k, v in self.model.state_dict().items()},
            "best_model": None if self.best_state is None else
            {k: v.numpy() if hasattr(v, "numpy") else v for k, v in self.best_state.items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            # Big-integer generator state survives as JSON text.
            "rng": json.dumps(vecgrad.random_generator().bit_generator.state),
            "early_stopping": {"best_epoch": self.history.best_epoch,
                               "best_val_loss": self.history.best_val_loss,
                               "bad_epochs": self.bad_epochs},
            "history": self.history.state_dict(),
        }
        state.update(self.extra_state)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Continue from a checkpoint written by `state_dict` (model, optimizer, RNG, ...)."""
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a vecgrad trainer checkpoint (its 'format' entry is "
                             f"{state.get('format') if isinstance(state, dict) else state!r})")
        missing = [k for k in ("epoch", "model", "optimizer", "rng", "early_stopping", "history")
                   if k not in state]
        if missing:
            raise ValueError(f"trainer checkpoint lacks {', '.join(missing)}")
        try:
            history = History()
            history.load_state_dict(state["history"])
            stopping = state["early_stopping"]
            history.best_epoch = int(stopping["best_epoch"])
            history.best_val_loss = float(stopping["best_val_loss"])
            bad_epochs, start_epoch = int(stopping["bad_epochs"]), int(state["epoch"])
            rng = json.loads(state["rng"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"trainer checkpoint has a malformed entry: {exc!r}") from None
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        try:
            vecgrad.random_generator().bit_generator.state = rng
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"trainer checkpoint: unusable random generator state ({exc})") \
                from None
        self.history, self.bad_epochs, self.start_epoch = history, bad_epochs, start_epoch
        self.epochs_done = start_epoch
        self.best_state = state.get("best_model")

    def _save_checkpoint(self, epochs_done: int) -> None:
        if self.checkpoint is not None:
            # vecgrad.save holds Ctrl-C/SIGTERM until the file is complete, then delivers
            # it: `saved` below is then true, and the summary can say what the file holds.
            before, self.saved = self.saved, (epochs_done, self.history.best_epoch)
            try:
                vecgrad.save(self.state_dict(epochs_done), self.checkpoint)
            except BaseException as exc:
                # A plain KeyboardInterrupt comes after a complete save; anything else
                # (a failed write, a second signal that abandoned it) left the old file.
                if not isinstance(exc, KeyboardInterrupt) or isinstance(exc, SaveAbandoned):
                    self.saved = before
                raise

    def checkpoint_summary(self) -> str:
        """What the checkpoint file holds, in words (for messages at the end of a run)."""
        if self.checkpoint is None:
            return "no checkpoint file"
        if self.saved is None:
            return f"{self.checkpoint} was not written in this run"
        epochs, best = self.saved
        return (f"{self.checkpoint} holds {epochs} epoch(s)"
                + (f", best epoch {best}" if best else ""))

    def _restore_best(self) -> None:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)

    # -------------------------------------------------------------------- fit
    def fit(self, train, val) -> History:
        """Train until `epochs`, early stop, Ctrl-C, or divergence; restore the best weights.

        `epochs` counts from the very first fit: calling fit() again (after raising
        `trainer.epochs`) continues the same run, like --resume.

        Returns the History (its stop_reason says why it ended). Raises TrainingDiverged
        when a loss or gradient becomes NaN/inf (after restoring the best weights).
        """
        if self.optimizer is None:
            raise ValueError("Trainer.fit: no optimizer was given (Trainer(model, loss, "
                             "optimizer=vecgrad.optim.Adam(model.parameters())))")
        train_loader = self._loader(train, True, "training")
        val_loader = self._loader(val, False, "validation")
        if self.checkpoint is not None:  # found after a whole epoch otherwise
            check_writable(self.checkpoint, "Trainer: checkpoint")
        self.emit(FitStart(self.epochs, self.start_epoch, len(train_loader),
                           len(train_loader.dataset), len(val_loader.dataset), self._device(),
                           count_parameters(self.model), repr(self.model)))
        watch = LayerWatch(self.model)
        reason, message = "completed", ""
        epoch = self.start_epoch
        self.epochs_done = self.start_epoch
        terminate = _TerminateAsInterrupt()
        # Overflow is detected and explained below; numpy's warnings would only add noise.
        try:
            with terminate, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while epoch < self.epochs:
                    if self.patience is not None and self.bad_epochs >= self.patience:
                        reason = "early_stop"
                        message = (f"no new best validation loss for {self.patience} epochs; "
                                   f"best was epoch {self.history.best_epoch}")
                        break
                    self._train_epoch(epoch, train_loader, val_loader, watch)
                    epoch += 1
        except KeyboardInterrupt:
            reason = "interrupted"
            message = "stopped by SIGTERM" if terminate.received else "stopped by Ctrl-C"
        except TrainingDiverged as exc:
            reason, message = "diverged", str(exc)
        except Exception as exc:
            # A bug or a bad input (e.g. a shape error): let the views close their live
            # displays before the error propagates, so it prints on a clean terminal.
            self.emit(FitEnd("failed", epoch - self.start_epoch, self.history.best_epoch,
                             self.history.best_val_loss, f"{type(exc).__name__}: {exc}",
                             self.history))
            raise
        finally:
            watch.remove()
        # A later fit() continues from here up to `epochs` (an epoch whose checkpoint was
        # being written when a signal came is finished: the save completes first).
        epoch = max(epoch, self.epochs_done)
        epochs_run, self.start_epoch = epoch - self.start_epoch, epoch
        self._restore_best()
        self.history.stop_reason, self.history.stop_message = reason, message
        if reason == "interrupted" and self.best_state is not None:
            message += f"; kept the best weights (epoch {self.history.best_epoch})"
        if reason == "interrupted" and self.checkpoint is not None:
            message += "; " + self.checkpoint_summary()
        self.emit(FitEnd(reason, epochs_run, self.history.best_epoch,
                         self.history.best_val_loss, message, self.history))
        if reason == "diverged":
            raise TrainingDiverged(message, self.history)
        return self.history

    def _train_epoch(self, epoch: int, train_loader, val_loader, watch: LayerWatch) -> None:
        started = time.perf_counter()
        train_loader.set_epoch(epoch)
        self.model.train()
        self.emit(EpochStart(epoch + 1, self.epochs, len(train_loader), self.optimizer.lr))
        if self.clip_grad_norm is None:
            figures = self._train_batches_on_device(epoch, train_loader, watch, started)
        else:  # clipping reports each batch's norm: read per batch
            figures = self._train_batches(epoch, train_loader, watch, started)
        total, count, correct, classified, largest_norm, clipped, grad_norms = figures
        result = self.evaluate(val_loader, "val", watch if self.layer_stats else None, emit=False)
        if not math.isfinite(result.loss):
            self._diagnose_validation(result.loss, val_loader, epoch)
        lr = self.optimizer.lr
        if self.scheduler is not None:
            self.scheduler.step()
        improved = result.loss < self.history.best_val_loss
        if improved:
            self.history.best_val_loss, self.history.best_epoch = result.loss, epoch + 1
            # device copies (no read per epoch); checkpoints convert them when saved
            with vecgrad.no_grad():
                self.best_state = {k: v.clone() for k, v in self.model.state_dict().items()}
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        seconds = time.perf_counter() - started
        h = self.history
        h.train_loss.append(total / count)
        h.train_accuracy.append(correct / count if classified else None)
        h.val_loss.append(result.loss)
        h.val_accuracy.append(result.accuracy)
        h.lr.append(lr)
        h.seconds.append(seconds)
        self.epochs_done = epoch + 1
        self._save_checkpoint(epoch + 1)
        self.emit(EpochEnd(epoch + 1, self.epochs, total / count, h.train_accuracy[-1],
                           result.loss, result.accuracy, lr, seconds, improved, h.best_epoch,
                           largest_norm, clipped, self.clip_grad_norm))
        if self.layer_stats:
            self.emit(LayerStats(epoch + 1, watch.table(grad_norms)))

    def _forward_backward(self, inputs, targets):
        """One batch's forward pass, loss (plus any penalty) and gradients, the same in
        both batch loops; returns (outputs, data loss without the penalty)."""
        outputs = self.model(inputs)
        data_loss = self.loss(outputs, targets)
        penalty = self._penalty()
        objective = data_loss if penalty is None else data_loss + penalty
        self.optimizer.zero_grad()
        objective.backward()
        return outputs, data_loss

    def _train_batches(self, epoch: int, train_loader, watch: LayerWatch, started: float):
        """One epoch's batches, checked one by one (one host read per batch): a
        non-finite loss or gradient is explained before any update. Returns (loss sum,
        samples, right predictions, classified, largest pre-clip norm, clipped batches,
        last batch's gradient norms per module)."""
        total, count, correct, classified = 0.0, 0, 0, False
        largest_norm, clipped = None, 0  # pre-clip gradient norms (with clip_grad_norm)
        grad_norms: dict[str, float] = {}
        batches = len(train_loader)
        for index, (inputs, targets) in enumerate(train_loader):
            outputs, data_loss = self._forward_backward(inputs, targets)
            # The loss, whether every gradient is finite and the count of right
            # predictions come back together in one read.
            classify = targets.dtype == np.int64
            value, finite, right = self._batch_figures(data_loss, outputs, targets, classify)
            if not math.isfinite(value):
                self._diagnose_forward(inputs, outputs, value, watch, epoch, index)
            last = index == batches - 1
            keep = last and self.layer_stats
            norms = {} if finite and not keep else self._check_gradients(epoch, index, keep)
            if last:
                grad_norms = norms
            grad_norm = None
            if self.clip_grad_norm is not None:
                grad_norm = float(clip_grad_norm_(self.model.parameters(),
                                                  self.clip_grad_norm).item())
                largest_norm = grad_norm if largest_norm is None else max(largest_norm,
                                                                          grad_norm)
                clipped += grad_norm > self.clip_grad_norm
            self.optimizer.step()
            total += value * len(targets)
            count += len(targets)
            if classify:
                classified = True
                correct += right
            self.emit(BatchEnd(epoch + 1, index + 1, batches, value, len(targets),
                               time.perf_counter() - started, grad_norm))
        return total, count, correct, classified, largest_norm, clipped, grad_norms

    def _train_batches_on_device(self, epoch: int, train_loader, watch: LayerWatch,
                                 started: float):
        """One epoch's batches with no host read inside the loop (issue 12): the loss sum
        and the right predictions are accumulated on the device and read once at the
        end, with a finiteness check of every parameter.

        On OpenCL every read waits for the whole in-order queue, so a read per batch
        keeps the device idle while Python prepares the next batch. A non-finite loss
        or gradient makes the parameters non-finite in the update and stays so (NaN
        and inf do not heal in these updates), so the end check sees it; the epoch is
        then rewound (parameters, buffers, optimizer state, random generator: a copy
        made on the device at the start) and replayed batch by batch with
        `_train_batches`, which explains the first bad batch exactly as it always did.
        Views get each batch's loss on demand (reading it is their choice).
        """
        snapshot = self._snapshot()
        loss_sum = right_sum = None
        count, classified = 0, False
        batches = len(train_loader)
        for index, (inputs, targets) in enumerate(train_loader):
            outputs, data_loss = self._forward_backward(inputs, targets)
            self.optimizer.step()
            samples = len(targets)
            with vecgrad.no_grad():
                loss = data_loss.detach()
                if loss_sum is None:
                    loss_sum = vecgrad.zeros((), dtype=loss.dtype, device=loss.device)
                loss_sum.add_(loss, alpha=float(samples))
                if targets.dtype == np.int64:
                    classified = True
                    hits = (self.loss.predict_tensor(outputs) == targets.reshape(-1)).sum()
                    right_sum = hits if right_sum is None else right_sum.add_(hits)
            count += samples
            if self.views:
                self.emit(_DeviceBatchEnd.make(epoch + 1, index + 1, batches, loss, samples,
                                               time.perf_counter() - started))
        with vecgrad.no_grad():
            if count == 0:
                return 0.0, 0, 0, False, None, 0, {}
            parts = [loss_sum.reshape(1)]
            params = [p for p in self.model.parameters() if p.numel()]
            if params:
                check = params[0].sum()
                for param in params[1:]:
                    check = check + param.sum()
                parts.append(check.reshape(1).to(loss_sum.dtype))
            if right_sum is not None:
                parts.append(right_sum.reshape(1).to(loss_sum.dtype))
            host = vecgrad.cat(parts).numpy().astype(np.float64)
        if not np.all(np.isfinite(host)):
            self._restore(snapshot)
            train_loader.set_epoch(epoch)
            views, self.views = self.views, []  # the views saw these batches already
            try:
                figures = self._train_batches(epoch, train_loader, watch, started)
            finally:
                self.views = views
            return figures  # (finite after all: an overflow of the check's own sum)
        grad_norms = self._check_gradients(epoch, batches - 1, True) if self.layer_stats else {}
        right = int(round(host[-1])) if right_sum is not None else 0
        return float(host[0]), count, right, classified, None, 0, grad_norms

    def _snapshot(self):
        """Device copies of what one epoch changes: the model's parameters and buffers,
        the optimizer's state tensors and counters, and the random generator."""
        import copy

        from vecgrad.tensor import Tensor

        with vecgrad.no_grad():
            model = {name: t.clone() for name, t in self.model.state_dict().items()}
            optimizer = [{key: value.clone() if isinstance(value, Tensor) else copy.deepcopy(value)
                          for key, value in state.items()} for state in self.optimizer.state]
        rng = copy.deepcopy(vecgrad.random_generator().bit_generator.state)
        return model, optimizer, rng

    def _restore(self, snapshot) -> None:
        model, optimizer, rng = snapshot
        self.model.load_state_dict(model)
        self.optimizer.state = optimizer
        vecgrad.random_generator().bit_generator.state = rng

    # ------------------------------------------------------- NaN/inf handling
    def _diagnose_forward(self, inputs, outputs, value, watch, epoch, index):
        where = f"epoch {epoch + 1}, batch {index + 1}"
        bad_params = [n for n, p in self.model.named_parameters()
                      if not np.all(np.isfinite(p.numpy()))]
        if not np.all(np.isfinite(inputs.numpy())):
            raise TrainingDiverged(f"loss is {value} at {where}: the input batch itself "
                                   "contains NaN/inf; check the data files", self.history)
        if bad_params:
            raise TrainingDiverged(
                f"loss is {value} at {where}: parameter {bad_params[0]} is already NaN/inf "
                f"({len(bad_params)} parameter(s) affected); the previous update overflowed; "
                "likely cause: learning rate too high (lower --lr)", self.history)
        watch.diagnosing, watch.first_nonfinite = True, None
        try:
            with vecgrad.no_grad():
                self.model(inputs)
        finally:
            watch.diagnosing = False
        if watch.first_nonfinite is not None:
            raise TrainingDiverged(
                f"loss is {value} at {where}: the forward values first became NaN/inf in "
                f"layer {watch.first_nonfinite}; likely cause: activations overflowing from "
                + self._advice("forward"), self.history)
        largest = float(np.max(np.abs(outputs.numpy()))) if outputs.numel() else 0.0
        if largest > 1e6:
            raise TrainingDiverged(
                f"loss is {value} at {where}: the model's outputs are finite but huge (max "
                f"|output| = {largest:.3g}), so the loss ({self.loss.name}) overflowed; likely "
                "cause: a too-high learning rate (lower --lr)", self.history)
        raise TrainingDiverged(
            f"loss is {value} at {where} although every layer output is finite: the loss "
            f"({self.loss.name}) got values outside its domain (e.g. log(0), or targets "
            "that do not fit the model's outputs)", self.history)

    def _advice(self, where: str) -> str:
        """The likely cause and what to change, without suggesting what is already set."""
        huge = [f"--{name} {value:g}" for name, value in (("weight-decay", self.l2),
                                                          ("l1", self.l1)) if value >= 1]
        if huge and where == "gradient":
            return (f"the penalty {' and '.join(huge)} is far too large (its gradient "
                    "overflows); use a small value such as 1e-4")
        normalized = self.input_normalization not in (None, "none")
        if where == "forward":
            cause = ("a too-high learning rate" if normalized
                     else "a too-high learning rate or unnormalized inputs")
            fixes = ["lower --lr"] + ([] if normalized else ["use --normalize zscore"])
        else:
            cause = "exploding gradients"
            fixes = ["lower --lr"] + (["add --weight-decay"] if not self.l2 else []) + \
                ([] if normalized else ["normalize the inputs (--normalize zscore)"])
        return f"{cause} ({', or '.join(fixes)})"

    def _diagnose_validation(self, value, val_loader, epoch: int):
        """The validation loss is NaN/inf although training was finite: say why."""
        where = f"validation loss is {value} after epoch {epoch + 1}"
        seen = 0
        with vecgrad.no_grad():
            for inputs, targets in val_loader:
                host = inputs.numpy()
                bad = ~np.isfinite(host.reshape(len(host), -1)).all(axis=1)
                if bad.any():
                    raise TrainingDiverged(
                        f"{where}: the validation split itself contains NaN/inf (first in "
                        f"sample {seen + int(np.argmax(bad))} of the split); check the data "
                        "files", self.history)
                targets_host = targets.numpy()
                if targets_host.dtype.kind == "f" and not np.isfinite(targets_host).all():
                    raise TrainingDiverged(f"{where}: the validation targets contain NaN/inf; "
                                           "check the data files", self.history)
                seen += len(host)
        raise TrainingDiverged(
            f"{where} although the validation data is finite: the model's outputs overflow "
            "on it; likely cause: " + self._advice("forward"), self.history)

    def _batch_figures(self, data_loss, outputs, targets, classify):
        """(loss, whether every gradient is finite, right predictions) with one
        device-to-host read: the three numbers are computed on the device and read
        together."""
        with vecgrad.no_grad():
            # The plain sum of every gradient entry is finite exactly when they all are
            # (bar an overflow, which the exact check then clears): half the launches of
            # the squared norms, which are computed only when wanted (_check_gradients).
            sums = [p.grad.sum() for p in self.model.parameters() if p.grad is not None]
            figures = [data_loss.reshape(1)]
            if sums:
                grad_total = sums[0]
                for part in sums[1:]:
                    grad_total = grad_total + part
                figures.append(grad_total.reshape(1).to(data_loss.dtype))
            if classify:
                hits = self.loss.predict_tensor(outputs) == targets.reshape(-1)
                figures.append(hits.sum().reshape(1).to(data_loss.dtype))
            host = vecgrad.cat(figures).numpy() if len(figures) > 1 else figures[0].numpy()
        value = float(host[0])
        finite = math.isfinite(float(host[1])) if sums else True
        right = int(host[-1]) if classify else 0
        return value, finite, right

    def _check_gradients(self, epoch: int, index: int, keep: bool) -> dict:
        """Per-parameter squared gradient norms summed on the device; one host read
        (the training loop calls it when a gradient may be non-finite, and for the
        layer panel's norms on an epoch's last batch).

        Returns per-module gradient norms when `keep` (the layer panel wants them).
        """
        named = [(n, p) for n, p in self.model.named_parameters() if p.grad is not None]
        if not named:
            return {}
        with vecgrad.no_grad():
            squares = [(p.grad * p.grad).sum() for _, p in named]
            total = squares[0]
            for square in squares[1:]:
                total = total + square
            if math.isfinite(total.item()) and not keep:
                return {}
        values = [float(s.item()) for s in squares]
        bad = [n for (n, p) in named if not np.all(np.isfinite(p.grad.numpy()))]
        if bad:
            # Backward runs from the loss towards the inputs: the last parameter in model
            # order is where a NaN/inf gradient appears first.
            raise TrainingDiverged(
                f"gradient of {bad[-1]} is NaN/inf at epoch {epoch + 1}, batch {index + 1} "
                f"({len(bad)} parameter(s) affected: {', '.join(bad)}); likely cause: "
                + self._advice("gradient"), self.history)
        norms: dict[str, float] = {}
        for (name, _), square in zip(named, values):
            module = name.rsplit(".", 1)[0] if "." in name else name
            norms[module] = norms.get(module, 0.0) + square
        return {k: math.sqrt(v) if math.isfinite(v) else v for k, v in norms.items()}


class _DeviceBatchEnd(BatchEnd):
    """A BatchEnd whose loss stays on the device until a view reads `.loss` (then it
    is read once and kept): a training loop with no live view reads nothing per batch."""

    @classmethod
    def make(cls, epoch, batch, batches, loss_tensor, samples, seconds) -> "_DeviceBatchEnd":
        event = object.__new__(cls)  # (the frozen dataclass __init__ would set .loss)
        event.__dict__.update(epoch=epoch, batch=batch, batches=batches, samples=samples,
                              seconds=seconds, grad_norm=None, _loss=loss_tensor)
        return event

    @property
    def loss(self) -> float:
        value = self.__dict__["_loss"]
        if not isinstance(value, float):
            value = float(value.item())
            self.__dict__["_loss"] = value
        return value


class _TerminateAsInterrupt:
    """While fitting, SIGTERM (a `kill`, a batch scheduler) stops like Ctrl-C: the epoch's
    checkpoint is finished, the best weights restored, and the run reported. Main thread
    only (elsewhere Python cannot handle signals)."""

    def __enter__(self):
        import signal
        import threading

        self.received, self.previous = False, None
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
            try:
                self.previous = signal.signal(signal.SIGTERM, self._interrupt)
            except (ValueError, OSError):
                self.previous = None
        return self

    def _interrupt(self, number, frame):
        self.received = True
        raise KeyboardInterrupt

    def __exit__(self, *exc_info):
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False


def count_parameters(model) -> int:
    """Total number of scalar parameters."""
    return sum(p.numel() for p in model.parameters())


__all__ = ["Trainer", "History", "TrainingDiverged", "Loss", "LOSSES", "get_loss", "FitStart",
           "EpochStart", "BatchEnd", "LayerStat", "LayerStats", "EpochEnd", "FitEnd", "EvalEnd",
           "LayerWatch", "count_parameters"]
