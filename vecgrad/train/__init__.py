"""The training stack: everything `vecgrad train` runs, usable from Python too.

- config.py   RunConfig: the typed settings of one run (and resuming them from a checkpoint)
- models.py   model / optimizer / schedule from short specs ("mlp:128,64", "step:10:0.5")
- runner.py    run(config) -> RunResult and evaluate(checkpoint): one pass, never prints
- trainer.py  Trainer: the loop, early stopping, checkpoints, metrics, NaN diagnosis
- events.py   what the Trainer emits (EpochEnd, BatchEnd, ...) and the History it keeps
- losses.py   the named losses a Trainer accepts; layer_watch.py per-layer statistics
- views.py    rich and plain renderings of the events (views only watch)

May import the engine (tensor, nn, optim, data, checkpoint); the engine never imports it.
"""

from __future__ import annotations

import importlib

# Imported on first use, so `import vecgrad.train.config` stays light.
_EXPORTS = {
    "RunConfig": "vecgrad.train.config", "ConfigError": "vecgrad.train.config",
    "run": "vecgrad.train.runner", "evaluate": "vecgrad.train.runner",
    "RunResult": "vecgrad.train.runner",
    "Trainer": "vecgrad.train.trainer", "TrainingDiverged": "vecgrad.train.events",
    "History": "vecgrad.train.events", "make_view": "vecgrad.train.views",
    "build_model": "vecgrad.train.models",
}


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vecgrad.train' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = list(_EXPORTS)
