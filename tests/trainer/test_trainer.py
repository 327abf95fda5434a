"""The Trainer's Python API: fitting, early stopping, checkpoints, NaN diagnosis, Ctrl-C."""

import numpy as np
import pytest

import vecgrad
from vecgrad import nn, optim
from vecgrad.data import DataLoader, TensorDataset, ZScore, xor
from vecgrad.train.trainer import (BatchEnd, EpochEnd, FitEnd, LayerStats, Trainer, TrainingDiverged)


def xor_data(n=240, seed=0):
    x, y = xor(n, noise=0.15, seed=seed)
    x = ZScore().fit(x).transform(x)
    return TensorDataset(x[: n * 3 // 4], y[: n * 3 // 4]), TensorDataset(x[n * 3 // 4:],
                                                                          y[n * 3 // 4:])


def small_model(hidden=16, dropout=0.0):
    layers = [nn.Linear(2, hidden), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(hidden, 2))


class Recorder:
    def __init__(self):
        self.events = []

    def __call__(self, event):
        self.events.append(event)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


def test_fit_learns_and_restores_the_best_epoch():
    vecgrad.manual_seed(0)
    train, val = xor_data()
    model = small_model()
    trainer = Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.02),
                      epochs=15, batch_size=16)
    recorder = Recorder()
    trainer.subscribe(recorder)
    history = trainer.fit(train, val)
    assert history.stop_reason == "completed" and len(history.val_loss) == 15
    assert history.val_accuracy[-1] > 0.9
    best = int(np.argmin(history.val_loss)) + 1
    assert history.best_epoch == best
    # The model now holds the best epoch's weights: its val loss is the best one.
    again = trainer.evaluate(val, "val", emit=False)
    assert again.loss == pytest.approx(min(history.val_loss), rel=1e-6)
    assert len(recorder.of(EpochEnd)) == 15 and len(recorder.of(FitEnd)) == 1
    assert recorder.of(FitEnd)[0].epochs_run == 15
    assert recorder.of(BatchEnd)[0].batches == len(DataLoader(train, 16))


def test_early_stopping_after_patience_epochs():
    vecgrad.manual_seed(1)
    train, val = xor_data()
    model = small_model()
    # lr 0: the validation loss never improves after epoch 1
    trainer = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.0), epochs=20,
                      patience=3)
    history = trainer.fit(train, val)
    assert history.stop_reason == "early_stop" and len(history.val_loss) == 4
    assert history.best_epoch == 1 and "3 epochs" in history.stop_message


def test_penalties_match_numpy_over_weights_only():
    vecgrad.manual_seed(2)
    model = small_model()
    trainer = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1),
                      l1=0.01, l2=0.001)
    weights = [p.numpy() for p in model.parameters() if p.ndim >= 2]
    expected = sum(0.01 * np.abs(w).sum() + 0.001 * (w.astype(np.float64) ** 2).sum()
                   for w in weights)
    assert trainer._penalty().item() == pytest.approx(expected, rel=1e-5)


def test_weight_decay_shrinks_weights():
    norms = []
    for l2 in (0.0, 0.05):
        vecgrad.manual_seed(3)
        train, val = xor_data()
        model = small_model()
        Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), epochs=5,
                l2=l2).fit(train, val)
        norms.append(sum(float((p.numpy() ** 2).sum()) for p in model.parameters()
                         if p.ndim >= 2))
    assert norms[1] < 0.8 * norms[0]


def test_dead_relu_fraction_and_grad_norms_in_layer_stats():
    vecgrad.manual_seed(4)
    train, val = xor_data()
    model = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 2))
    with vecgrad.no_grad():
        # units 0 and 1 always get -1 (dead); units 2 and 3 always get >= 9 (alive);
        # unit 4 is x0, zero for some samples only: alive, since dead means zero for all
        model[0].weight.copy_(vecgrad.tensor([[0, 0], [0, 0], [0.1, 0], [0, 0.1], [1, 0]],
                                             dtype=np.float32))
        model[0].bias.copy_(vecgrad.tensor([-1, -1, 10, 10, 0], dtype=np.float32))
    recorder = Recorder()
    trainer = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=1e-4), epochs=1)
    trainer.subscribe(recorder)
    trainer.fit(train, val)
    (stats,) = recorder.of(LayerStats)
    rows = {row.name: row for row in stats.layers}
    assert set(rows) == {"0", "1", "2"}
    assert rows["1"].kind == "relu" and rows["1"].dead_fraction == 0.4
    # The forward stats are those of the first validation batch (32 samples), in numpy.
    hidden = np.maximum(val.inputs[:32] @ model[0].weight.numpy().T + model[0].bias.numpy(), 0)
    assert 0 < np.mean(hidden[:, 4] == 0) < 1
    assert rows["1"].mean == pytest.approx(hidden.mean(), rel=1e-5)
    assert rows["1"].std == pytest.approx(hidden.std(), rel=1e-5)
    assert rows["0"].dead_fraction is None and rows["0"].grad_norm > 0
    # Dead units pass no gradient to their weights or biases.
    assert np.all(model[0].weight.grad.numpy()[:2] == 0)
    assert np.all(model[0].bias.grad.numpy()[:2] == 0)


