"""Hostile checkpoints and IDX files: one clear line, memory bounded by the file.

Every fixture is generated here. Where memory is the point, the load runs in a fresh
Python whose address space is capped (resource.RLIMIT_AS) far below what the file asks
for; where hanging is the point, in a subprocess with a short timeout.
"""

import json
import os
import struct
import zipfile

import numpy as np
import pytest

from vecgrad import checkpoint
from vecgrad.checkpoint import CheckpointError
from vecgrad.data import IDXError, read_idx

from . import hostile

GIB = 1 << 30


def _one_line_error(out, cls_name="CheckpointError"):
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith(cls_name + ": "), out.stdout[-2000:]
    assert out.stdout.count("\n") == 1
    return out.stdout


LOAD = """
from vecgrad import checkpoint
try:
    checkpoint.load({path!r})
except checkpoint.CheckpointError as exc:
    print("CheckpointError: " + str(exc))
"""

READ_IDX = """
from vecgrad.data import IDXError, read_idx
try:
    read_idx({path!r})
except IDXError as exc:
    print("IDXError: " + str(exc))
"""


# ------------------------------------------------------------------ checkpoints (.npz)
def test_deflated_zeros_are_refused_before_inflating(tmp_path):
    path = tmp_path / "bomb.npz"
    raw = hostile.zeros_deflate(GIB)
    path.write_bytes(hostile.zip_with_deflated_member("a0.npy", raw, GIB))
    assert path.stat().st_size < 2 << 20
    text = _one_line_error(hostile.run_limited(LOAD.format(path=str(path))))
    assert "entry 'a0.npy' is compressed" in text and str(path) in text


def _npy(descr: str, shape: str, data: bytes) -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def _with_member(path, dtype, shape, npy: bytes) -> None:
    """A checkpoint whose manifest (valid digest) points at one forged member a0."""
    nodes = [{"type": "dict", "items": [["w", 1]]},
             {"type": "ndarray", "member": "a0", "dtype": dtype, "shape": shape,
              "sha256": "0" * 64}]
    hostile.checkpoint_with_manifest(path, hostile.manifest(nodes))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("a0.npy", npy)


def test_a_fake_npy_header_asking_for_terabytes_is_refused(tmp_path):
    path = tmp_path / "fake.npz"
    _with_member(path, "<f8", [2**40], _npy("<f8", "(1099511627776,)", bytes(32)))
    text = _one_line_error(hostile.run_limited(LOAD.format(path=str(path))))
    assert "entry 'a0'" in text and "declares shape (1099511627776,)" in text


def test_a_deep_manifest_costs_linear_memory_and_is_refused_past_the_limit(tmp_path):
    depth = checkpoint.MAX_DEPTH + 50
    nodes = [{"type": "list", "items": [i + 1]} for i in range(depth)] + [{"type": "none"}]
    path = tmp_path / "deep.npz"
    hostile.checkpoint_with_manifest(path, hostile.manifest(nodes))
    text = _one_line_error(hostile.run_limited(LOAD.format(path=str(path)),
                                               memory=400 << 20))
    assert f"nested more than {checkpoint.MAX_DEPTH} deep" in text and len(text) < 400


def test_deep_but_allowed_state_round_trips_in_linear_memory(tmp_path):
    code = f"""
    from vecgrad import checkpoint
    deep = leaf = []
    for _ in range(checkpoint.MAX_DEPTH - 1):
        leaf.append([])
        leaf = leaf[0]
    checkpoint.save(deep, {str(tmp_path / 'deep.npz')!r})
    node = checkpoint.load({str(tmp_path / 'deep.npz')!r})
    print("CheckpointError: none (loaded)")
    """
    _one_line_error(hostile.run_limited(code, memory=400 << 20))


@pytest.mark.parametrize("name, nodes, message", [
    ("huge int in a shape", [{"type": "ndarray", "member": "a0", "dtype": "<f8",
                              "shape": [10**400], "sha256": "0"}], "manifest shape"),
    ("subarray dtype", [{"type": "ndarray", "member": "a0", "dtype": "(999999999999,)f8",
                         "shape": [1], "sha256": "0"}], "not a numpy dtype"),
    ("huge float", [{"type": "float", "value": 10**400}], "float value is not a number"),
    ("unknown type", [{"type": "x" * 10**5}], "unknown manifest node type"),
    ("long member name", [{"type": "ndarray", "member": "m" * 10**5, "dtype": "<f8",
                           "shape": [1], "sha256": "0"}], "is missing"),
])
def test_hostile_manifest_values_are_one_line(tmp_path, name, nodes, message):
    path = tmp_path / "m.npz"
    hostile.checkpoint_with_manifest(path, hostile.manifest(nodes), {"a0": np.zeros(1)})
    with pytest.raises(CheckpointError, match=message) as info:
        checkpoint.load(path)
    assert str(path) in str(info.value) and len(str(info.value)) < 400


