"""`vecgrad train`: flags -> RunConfig -> vecgrad.train.runner -> one summary line."""

from __future__ import annotations

import argparse
import shlex
import sys

import numpy as np

from vecgrad.cli.common import (EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_TERMINATED,
                                add_device_argument, add_output_arguments, folder_name,
                                json_text, make_views)
from vecgrad.data import DATASET_NAMES, NORMALIZERS
from vecgrad.train.config import RunConfig
from vecgrad.train.models import DEFAULT_LR, OPTIMIZERS

DEFAULTS = RunConfig()
IDX_DATASETS = ("mnist", "fashion-mnist")  # the datasets read from --data-dir


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of `vecgrad train` (unset flags are None: defaults come from RunConfig,
    or on --resume from the checkpoint)."""
    d = DEFAULTS
    p.add_argument("--dataset", choices=DATASET_NAMES,
                   help=f"what to learn (default {d.dataset}: 8x8 digits, embedded)")
    p.add_argument("--data-dir", type=folder_name, help="folder with the MNIST/Fashion-MNIST IDX files "
                   "(default data/<dataset>)")
    p.add_argument("--model", help=f"mlp:H1,H2,..., cnn[:C1,C2], or for sequences cnn1d[:C1,C2], "
                   f"lstm:H, gru:H, rnn:H (default {d.model})")
    p.add_argument("--activation", help="hidden activation, a catalogue name "
                   f"(default {d.activation})")
    p.add_argument("--loss", choices=("cross_entropy", "mse", "bce"),
                   help="default cross_entropy (classification) or mse (regression)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help=f"default {d.optimizer}")
    p.add_argument("--lr", type=float, help="learning rate (default per optimizer: "
                   + ", ".join(f"{k} {v}" for k, v in DEFAULT_LR.items()) + ")")
    p.add_argument("--batch-size", type=int, help=f"default {d.batch_size}")
    p.add_argument("--epochs", type=int, help=f"total epochs (default {d.epochs})")
    p.add_argument("--weight-decay", type=float, help="L2 penalty λ·Σw² (default 0)")
    p.add_argument("--l1", type=float, help="L1 penalty λ·Σ|w| (default 0)")
    p.add_argument("--dropout", type=float, help="dropout after each hidden layer (default 0)")
    p.add_argument("--patience", type=int, help="early stopping: epochs without a better "
                   f"validation loss (default {d.patience}; 0 = off)")
    p.add_argument("--schedule", help="learning rate: none, step:STEP:GAMMA, inverse:DECAY")
    p.add_argument("--batch-norm", action="store_true", default=None, help="BatchNorm "
                   "between every hidden layer and its activation (mlp, cnn, cnn1d)")
    p.add_argument("--clip-grad-norm", type=float, metavar="X", help="rescale each batch's "
                   "gradients to 2-norm <= X; the live view shows the norm before clipping")
    p.add_argument("--checkpoint", help="write the training state here after every epoch")
    p.add_argument("--resume", help="continue from this checkpoint (same result as one run)")
    add_device_argument(p, "the resumed run's device, else cpu")
    p.add_argument("--seed", type=int, help=f"initialization and shuffling (default {d.seed})")
    p.add_argument("--normalize", choices=tuple(NORMALIZERS), help="input scaling fit on the "
                   f"training split (default {d.normalize})")
    add_output_arguments(p)
    p.add_argument("--show", choices=("auto", "none", "forward", "grad", "all"), default="auto",
                   help="per-layer detail: forward stats, gradient norms, all, none")


def config_from_args(args) -> tuple[RunConfig, dict | None]:
    """The run's config from the flags given, and on --resume the checkpoint state."""
    given = {k: getattr(args, k) for k in RunConfig.setting_names()}
    where = {"device": args.device, "data_dir": args.data_dir, "checkpoint": args.checkpoint}
    if args.resume is None:
        settings = {k: v for k, v in given.items() if v is not None}
        return RunConfig(**settings, **where), None
    return RunConfig.resume(args.resume, **given, **where)


