"""A cpu tensor meeting an OpenCL tensor: the error names the op the user called (not the
op it is built from) and both devices."""

import pytest

import vecgrad
from vecgrad import nn

CASES = {
    "lerp": lambda cl, cpu: vecgrad.lerp(cl, cpu, 0.5),
    "lerp ": lambda cl, cpu: vecgrad.lerp(cl, cl, cpu),  # (the weight on the other device)
    "mm": lambda cl, cpu: vecgrad.mm(cl, cpu.T),
    "bmm": lambda cl, cpu: vecgrad.bmm(cl[None], cpu.T[None]),
    "dot": lambda cl, cpu: vecgrad.dot(cl[0], cpu[0]),
    "outer": lambda cl, cpu: vecgrad.outer(cl[0], cpu[0]),
    "LSTM": lambda cl, cpu: nn.LSTM(3, 2)(cl[None]),
    "GRUCell": lambda cl, cpu: nn.GRUCell(3, 2)(cl),
}


@pytest.mark.parametrize("op", list(CASES), ids=str.strip)
def test_device_mix_names_the_op_and_both_devices(cl_backend, op):
    on_cl = vecgrad.ones(4, 3, device=cl_backend.device)
    on_cpu = vecgrad.ones(4, 3)
    with pytest.raises(ValueError) as info:
        CASES[op](on_cl, on_cpu)
    message = str(info.value)
    assert message.startswith(f"{op.strip()}: ")
    assert "cpu" in message and cl_backend.device in message


def test_copy_from_another_device_moves_the_source_as_pytorch_does():
    """A ported `model.weight.copy_(torch.tensor(...))` on an OpenCL model was an error;
    PyTorch's copy_ crosses devices, so ours moves the source first."""
    import numpy as np

    import vecgrad

    w = vecgrad.zeros(2, 3, device="opencl", requires_grad=True)
    src = vecgrad.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)   # cpu, float64
    with vecgrad.no_grad():
        w.copy_(src)
        w[:1].copy_(vecgrad.tensor([7.0]))                                   # broadcast
    assert w.device.startswith("opencl") and w.dtype == np.float32
    assert w.tolist() == [[7.0, 7.0, 7.0], [3.0, 4.0, 5.0]]
    back = vecgrad.zeros(3)
    back.copy_(w[1])
    assert back.tolist() == [3.0, 4.0, 5.0] and back.device == "cpu"
