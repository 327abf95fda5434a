"""vecgrad.checkpoint: round trips, refusal of pickles, tampering, truncation, atomicity."""

import json
import os
import stat
import pathlib
import pickle
import zipfile

import numpy as np
import pytest

from vecgrad import checkpoint
from vecgrad.checkpoint import CheckpointError


class _RunsCodeWhenUnpickled:
    """Unpickling this touches a marker file: proof that loading executed a payload."""

    def __init__(self, marker):
        self.marker = pathlib.Path(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _members(path):
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _manifest(members):
    return json.loads(members["__manifest__"].tobytes().decode())


def _write_members(path, members, manifest=None, fix_digest=True):
    """Rewrite an archive, optionally with an edited manifest (and a matching digest)."""
    import hashlib

    members = dict(members)
    if manifest is not None:
        raw = json.dumps(manifest).encode()
        members["__manifest__"] = np.frombuffer(raw, np.uint8)
        if fix_digest:
            digest = hashlib.sha256(raw).hexdigest().encode()
            members["__digest__"] = np.frombuffer(digest, np.uint8)
    np.savez(path, **members)


def _node_for(manifest, key):
    """The manifest node of top-level dict key `key`."""
    root = manifest["nodes"][0]
    index = dict((k, i) for k, i in root["items"])[key]
    return manifest["nodes"][index]


@pytest.fixture
def state():
    rng = np.random.default_rng(0)
    return {
        "weights": rng.standard_normal((3, 4)).astype(np.float32),
        "double": rng.standard_normal(5),
        "labels": np.arange(6, dtype=np.int64).reshape(2, 3),
        "mask": np.array([True, False, True]),
        "scalar_array": np.array(2.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "strided": np.arange(12.0).reshape(3, 4)[:, ::2].T,
        "epoch": 7,
        "lr": 0.1,
        "specials": [float("inf"), float("-inf"), float("nan"), -0.0],
        "big_int": 2**70,
        "name": "mlp ✓",
        "flag": True,
        "nothing": None,
        "betas": (0.9, 0.999),
        "nested": {"a": {"b": [1, {"c": np.ones(2)}], "d": ()}},
    }


def _assert_same(expected, actual):
    stack = [(expected, actual, "state")]
    while stack:
        e, a, where = stack.pop()
        assert type(e) is type(a), where
        if isinstance(e, dict):
            assert list(e) == list(a), where
            stack.extend((e[k], a[k], f"{where}[{k!r}]") for k in e)
        elif isinstance(e, (list, tuple)):
            assert len(e) == len(a), where
            stack.extend((x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(e, a)))
        elif isinstance(e, np.ndarray):
            assert e.dtype == a.dtype and e.shape == a.shape, where
            np.testing.assert_array_equal(e, a)
        elif isinstance(e, float) and np.isnan(e):
            assert np.isnan(a), where
        else:
            assert e == a, where
            if isinstance(e, float):
                assert np.copysign(1.0, e) == np.copysign(1.0, a), where


def test_round_trip_keeps_structure_types_and_values(tmp_path, state):
    path = tmp_path / "model.npz"
    checkpoint.save(state, path)
    _assert_same(state, checkpoint.load(path))


def test_file_is_a_plain_npz_without_pickles(tmp_path, state):
    path = tmp_path / "model.npz"
    checkpoint.save(state, path)
    assert zipfile.is_zipfile(path)
    members = _members(path)  # numpy itself reads it with allow_pickle=False
    assert all(m.dtype != object for m in members.values())
    assert _manifest(members)["format"] == "vecgrad-checkpoint"


def test_deeply_nested_state_needs_no_recursion(tmp_path):
    deep = leaf = []
    for _ in range(5000):
        leaf.append([])
        leaf = leaf[0]
    leaf.append(np.arange(3))
    checkpoint.save({"deep": deep}, tmp_path / "deep.npz")
    node = checkpoint.load(tmp_path / "deep.npz")["deep"]
    for _ in range(5000):
        node = node[0]
    np.testing.assert_array_equal(node[0], np.arange(3))


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"x": {1, 2}}, r"state\['x'\].*set"),
        ({"x": [lambda: 0]}, r"state\['x'\]\[0\].*function"),
        ({"x": np.array([object()], dtype=object)}, r"state\['x'\].*dtype object"),
        ({"x": np.array(["text"])}, r"state\['x'\].*dtype <U4"),
        ({1: np.zeros(2)}, r"dict keys must be str.*1"),
        # json.dumps raised "Exceeds the limit (4300 digits) for integer string conversion"
        ({"n": [10 ** 4300]}, r"state\['n'\]\[0\]: an int of more than 4300 digits cannot"),
    ],
)
def test_save_refuses_values_it_cannot_store_safely(tmp_path, bad, message):
    path = tmp_path / "bad.npz"
    with pytest.raises(CheckpointError, match=message):
        checkpoint.save(bad, path)
    assert not path.exists()
    assert os.listdir(tmp_path) == []  # no temp file left behind


