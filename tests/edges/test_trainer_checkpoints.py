"""`vecgrad train --resume` / `vecgrad evaluate` on checkpoints with hostile values:
a valid file (digest and all) whose entries have wrong types, ranges or sizes. Each is
one line naming the file and the entry, found before a model is built or trained."""

import numpy as np
import pytest

import vecgrad
from vecgrad.cli import main
from vecgrad.optim import Adam


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "run.npz"
    assert main(["train", "--dataset", "xor", "--model", "mlp:4", "--epochs", "1",
                 "--quiet", "--checkpoint", str(path)]) == 0
    return path


def _set(state, keys, value):
    target = state
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value


CASES = [
    (("config", "batch_size"), "32", "config['batch_size']: expected an int"),
    (("config", "model"), 5, "config['model']: expected text"),
    (("config", "optimizer"), "evil", "config['optimizer']: 'evil' is not one of"),
    (("config", "outputs"), 10**12, "config['outputs']: expected an int in 1..10000"),
    (("config", "class_names"), [str(i) for i in range(20_000)],
     "config['class_names']: expected a list of at most 10000 names, got 20000"),
    (("config", "lr"), float("nan"), "config['lr']: expected a finite number"),
    (("config", "input_shape"), [2, 10**9], "config['input_shape'][1]"),
    (("optimizer", "state", "0", "step"), -1, "optimizer['state']['0']['step']: expected an int"),
    (("optimizer", "optimizer"), "SGD", "optimizer['optimizer']: expected 'Adam'"),
    (("optimizer", "optimizer"), np.zeros(0), "optimizer['optimizer']: expected 'Adam'"),
    (("epoch",), -1, "entry epoch: expected an int in 0..1"),
    (("best_model", "1.weight"), np.zeros((4, 3), np.float32),
     "best_model['1.weight']: shape (4, 3) float32 but the model's is (4, 2)"),
    (("history", "val_loss"), np.zeros(5), "history['val_loss']: expected 1 float(s)"),
    (("early_stopping", "best_epoch"), 7, "early_stopping['best_epoch']: expected an int in 0..1"),
    (("rng",), 5, "entry rng: expected the generator state"),
    (("format",), "evil", "not a `vecgrad train` checkpoint"),
    # an array compared with != gave an array: "truth value ... is ambiguous"
    (("format",), np.array([1, 1]), "not a `vecgrad train` checkpoint"),
    (("config", "input_shape"), [3], "the run was trained on inputs of shape (3,)"),
    (("config", "model"), "mlp:100000", "more than 22 parameters"),
    (("config", "clip_grad_norm"), "x", "entry config['clip_grad_norm']: expected a finite"),
]


@pytest.mark.parametrize("keys, value, message", CASES, ids=[str(c[0]) for c in CASES])
@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_hostile_entries_are_one_line_naming_file_and_entry(capsys, tmp_path, good, keys,
                                                            value, message, command):
    state = vecgrad.load(good)
    _set(state, keys, value)
    path = tmp_path / "bad.npz"
    vecgrad.save(state, path)
    argv = (["train", "--resume", str(path), "--epochs", "3", "--quiet"] if command == "train"
            else ["evaluate", str(path), "--quiet"])
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(path) in err and message in err, err


def test_adam_refuses_a_negative_step():
    params = [vecgrad.zeros(2, requires_grad=True)]
    state = Adam(params).state_dict()
    state["state"]["0"] = {"step": -1, "m": np.zeros(2, np.float32),
                           "v": np.zeros(2, np.float32)}
    with pytest.raises(ValueError, match="'step' must be in 0..2\\*\\*62, got -1"):
        Adam(params).load_state_dict(state)