def test_deeply_nested_manifest_json_is_one_line(tmp_path):
    path = tmp_path / "m.npz"
    body = b'{"format": "vecgrad-checkpoint", "version": 1, "nodes": ' + b"[" * 200_000 + \
        b"]" * 200_000 + b"}"
    hostile.checkpoint_with_manifest(path, body)
    with pytest.raises(CheckpointError, match="nested too deeply|not valid JSON"):
        checkpoint.load(path)


def test_an_object_dtype_in_a_header_never_unpickles(tmp_path):
    path = tmp_path / "o.npz"
    _with_member(path, "<f8", [1], _npy("|O", "(1,)", b"x" * 8))
    with pytest.raises(CheckpointError, match="pickled objects"):
        checkpoint.load(path)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    out = hostile.run_limited(LOAD.format(path=str(fifo)), timeout=30)
    text = _one_line_error(out)
    assert "is not a regular file (a FIFO)" in text


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="not a regular file \\(a directory\\)"):
        checkpoint.load(tmp_path)


# --------------------------------------------------------------------------- IDX files
def _idx(dims, dtype_code=0x08, payload=b""):
    return bytes([0, 0, dtype_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) \
        + payload


def test_gzip_idx_inflating_past_its_header_stops_at_the_header(tmp_path):
    path = tmp_path / "bomb-idx1-ubyte.gz"
    path.write_bytes(hostile.gzip_of(_idx([10]) + bytes(10), GIB))
    text = _one_line_error(hostile.run_limited(READ_IDX.format(path=str(path))), "IDXError")
    assert "longer than its header says" in text and str(path) in text


def test_gzip_idx_whose_header_claims_more_than_deflate_can_hold(tmp_path):
    path = tmp_path / "claim-idx3-ubyte.gz"
    path.write_bytes(hostile.gzip_small(_idx([60000, 4096, 4096])))
    with pytest.raises(IDXError, match="more than a .*-byte gzip file can hold"):
        read_idx(path)


def test_idx_dims_whose_product_overflows_int64(tmp_path):
    path = tmp_path / "over-idx3-ubyte"
    path.write_bytes(_idx([2**32 - 1] * 4, 0x0E))
    with pytest.raises(IDXError) as info:
        read_idx(path)
    message = str(info.value)
    assert "truncated" in message and "-" not in message.split("need")[1].split("data")[0]


def test_corrupt_deflate_is_one_line(tmp_path):
    path = tmp_path / "bad-idx1-ubyte.gz"
    good = hostile.gzip_small(_idx([100]) + bytes(range(100)))
    path.write_bytes(good[:10] + b"\xff" * 8 + good[18:])  # block type 3: invalid
    with pytest.raises(IDXError, match="gzip data is corrupt"):
        read_idx(path)


def test_a_fifo_as_idx_file_does_not_block(tmp_path):
    fifo = tmp_path / "train-images-idx3-ubyte"
    os.mkfifo(fifo)
    text = _one_line_error(hostile.run_limited(READ_IDX.format(path=str(fifo)), timeout=30),
                           "IDXError")
    assert "not a regular file (a FIFO)" in text


@pytest.mark.parametrize("value, shown", [(np.nan, "nan"), (2.5, "2.5"), (np.inf, "inf")])
def test_float_labels_must_be_whole_finite_numbers(tmp_path, value, shown):
    from vecgrad.data import load_dataset

    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx([12, 2, 2], 0x08, bytes(48)))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx([6, 2, 2], 0x08, bytes(24)))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx([6], 0x08, bytes(range(6))))
    label_file = tmp_path / "train-labels-idx1-ubyte"
    labels = (np.arange(12) % 10).astype(">f8")
    labels[3] = value
    label_file.write_bytes(_idx([12], 0x0E, labels.tobytes()))
    with pytest.raises(IDXError, match=rf"{label_file}: labels must be whole numbers 0..9; "
                                       rf"label 3 is {shown}"):
        load_dataset("mnist", tmp_path)