def test_save_refuses_cycles(tmp_path):
    cyclic = {"a": []}
    cyclic["a"].append(cyclic)
    with pytest.raises(CheckpointError, match="appears twice"):
        checkpoint.save(cyclic, tmp_path / "cycle.npz")


def test_pickled_file_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"weights": _RunsCodeWhenUnpickled(marker)}))
    with pytest.raises(CheckpointError, match="pickled"):
        checkpoint.load(path)
    assert not marker.exists()


def test_object_array_inside_archive_is_refused_and_never_executed(tmp_path, state):
    marker = tmp_path / "executed"
    path = tmp_path / "model.npz"
    checkpoint.save(state, path)
    members = _members(path)
    member = _node_for(_manifest(members), "weights")["member"]
    members[member] = np.array([_RunsCodeWhenUnpickled(marker)], dtype=object)
    np.savez(path, allow_pickle=True, **members)
    with pytest.raises(CheckpointError, match=rf"entry '{member}'.*pickled"):
        checkpoint.load(path)
    assert not marker.exists()


def test_non_npy_member_is_refused(tmp_path, state):
    path = tmp_path / "model.npz"
    checkpoint.save(state, path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("payload.pkl", pickle.dumps([1, 2]))
    with pytest.raises(CheckpointError, match="payload.pkl"):
        checkpoint.load(path)


@pytest.mark.parametrize("keep", [0, 3, 100, 0.5, 0.9, -1])
def test_truncated_file_is_refused(tmp_path, state, keep):
    path = tmp_path / "model.npz"
    checkpoint.save(state, path)
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path.write_bytes(data[:cut])
    with pytest.raises(CheckpointError):
        checkpoint.load(path)


def test_flipped_byte_is_detected(tmp_path, state):
    path = tmp_path / "model.npz"
    checkpoint.save(state, path)
    data = bytearray(path.read_bytes())
    raw = state["weights"].tobytes()
    at = bytes(data).index(raw) + 5
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt|modified"):
        checkpoint.load(path)


@pytest.mark.parametrize("offset, value", [(6, 107), (8, 0x40)])
def test_forged_zip_version_or_flags_are_a_checkpoint_error(tmp_path, state, offset, value):
    # zipfile raises NotImplementedError for a "version needed to extract" it does not
    # know ("zip file version 10.7", when the archive is opened) and for the strong
    # encryption flag (when an entry is opened); found by flipping random bytes of a
    # checkpoint, it escaped as that error.
    path = tmp_path / "model.npz"
    checkpoint.save(state, path)
    data = bytearray(path.read_bytes())
    for at in range(len(data)):  # every central directory header
        if data[at:at + 4] == b"PK\x01\x02":
            data[at + offset:at + offset + 2] = value.to_bytes(2, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoint.load(path)


def test_consistently_rewritten_data_is_detected_by_digest(tmp_path, state):
    path = tmp_path / "model.npz"
    checkpoint.save(state, path)
    members = _members(path)
    member = _node_for(_manifest(members), "weights")["member"]
    members[member] = members[member] + 1  # a valid archive with other numbers in it
    _write_members(path, members)
    with pytest.raises(CheckpointError, match=rf"state\['weights'\].*SHA-256"):
        checkpoint.load(path)


def test_edited_manifest_without_digest_is_detected(tmp_path, state):
    path = tmp_path / "model.npz"
    checkpoint.save(state, path)
    members = _members(path)
    manifest = _manifest(members)
    _node_for(manifest, "epoch")["value"] = 8
    _write_members(path, members, manifest, fix_digest=False)
    with pytest.raises(CheckpointError, match="manifest does not match its digest"):
        checkpoint.load(path)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("shape", [4, 3], r"state\['weights'\]: shape mismatch: manifest says \(4, 3\).*\(3, 4\)"),
        ("dtype", "<f8", r"state\['weights'\]: dtype mismatch: manifest says <f8.*<f4"),
        ("dtype", "not-a-dtype", r"not a numpy dtype"),
        ("member", "a999", r"state\['weights'\]: archive entry 'a999' is missing"),
        ("type", "pickle", r"state\['weights'\]: unknown manifest node type 'pickle'"),
    ],
)
def test_manifest_and_archive_disagreeing_is_named(tmp_path, state, field, value, message):
    path = tmp_path / "model.npz"
    checkpoint.save(state, path)
    members = _members(path)
    manifest = _manifest(members)
    _node_for(manifest, "weights")[field] = value
    _write_members(path, members, manifest)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(path)


