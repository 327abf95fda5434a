"""Layers against PyTorch: the same state_dict keys and shapes, and with our weights
copied into torch's layer (float64), the same output, input gradient, parameter
gradients and buffers. Every test using this skips cleanly when torch is absent."""

import numpy as np
import pytest

import vecgrad


def copy_into_torch(ours, theirs):
    """Load our state_dict into torch's module; the key lists and shapes must agree."""
    torch = pytest.importorskip("torch")
    state = ours.state_dict()
    reference = theirs.state_dict()
    assert list(state) == list(reference), "state_dict keys differ from torch's"
    for key, value in state.items():
        assert tuple(value.shape) == tuple(reference[key].shape), key
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in state.items()})
    return theirs


def check_module_against_torch(ours, make_theirs, x_np, device, steps=1, rtol=1e-9,
                               atol=1e-11, integer_input=False):
    """Run `steps` forward/backward passes through both modules (ours in float64 on
    `device`, torch's built by make_theirs(torch) then set to float64) and compare."""
    torch = pytest.importorskip("torch")
    ours.to(vecgrad.float64).to(device)
    theirs = make_theirs(torch).double()
    theirs.train(ours.training)
    copy_into_torch(ours, theirs)
    rng = np.random.default_rng(5)
    for step in range(steps):
        data = x_np if integer_input else x_np + 0.1 * step
        if integer_input:
            x = vecgrad.tensor(data, device=device)
            tx = torch.tensor(data)
        else:
            x = vecgrad.tensor(data, dtype=vecgrad.float64, device=device, requires_grad=True)
            tx = torch.tensor(data, dtype=torch.float64, requires_grad=True)
        ours.zero_grad()
        theirs.zero_grad()
        out, ref = ours(x), theirs(tx)
        assert out.shape == tuple(ref.shape)
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"output, step {step}")
        w = rng.standard_normal(out.shape)
        out.backward(vecgrad.tensor(w, device=device))
        ref.backward(torch.tensor(w))
        if not integer_input:
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"input gradient, step {step}")
        ref_params = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            want = ref_params[name].grad
            want = np.zeros(p.shape) if want is None else want.numpy()
            got = np.zeros(p.shape) if p.grad is None else p.grad.numpy()
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol,
                                       err_msg=f"gradient of {name}, step {step}")
    ref_state = theirs.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value.numpy(), ref_state[name].numpy(), rtol=rtol,
                                   atol=atol, err_msg=f"state {name} after {steps} steps")
    return out
