"""RunConfig from Python: settings of a wrong type are named, also on resume."""

import re

import numpy as np
import pytest

from vecgrad.train import RunConfig, run
from vecgrad.train.config import ConfigError


def test_resume_names_a_change_of_the_wrong_type(tmp_path):
    # RunConfig.resume(path, epochs="2") raised "'<=' not supported between instances
    # of 'str' and 'int'".
    path = tmp_path / "run.npz"
    run(RunConfig(model="mlp:8", epochs=1, checkpoint=str(path)), layer_stats=False)
    with pytest.raises(ConfigError, match="epochs must be an int, got str '2'"):
        RunConfig.resume(path, epochs="2")
    with pytest.raises(ConfigError, match="patience must be an int, got float 2.5"):
        RunConfig.resume(path, epochs=2, patience=2.5)
    config, state = RunConfig.resume(path, epochs=np.int64(3))
    assert config.epochs == 3 and type(config.epochs) is int and state["epoch"] == 1


@pytest.mark.parametrize("setting, message", [
    ({"data_dir": 3}, "data_dir must be a folder (str or os.PathLike), got int 3"),
    ({"checkpoint": 3.5}, "checkpoint must be a file name (str or os.PathLike), got float"),
])
def test_paths_of_the_wrong_type_are_named(setting, message):
    # data_dir=3 raised os.fspath's "expected str, bytes or os.PathLike object, not int"
    with pytest.raises(ConfigError, match=re.escape(message)):
        RunConfig(dataset="mnist", **setting).validate()