def test_extra_and_missing_archive_entries_are_named(tmp_path, state):
    path = tmp_path / "model.npz"
    checkpoint.save(state, path)
    members = _members(path)
    _write_members(path, {**members, "smuggled": np.zeros(3)})
    with pytest.raises(CheckpointError, match=r"not described by the manifest: \['smuggled'\]"):
        checkpoint.load(path)
    member = _node_for(_manifest(members), "double")["member"]
    del members[member]
    _write_members(path, members)
    with pytest.raises(CheckpointError, match=rf"state\['double'\]: archive entry '{member}' is missing"):
        checkpoint.load(path)


def test_manifest_that_is_not_a_tree_is_refused(tmp_path, state):
    path = tmp_path / "model.npz"
    checkpoint.save(state, path)
    members = _members(path)
    manifest = _manifest(members)
    root = manifest["nodes"][0]
    root["items"].append(["again", root["items"][0][1]])  # one node with two parents
    _write_members(path, members, manifest)
    with pytest.raises(CheckpointError, match="invalid node"):
        checkpoint.load(path)


def test_other_files_are_refused_with_a_reason(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "missing.npz")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a vecgrad checkpoint"):
        checkpoint.load(text)
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.zeros(2))
    with pytest.raises(CheckpointError, match="no __manifest__ entry"):
        checkpoint.load(plain)


def test_save_into_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.save({"x": 1}, tmp_path / "nowhere" / "model.npz")
    with pytest.raises(CheckpointError, match="it is a directory; give a file name"):
        checkpoint.save({"x": 1}, tmp_path)
    assert os.listdir(tmp_path) == []  # no temp file left behind


def test_save_to_an_empty_file_name_says_so(tmp_path, monkeypatch):
    # It said "cannot save to <working folder>: it is a directory" (abspath("") is cwd).
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="cannot save: the file name is empty"):
        checkpoint.save({"x": 1}, "")
    assert os.listdir(tmp_path) == []


def test_a_torch_save_file_is_named_as_a_pickle_not_a_checkpoint(tmp_path):
    # torch.save's layout (a zip holding <name>/data.pkl), written without torch; the
    # message said only "is not a numpy array (.npy)".
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/data.pkl", pickle.dumps({"w": [1.0]}))
        archive.writestr("model/version", "3\n")
    with pytest.raises(CheckpointError, match=r"'model/data.pkl' is a pickle: this is not "
                                              r"a vecgrad checkpoint \(torch.save"):
        checkpoint.load(path)


def test_failure_while_writing_leaves_old_file_intact(tmp_path, monkeypatch, state):
    path = tmp_path / "model.npz"
    checkpoint.save({"version": 1}, path)
    before = path.read_bytes()

    def crash_half_way(stream, **members):
        stream.write(b"PK\x03\x04 partial bytes of a new checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.np, "savez", crash_half_way)
    with pytest.raises(CheckpointError, match=r"cannot save to .*model.npz: disk full"):
        checkpoint.save(state, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]  # the temp file was cleaned up
    monkeypatch.undo()
    assert checkpoint.load(path) == {"version": 1}


def test_failure_at_rename_leaves_old_file_intact(tmp_path, monkeypatch, state):
    path = tmp_path / "model.npz"
    checkpoint.save({"version": 1}, path)
    seen = []

    def failing_replace(source, target):
        seen.append((os.path.dirname(source), os.path.basename(source)))
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(state, path)
    monkeypatch.undo()
    # the temp file lived in the target's directory, so the rename is atomic
    assert seen[0][0] == str(tmp_path) and seen[0][1].startswith(".model.npz.")
    assert os.listdir(tmp_path) == ["model.npz"]
    assert checkpoint.load(path) == {"version": 1}


def test_overwrite_replaces_old_content(tmp_path, state):
    path = tmp_path / "model.npz"
    checkpoint.save({"version": 1}, path)
    checkpoint.save(state, path)
    _assert_same(state, checkpoint.load(path))


def test_saved_file_gets_normal_permissions(tmp_path, state):
    # mkstemp creates 0600 files; a checkpoint should be readable like any file the
    # user writes (umask applies), and an existing file keeps its mode.
    old_umask = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.npz"
        checkpoint.save(state, fresh)
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        private = tmp_path / "private.npz"
        private.write_bytes(b"old")
        private.chmod(0o600)
        checkpoint.save(state, private)
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)


