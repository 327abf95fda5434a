"""Old module paths that moved, kept importable.

The training stack, the command line and the benchmarks moved into packages of their
own (vecgrad/train/, vecgrad/cli/, vecgrad/bench/). Code written against the earlier flat
layout (`from vecgrad.trainer import Trainer`, `from vecgrad.ui import make_view`) keeps
working: importing an old path returns the module at its new path (the same module
object, so there is one Trainer class, not two) and warns once with the new name.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings

#: old module path -> where it lives now
MOVED = {
    "vecgrad.trainer": "vecgrad.train.trainer",
    "vecgrad.training_events": "vecgrad.train.events",
    "vecgrad.training_losses": "vecgrad.train.losses",
    "vecgrad.layer_watch": "vecgrad.train.layer_watch",
    "vecgrad.ui": "vecgrad.train.views",
    "vecgrad.bench_opencl": "vecgrad.bench.opencl",
    "vecgrad.ops.primitives": "vecgrad.backends.primitives",
    "vecgrad.devices": "vecgrad.cli.devices",
    "vecgrad.check": "vecgrad.cli.check",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        warnings.warn(f"{spec.name} moved to {self.target}; import it from there",
                      DeprecationWarning, stacklevel=4)
        return importlib.import_module(self.target)

    def get_code(self, fullname):
        # `python -m <old path>` runs the module at its new path as __main__.
        spec = importlib.util.find_spec(self.target)
        return spec.loader.get_code(self.target)

    def exec_module(self, module):
        # The target module is already executed; importlib re-registers it under the
        # old name, so both names give the same object.
        pass


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(new))


def install() -> None:
    """Put the finder on sys.meta_path once (vecgrad/__init__.py calls this)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
