"""LayerWatch: forward hooks that read each layer's outputs for the Trainer.

Once per epoch they record mean, std and the dead-ReLU fraction for the layer panel;
after a NaN/inf loss they find the first layer whose output stopped being finite.
They only read outputs, never change them.
"""

from __future__ import annotations

import numpy as np

from vecgrad.train.events import LayerStat


def _activation_name(module) -> str:
    """`relu` for an activation module, else the class name (`Linear`)."""
    name = getattr(module, "name", None)
    return name if isinstance(name, str) else type(module).__name__


class LayerWatch:
    """Forward hooks on every leaf module: output stats when asked, NaN origin always.

    Hooks are cheap unless `recording` is on (one batch per epoch) or a divergence is
    being diagnosed; they only read outputs, never change them.
    """

    def __init__(self, model):
        self.recording = False
        self.diagnosing = False
        self.stats: dict[str, tuple] = {}
        self.first_nonfinite: str | None = None
        self.order: list[str] = []  # the layers the stats panel shows
        self.handles = []
        leaves = [(name or type(module).__name__, module) for name, module
                  in model.named_modules() if not list(module.children())]
        for name, module in leaves:
            # Layers with weights and activations say something; Flatten/Dropout do not.
            shown = bool(list(module.parameters())) or isinstance(getattr(module, "name", None),
                                                                   str)
            if shown:
                self.order.append(name)
            self.handles.append(module.register_forward_hook(self._hook(name, shown)))

    def _hook(self, name: str, shown: bool):
        def hook(module, inputs, output):
            if not (self.recording or self.diagnosing):
                return None
            # recurrent layers return (output, state): the output sequence is the layer's
            values = (output[0] if isinstance(output, tuple) else output).numpy()
            if self.diagnosing and self.first_nonfinite is None and not np.all(np.isfinite(values)):
                self.first_nonfinite = f"{name} ({type(module).__name__})"
            if self.recording and shown:
                kind = _activation_name(module)
                dead = None
                if kind in ("relu", "step") and values.ndim >= 2:
                    dead = float(np.mean(np.all(values.reshape(len(values), -1) <= 0, axis=0)))
                self.stats[name] = (kind, float(values.mean()),
                                    float(values.std()), dead)
            return None
        return hook

    def table(self, grad_norms: dict) -> tuple:
        """The recorded stats joined with per-layer gradient norms, in model order;
        clears the recording for the next epoch."""
        rows = []
        for name in self.order:
            stat = self.stats.get(name)
            if stat is None and name not in grad_norms:
                continue
            kind, mean, std, dead = stat if stat else ("", None, None, None)
            rows.append(LayerStat(name, kind, mean, std, dead, grad_norms.get(name)))
        self.stats = {}
        return tuple(rows)

    def remove(self) -> None:
        """Detach every hook from the model."""
        for handle in self.handles:
            handle.remove()


__all__ = ["LayerWatch"]
