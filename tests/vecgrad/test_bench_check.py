"""`vecgrad bench` and `vecgrad check`: the bench's hand-written numpy step computes the
same step as vecgrad (so the comparison is fair), and check catches a broken derivative."""

import argparse

import numpy as np

import vecgrad
from vecgrad import bench, check


def test_numpy_reference_step_matches_vecgrad_step(device):
    x, y, params = bench.mlp_data(seed=1)
    np_params = [p.copy() for p in params]
    v_params = [vecgrad.tensor(p, device=device, requires_grad=True) for p in params]
    loss_np = bench.numpy_mlp_step(x, y, np_params)
    loss_vg = bench.vecgrad_mlp_step(vecgrad.tensor(x, device=device),
                                     vecgrad.tensor(y, device=device), v_params)
    assert abs(loss_np - loss_vg) < 1e-4 * abs(loss_np)
    for ours, reference in zip(v_params, np_params):
        np.testing.assert_allclose(ours.numpy(), reference, rtol=1e-4, atol=1e-5)
        assert ours.grad is None


def test_interleaved_rounds_rotate_the_runner_order():
    # A runner that always ran right after the same neighbour would always inherit its
    # spinning thread pool; rotating spreads that evenly.
    calls = []
    runners = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    timings = bench.interleaved(runners, repeats=3, warmup=0)
    timed_order = calls[1::2]  # each timed call follows an untimed one of the same runner
    assert timed_order == list("abc" "bca" "cab")
    assert all(len(timings.times[name]) == 3 for name in "abc")


def _check_args(device):
    parser = argparse.ArgumentParser()
    check.add_arguments(parser)
    return parser.parse_args(["--device", device])


def test_check_passes_on_the_device(device, capsys):
    assert check.main(_check_args(device)) == 0
    assert "all op families agree" in capsys.readouterr().out


def test_check_fails_when_a_derivative_is_wrong(device, monkeypatch, capsys):
    backend = vecgrad.get_backend(device)
    real = backend.activation_backward
    monkeypatch.setattr(backend, "activation_backward",
                        lambda name, x, grad, alpha, out=None: backend.binary(
                            "mul", real(name, x, grad, alpha), backend.full((), 1.5, x.dtype)))
    assert check.main(_check_args(device)) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "failed" in out
