"""scalargrad: a scalar autograd engine that reproduces the lectures' worked examples.

Pure Python (no numpy). The main names:

- `Value`: a scalar node with `.data`, `.grad`, `.parents`, `.op`; `.backward()`.
- `ACTIVATIONS`: the activation catalogue shared with vecgrad (name -> Activation).
- `topological_order`, `backward_trace`: graph walks (scalargrad.graph).
- `numerical_grad`: central differences (scalargrad.gradcheck).
- `Dual`: forward-mode AD (scalargrad.forward); nests for second derivatives.
- `grad(output, inputs, create_graph=False)`, `hessian(f, values, mode)`: derivatives of
  derivatives (scalargrad.higher); also `value.backward(create_graph=True)`.
- `Neuron`, `Layer`, `MLP`: small networks of Values (scalargrad.nn).

Rendering (rich tables and trees, DOT text) lives in `scalargrad.render`.
"""

from scalargrad.forward import Dual
from scalargrad.functions import ACTIVATIONS, Activation
from scalargrad.gradcheck import numerical_grad
from scalargrad.graph import backward_trace, topological_order
from scalargrad.higher import grad, hessian
from scalargrad.nn import MLP, Layer, Neuron
from scalargrad.value import Value

__all__ = [
    "ACTIVATIONS", "Activation", "Dual", "Layer", "MLP", "Neuron", "Value",
    "backward_trace", "grad", "hessian", "numerical_grad", "topological_order",
]
