"""Helpers shared by the nn tests: tensors from numpy and central differences."""

import numpy as np

import vecgrad


def param(values, device, dtype=np.float64):
    """A leaf tensor that requires grad, holding `values`."""
    return vecgrad.tensor(np.asarray(values, dtype=dtype), requires_grad=True, device=device)


def give_grad(tensor, grad_values):
    """Make ``tensor.grad`` equal `grad_values` through a real backward pass."""
    tensor.grad = None
    weights = vecgrad.tensor(np.asarray(grad_values), dtype=tensor.dtype, device=tensor.device)
    (tensor * weights).sum().backward()


def numerical_grad(f, array, eps=1e-6):
    """Central differences of the scalar function f (of a numpy array) at `array`."""
    array = np.array(array, dtype=np.float64)
    grad = np.zeros_like(array)
    flat, grad_flat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        up = f(array)
        flat[i] = saved - eps
        down = f(array)
        flat[i] = saved
        grad_flat[i] = (up - down) / (2 * eps)
    return grad


def device_name(device):
    """The canonical device string tensors report ("opencl" -> "opencl:0:0")."""
    return vecgrad.get_backend(device).device