class Blowup(nn.Module):
    """Multiplies by 1e39: float32 overflows to inf here, and only here."""

    def forward(self, x):
        return x * 1e39


class NanGradient(nn.Module):
    """Identity forward; backward through sqrt(0) * 0 gives NaN gradients upstream."""

    def forward(self, x):
        return x + (x * 0).sqrt()


def test_nan_in_forward_names_the_layer():
    vecgrad.manual_seed(5)
    train, val = xor_data()
    model = nn.Sequential(nn.Linear(2, 8), Blowup(), nn.ReLU(), nn.Linear(8, 2))
    trainer = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1))
    recorder = Recorder()
    trainer.subscribe(recorder)
    with pytest.raises(TrainingDiverged, match=r"first became NaN/inf in layer 1 \(Blowup\)"):
        trainer.fit(train, val)
    assert recorder.of(FitEnd)[0].reason == "diverged"


def test_nan_gradient_names_the_parameter():
    vecgrad.manual_seed(6)
    train, val = xor_data()
    model = nn.Sequential(nn.Linear(2, 8), NanGradient(), nn.ReLU(), nn.Linear(8, 2))
    trainer = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TrainingDiverged) as info:
        trainer.fit(train, val)
    message = str(info.value)
    assert "gradient of 0.bias is NaN/inf at epoch 1, batch 1" in message
    assert "0.weight, 0.bias" in message and "3.weight" not in message


def test_nan_parameter_and_nan_input_are_told_apart():
    vecgrad.manual_seed(7)
    train, val = xor_data()
    model = small_model()
    with vecgrad.no_grad():
        model[2].weight.fill_(float("nan"))
    trainer = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TrainingDiverged, match="parameter 2.weight is already NaN/inf"):
        trainer.fit(train, val)
    inputs = train.inputs.copy()
    inputs[0, 0] = np.nan
    model = small_model()
    trainer = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TrainingDiverged, match="input batch itself contains NaN"):
        trainer.fit(TensorDataset(inputs, train.targets), val)


def test_ctrl_c_stops_cleanly_and_keeps_the_best_checkpoint(tmp_path):
    vecgrad.manual_seed(8)
    train, val = xor_data()
    model = small_model()
    path = tmp_path / "run.npz"
    trainer = Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.01),
                      epochs=10, checkpoint=path)

    def interrupt(event):
        if isinstance(event, BatchEnd) and event.epoch == 4 and event.batch == 2:
            raise KeyboardInterrupt

    trainer.subscribe(interrupt)
    history = trainer.fit(train, val)
    assert history.stop_reason == "interrupted" and len(history.val_loss) == 3
    state = vecgrad.load(path)
    assert state["epoch"] == 3 and state["early_stopping"]["best_epoch"] == history.best_epoch
    best = {k: v.numpy() for k, v in model.state_dict().items()}
    for name, value in state["best_model"].items():
        np.testing.assert_array_equal(best[name], value)


def run_epochs(epochs, state=None, checkpoint=None):
    vecgrad.manual_seed(9)
    train, val = xor_data()
    model = small_model(dropout=0.3)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = Trainer(model, "cross_entropy", optimizer, epochs=epochs, batch_size=16,
                      seed=5, scheduler=optim.StepDecay(optimizer, 2, 0.5),
                      checkpoint=checkpoint)
    if state is not None:
        trainer.load_state_dict(state)
    history = trainer.fit(train, val)
    return model, history


def test_resume_gives_the_same_result_as_an_uninterrupted_run(tmp_path):
    straight, straight_history = run_epochs(5)
    path = tmp_path / "half.npz"
    run_epochs(2, checkpoint=path)
    resumed, resumed_history = run_epochs(5, state=vecgrad.load(path))
    assert resumed_history.val_loss == straight_history.val_loss
    assert resumed_history.lr == straight_history.lr == [0.1, 0.1, 0.05, 0.05, 0.025]
    for (name, a), (_, b) in zip(straight.named_parameters(), resumed.named_parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_trainer_rejects_bad_arguments():
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="l2 must be"):
        Trainer(model, "cross_entropy", opt, l2=-1)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        Trainer(model, "hinge", opt)
    with pytest.raises(ValueError, match="not a vecgrad trainer checkpoint"):
        Trainer(model, "cross_entropy", opt).load_state_dict({"format": "other"})
    with pytest.raises(TypeError, match="model must be a vecgrad.nn.Module, got str"):
        Trainer("mlp", "cross_entropy", opt)
    other = small_model()
    with pytest.raises(ValueError, match="optimizer holds 4 parameter.* not the model's"):
        Trainer(other, "cross_entropy", opt)


