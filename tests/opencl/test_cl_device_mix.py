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
