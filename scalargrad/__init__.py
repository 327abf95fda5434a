"""scalargrad: a scalar autograd engine that reproduces the lectures' worked examples.

Pure Python (no numpy). The main names:

- `Value`: a scalar node with `.data`, `.grad`, `.parents`, `.op`; `.backward()`.
- `ACTIVATIONS`: the activation catalogue shared with vecgrad (name -> Activation).
- `topological_order`, `backward_trace`: graph walks (scalargrad.graph).
- `numerical_grad`: central differences (scalargrad.gradcheck).
- `Dual`: forward-mode AD (scalargrad.forward).
- `Neuron`, `Layer`, `MLP`: small networks of Values (scalargrad.nn).

Rendering (rich tables/trees, DOT) lives in `scalargrad.render`.
"""

from scalargrad.functions import ACTIVATIONS, Activation
from scalargrad.graph import backward_trace, topological_order
from scalargrad.value import Value

__all__ = ["ACTIVATIONS", "Activation", "Value", "backward_trace", "topological_order"]