def test_losses_name_a_model_output_that_does_not_fit():
    train, val = xor_data()
    model = small_model()  # two outputs per sample
    with pytest.raises(ValueError, match=r"bce: needs one logit per sample, got outputs of shape \(32, 2\)"):
        Trainer(model, "bce", None).evaluate(val)
    with pytest.raises(ValueError, match=r"mse: class labels must lie in 0..0"):
        Trainer(nn.Sequential(nn.Linear(2, 1)), "mse", None).evaluate(val)


def test_a_second_fit_continues_the_same_run():
    vecgrad.manual_seed(2)
    train, val = xor_data()
    model = small_model()
    trainer = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), epochs=2,
                      layer_stats=False)
    trainer.fit(train, val)
    assert len(trainer.fit(train, val).val_loss) == 2  # already done: nothing more to do
    trainer.epochs = 3
    recorder = Recorder()
    trainer.subscribe(recorder)
    history = trainer.fit(train, val)
    assert len(history.val_loss) == 3 and [e.epoch for e in recorder.of(EpochEnd)] == [3]
    assert recorder.of(FitEnd)[0].epochs_run == 1


def test_each_epoch_visits_a_new_seeded_permutation():
    # Inputs carry their own index, so a hook on the first layer sees the visiting order.
    n, seed = 40, 5
    x = np.stack([np.arange(n), np.zeros(n)], axis=1).astype(np.float32)
    data = TensorDataset(x, np.arange(n) % 2)
    model = nn.Sequential(nn.Linear(2, 2))
    seen = []
    model[0].register_forward_hook(
        lambda module, inputs, output: seen.extend(inputs[0].numpy()[:, 0].astype(int))
        if module.training else None)
    trainer = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=1e-6),
                      epochs=3, batch_size=16, seed=seed, layer_stats=False)
    trainer.fit(data, data)
    orders = [seen[e * n:(e + 1) * n] for e in range(3)]
    for epoch, order in enumerate(orders):
        assert order == np.random.default_rng([seed, epoch]).permutation(n).tolist()
    assert orders[0] != orders[1] != orders[2]


def test_an_unexpected_error_closes_the_views_then_propagates():
    train, val = xor_data()
    model = nn.Sequential(nn.Linear(3, 2))  # the data has 2 features: a shape error
    trainer = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), epochs=2)
    recorder = Recorder()
    trainer.subscribe(recorder)
    with pytest.raises(ValueError, match=r"Linear: expected input \(\.\.\., 3\)"):
        trainer.fit(train, val)
    (end,) = recorder.of(FitEnd)
    assert end.reason == "failed" and end.message.startswith("ValueError: Linear: expected")


def test_numpy_numbers_are_numbers_and_bools_are_not():
    # epochs=np.int64(2) and l2=np.float32(0.1) were refused ('must be an int'), while
    # epochs=True trained one epoch.
    model = nn.Sequential(nn.Linear(2, 2))
    opt = optim.SGD(model.parameters(), lr=0.1)
    trainer = Trainer(model, "cross_entropy", opt, epochs=np.int64(2), patience=np.int64(3),
                      l1=np.float32(0.5), l2=np.float16(0.25), clip_grad_norm=np.float32(1))
    assert (trainer.epochs, trainer.patience) == (2, 3)
    assert type(trainer.epochs) is int and (trainer.l1, trainer.l2) == (0.5, 0.25)
    for bad in ({"epochs": True}, {"patience": np.True_}, {"l2": False}):
        with pytest.raises(ValueError, match=f"Trainer: {next(iter(bad))} must be"):
            Trainer(model, "cross_entropy", opt, **bad)


def test_a_checkpoint_that_cannot_be_written_is_refused_before_the_first_epoch(tmp_path):
    # Trainer(checkpoint=<a folder>) trained a whole epoch before vecgrad.save failed.
    from vecgrad.checkpoint import CheckpointError

    data = TensorDataset(np.zeros((8, 2), np.float32), np.zeros(8, np.int64))
    model = nn.Sequential(nn.Linear(2, 2))
    seen = []
    for target, problem in ((tmp_path, "it is a folder; give a file name"),
                            (tmp_path / "no" / "run.npz", "does not exist")):
        trainer = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1),
                          epochs=1, checkpoint=target)
        trainer.subscribe(seen.append)
        with pytest.raises(CheckpointError, match=f"Trainer: checkpoint .*{problem}"):
            trainer.fit(data, data)
    assert seen == []  # not one event: nothing was trained