def test_tensors_keep_dtype_device_and_requires_grad(tmp_path, device):
    import vecgrad

    from .helpers import device_name

    weights = vecgrad.tensor(np.arange(6.0).reshape(2, 3), dtype=vecgrad.float32,
                             requires_grad=True, device=device)
    labels = vecgrad.tensor([3, 1, 2], dtype=vecgrad.int64, device=device)
    path = tmp_path / "tensors.npz"
    checkpoint.save({"w": weights, "y": labels, "raw": np.ones(2)}, path)
    loaded = checkpoint.load(path)
    assert isinstance(loaded["w"], vecgrad.Tensor) and isinstance(loaded["raw"], np.ndarray)
    assert loaded["w"].requires_grad and loaded["w"].is_leaf and not loaded["y"].requires_grad
    assert loaded["w"].dtype == np.float32 and loaded["y"].dtype == np.int64
    assert loaded["w"].device == device_name(device)
    np.testing.assert_array_equal(loaded["w"].numpy(), weights.numpy())
    np.testing.assert_array_equal(loaded["y"].numpy(), [3, 1, 2])
    on_cpu = checkpoint.load(path, device="cpu")
    assert on_cpu["w"].device == "cpu"


def test_unknown_saved_device_is_a_checkpoint_error(tmp_path):
    import vecgrad

    path = tmp_path / "tensors.npz"
    checkpoint.save({"w": vecgrad.ones(2)}, path)
    members = _members(path)
    manifest = _manifest(members)
    _node_for(manifest, "w")["device"] = "tpu:7"
    _write_members(path, members, manifest)
    with pytest.raises(CheckpointError, match=r"state\['w'\]: cannot restore the tensor on device 'tpu:7'"):
        checkpoint.load(path)
    assert checkpoint.load(path, device="cpu")["w"].device == "cpu"


def test_open_files_and_buffers_are_refused_with_the_reason(tmp_path, state):
    # torch.save/torch.load take file objects, so users try them: the error said only
    # "expected str, bytes or os.PathLike object, not BytesIO" (from os.fspath).
    import io

    path = tmp_path / "run.npz"
    for target in (io.BytesIO(), open(tmp_path / "other.npz", "wb")):
        with pytest.raises(TypeError, match=r"vecgrad.save\(state, path\) takes a file name "
                           r".*not (BytesIO|BufferedWriter); unlike torch.*temporary file"):
            checkpoint.save(state, target)
    checkpoint.save(state, path)
    with open(path, "rb") as stream:
        with pytest.raises(TypeError, match="vecgrad.load.*not BufferedReader; unlike torch"):
            checkpoint.load(stream)
    with pytest.raises(TypeError, match=r"save\(state, path\) takes a file name .*not dict$"):
        checkpoint.save(str(path), state)  # arguments swapped
    with pytest.raises(TypeError, match="not NoneType$"):
        checkpoint.load(None)


def test_the_largest_storable_int_round_trips(tmp_path):
    path = tmp_path / "big.npz"
    checkpoint.save({"n": -(10 ** 4300 - 1)}, path)
    assert checkpoint.load(path)["n"] == -(10 ** 4300 - 1)


def test_bytes_file_names_work_for_save_as_for_load(tmp_path, state):
    # save(state, b"run.npz") raised "cannot use a string pattern on a bytes-like object".
    path = os.fsencode(tmp_path / "run.npz")
    checkpoint.save(state, path)
    assert checkpoint.load(path).keys() == state.keys()


def test_a_wrong_device_argument_is_the_callers_error_not_the_files(tmp_path):
    # load(path, device="foo") said "state['w']: cannot restore the tensor on device
    # 'foo'" as if the file were at fault; device=3 raised "'int' object is not
    # subscriptable".
    import vecgrad
    from vecgrad.backends import DeviceError

    path = tmp_path / "run.npz"
    checkpoint.save({"w": vecgrad.ones(2)}, path)
    with pytest.raises(DeviceError, match="^vecgrad.load: unknown device 'foo'"):
        checkpoint.load(path, device="foo")
    with pytest.raises(DeviceError, match="^vecgrad.load: device must be a string .* int 3"):
        checkpoint.load(path, device=3)
    assert checkpoint.load(path, device="CPU")["w"].device == "cpu"


def test_load_takes_pytorchs_map_location_and_weights_only(tmp_path, device):
    import vecgrad
    from vecgrad import nn

    model = nn.Linear(2, 3).to(device)
    path = tmp_path / "model.pt"
    vecgrad.save(model.state_dict(), path)
    state = vecgrad.load(path, map_location="cpu", weights_only=True)
    assert state["weight"].device == "cpu"
    assert vecgrad.load(path, "cpu", map_location="cpu")["bias"].device == "cpu"
    assert vecgrad.load(path, weights_only=False)["weight"].device == model.weight.device
    with pytest.raises(TypeError, match="map_location must be a device name"):
        vecgrad.load(path, map_location={"cuda:0": "cpu"})
    with pytest.raises(TypeError, match="give device or map_location, not both"):
        vecgrad.load(path, "cpu", map_location="opencl")
    with pytest.raises(TypeError, match="weights_only must be a bool"):
        vecgrad.load(path, weights_only="yes")
