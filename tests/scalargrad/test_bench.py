"""The benchmark's bookkeeping (speed itself is printed by `scalargrad bench`, not tested)."""

import gc

import pytest

from scalargrad.bench import make_points, run_bench, scalargrad_epoch
from scalargrad.graph import topological_order
from scalargrad.nn import MLP


def test_epoch_is_the_summed_squared_loss_and_one_sgd_step():
    points, targets = make_points(4, seed=0)
    model = MLP(2, [16, 16, 1], seed=0)
    expected = sum((model(p)[0].data - t) ** 2 for p, t in zip(points, targets))
    before = [p.data for p in model.parameters()]
    loss, root = scalargrad_epoch(model, points, targets)
    assert loss == pytest.approx(expected, rel=1e-12)
    after = [p.data for p in model.parameters()]
    assert [b - 0.001 * p.grad for b, p in zip(before, model.parameters())] == after
    # per point: layer 1 (16 x (2 mul, 2 add, relu) + 32 input constants), layer 2
    # (16 x (16 mul, 16 add, relu)), output (16 mul, 16 add), loss (sub + target, pow, add)
    per_point = 16 * 5 + 32 + 16 * 33 + 32 + 4
    parameters = 3 * 16 + 17 * 16 + 17
    assert len(topological_order(root)) == 4 * per_point + parameters + 1  # + initial 0


def test_run_bench_without_micrograd_restores_gc():
    was = gc.isenabled()
    result = run_bench(points=3, epochs=2, compare=False, rounds=2)
    assert gc.isenabled() == was
    assert {(t.engine, t.gc_enabled) for t in result.timings} == {
        ("scalargrad", True), ("scalargrad", False)}
    assert all(len(t.samples) == 4 and t.epoch_s > 0 for t in result.timings)
    assert result.loss_gap is None and result.ratio(True) is None


def test_run_bench_against_micrograd_does_the_same_work():
    pytest.importorskip("micrograd")
    result = run_bench(points=3, epochs=1, rounds=1)
    assert result.loss_gap is not None and result.loss_gap < 1e-12
    assert result.ratio(True) > 0 and result.ratio(False) > 0


def test_bad_sizes():
    with pytest.raises(ValueError, match="points, epochs and rounds >= 1"):
        run_bench(points=0)
    with pytest.raises(ValueError, match="--points must be at most 10,000, got 10,001"):
        run_bench(points=10_001)