def test_a_model_without_parameters_can_be_evaluated():
    # Trainer._device read next(iter(parameters())): a bare StopIteration.
    data = TensorDataset(np.array([[1.0, 0.0], [0.0, 2.0]], np.float32), np.array([0, 1]))
    result = Trainer(nn.Sequential(nn.ReLU()), "cross_entropy", None).evaluate(data)
    assert result.accuracy == 1.0 and result.samples == 2


def test_a_custom_loss_that_is_not_one_number_is_named():
    # It failed later: "'float' object has no attribute 'backward'", or backward's
    # "gradient can only be implied for a one-element output".
    import vecgrad.nn.functional as F

    data = TensorDataset(np.ones((4, 2), np.float32), np.array([0, 1, 0, 1]))

    def per_sample(outputs, labels):
        return F.cross_entropy(outputs, labels, reduction="none")

    for loss, what in ((per_sample, r"'per_sample' returned a Tensor of shape \(4,\)"),
                       (lambda outputs, labels: 1.0, "'<lambda>' returned a float")):
        model = nn.Sequential(nn.Linear(2, 2))
        trainer = Trainer(model, loss, optim.SGD(model.parameters(), lr=0.1), epochs=1)
        with pytest.raises(TypeError, match=f"loss {what}; a loss must return a one-element"):
            trainer.fit(data, data)
    model = nn.Sequential(nn.Linear(2, 2))
    shaped = Trainer(model, lambda o, y: F.cross_entropy(o, y).reshape(1, 1),
                     optim.SGD(model.parameters(), lr=0.1), epochs=1)
    assert shaped.fit(data, data).stop_reason == "completed"


def test_a_loader_without_batches_is_named():
    # drop_last=True with fewer samples than batch_size: ZeroDivisionError after an epoch.
    data = TensorDataset(np.ones((5, 2), np.float32), np.arange(5) % 2)
    empty = DataLoader(data, 8, drop_last=True)
    model = nn.Sequential(nn.Linear(2, 2))
    trainer = Trainer(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), epochs=1)
    for train, val, what in ((empty, data, "training"), (data, empty, "validation")):
        with pytest.raises(ValueError, match=f"Trainer: the {what} loader gives no batches "
                           r"\(5 samples, batch_size 8, drop_last=True\)"):
            trainer.fit(train, val)
    with pytest.raises(ValueError, match="the test loader gives no batches"):
        trainer.evaluate(empty)


def test_a_scheduler_that_cannot_drive_the_optimizer_is_refused():
    # Trainer(scheduler=3) failed with AttributeError after the first epoch; a schedule
    # of another optimizer changed that optimizer's lr, silently.
    model = nn.Sequential(nn.Linear(2, 2))
    opt = optim.SGD(model.parameters(), lr=0.1)
    other = optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(TypeError, match="scheduler must have a step"):
        Trainer(model, "cross_entropy", opt, scheduler=3)
    with pytest.raises(ValueError, match="scheduler was built for another optimizer"):
        Trainer(model, "cross_entropy", opt, scheduler=optim.StepDecay(other, 1, 0.5))
    Trainer(model, "cross_entropy", opt, scheduler=optim.StepDecay(opt, 1, 0.5))


def test_extra_state_cannot_replace_the_trainers_own_entries():
    # extra_state={"model": ...} replaced the weights in every checkpoint, silently.
    from vecgrad.train.trainer import _TRAINER_KEYS

    model = nn.Sequential(nn.Linear(2, 2))
    opt = optim.SGD(model.parameters(), lr=0.1)
    assert set(Trainer(model, "mse", opt).state_dict(0)) == set(_TRAINER_KEYS)
    with pytest.raises(ValueError, match=r"extra_state may not use .* \['epoch', 'model'\]"):
        Trainer(model, "mse", opt, extra_state={"model": "mlp:8", "epoch": 3, "config": {}})


def test_a_float64_model_trains_on_float64_batches(device):
    # layers refuse input of another float dtype than their parameters (as PyTorch), and
    # the DataLoader made float32 batches only: the Trainer could not train a double()
    # model. It now builds its loaders in the model's dtype; a DataLoader takes dtype=.
    if not vecgrad.get_backend(device).supports_float64:
        pytest.skip(f"{device} has no float64")
    x, y = xor(64, seed=1)
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2)).double().to(device)
    trainer = Trainer(model, "cross_entropy", optim.Adam(model.parameters()), epochs=1,
                      layer_stats=False)
    history = trainer.fit(TensorDataset(x, y), TensorDataset(x, y))
    assert np.isfinite(history.val_loss[0])
    inputs, targets = next(iter(DataLoader(TensorDataset(x, x[:, :1]), 8,
                                           dtype=vecgrad.float64)))
    assert inputs.dtype == vecgrad.float64 and targets.dtype == vecgrad.float64
    with pytest.raises(ValueError, match="DataLoader: dtype must be float32 or float64"):
        DataLoader(TensorDataset(x, y), dtype="int64")