def main(args) -> int:
    """`vecgrad train`: returns the exit status."""
    from vecgrad.backends import blas_threads
    from vecgrad.train.runner import choose_device, run, saved_device

    # This command owns its process: its only other thread redraws the terminal.
    blas_threads.claim_process()
    config, resume_state = config_from_args(args)
    config.device, note = choose_device(config.device, saved_device(resume_state))
    if note:
        print(f"vecgrad train: {note}", file=sys.stderr)
    if args.data_dir is not None:
        _note_unread_data_dir("vecgrad train", config.dataset)
    views, stream = make_views(args)
    result = run(config, resume_state=resume_state, views=views, layer_stats=not args.quiet)
    if result.diverged and not views:  # the views already showed the message
        print(f"vecgrad train: stopped: {result.message}", file=sys.stderr)
    _report(args, stream, config, result)
    if result.interrupted:
        print(f"vecgrad train: {_interrupt_line(result)}", file=sys.stderr)
        # a scheduler or `kill` that sent SIGTERM reads 143, as if the signal had ended us
        terminated = result.history.stop_message.startswith("stopped by SIGTERM")
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    return EXIT_DIVERGED if result.diverged else 0


def _note_unread_data_dir(prog: str, dataset: str) -> None:
    """--data-dir with a dataset that is not read from files would otherwise be ignored
    without a word: the user believes the run used their folder."""
    if dataset not in IDX_DATASETS:
        print(f"{prog}: note: --data-dir is read only for {' and '.join(IDX_DATASETS)}; "
              f"{dataset} is built in, so the folder is not used", file=sys.stderr)


def _interrupt_line(result) -> str:
    """What the file holds and the exact command that continues the run."""
    trainer = result.trainer
    what = result.history.stop_message.split(";")[0]  # "stopped by Ctrl-C" / "SIGTERM"
    if trainer is None or trainer.saved is None:
        return (f"{what}; no checkpoint was written, so there is nothing to resume (pass "
                "--checkpoint FILE to be able to)")
    return (f"{what}; {trainer.checkpoint_summary()}; continue with: vecgrad train --resume "
            f"{shlex.quote(str(trainer.checkpoint))}")


def _report(args, stream, config, result) -> None:
    settings, history, test = result.settings, result.history, result.test
    if args.json:
        print(json_text(_json_metrics(result, config.checkpoint)), file=sys.stdout)
        return
    if test is None:
        metric = "no test metrics (no epoch finished)"
    elif test.accuracy is not None:
        metric = f"test accuracy {100 * test.accuracy:.2f}%"
    else:
        metric = f"test loss {test.loss:.4g}"
    best = f" (best {history.best_epoch})" if history.best_epoch else ""
    saved = result.trainer.saved if result.trainer is not None else None
    holds = f"; {result.trainer.checkpoint_summary()}" if saved else ""
    print(f"{settings['dataset']} {settings['model']}: {metric} after "
          f"{len(history.train_loss)} epochs{best} in {result.seconds:.1f}s on {result.device}"
          f"{holds}", file=stream)


def _json_metrics(result, checkpoint) -> dict:
    def clean(values):
        return [None if v is None or not np.isfinite(v) else float(v) for v in values]

    history, test = result.history, result.test
    saved = result.trainer.saved if result.trainer is not None else None
    return {
        "dataset": result.settings["dataset"], "model": result.settings["model"],
        "device": result.device, "settings": result.settings,
        "seconds": round(result.seconds, 3),
        "stop_reason": history.stop_reason, "stop_message": history.stop_message,
        "epochs": len(history.train_loss),
        "best_epoch": history.best_epoch,
        "best_val_loss": history.best_val_loss if np.isfinite(history.best_val_loss) else None,
        "test": None if test is None else {
            "loss": test.loss, "accuracy": test.accuracy, "samples": test.samples,
            "confusion": None if test.confusion is None else test.confusion.tolist()},
        "history": {k: clean(getattr(history, k)) for k in
                    ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")},
        "checkpoint": checkpoint,
        # OpenCL: launches, reads, writes and waits of the run's device queue (None on cpu)
        "device_queue": result.queue,
        # what the checkpoint file holds (None when none was written in this run)
        "checkpoint_holds": None if saved is None else {"epochs": saved[0],
                                                         "best_epoch": saved[1] or None},
    }


if __name__ == "__main__":  # python -m vecgrad.cli.train ran nothing and said nothing
    from vecgrad.entry import run_command

    sys.exit(run_command("python -m vecgrad.cli.train", sys.modules[__name__], sys.argv[1:],
                         __doc__))
