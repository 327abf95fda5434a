"""The IDX reader and the MNIST-format loader, on files the tests write."""

import gzip
import struct

import numpy as np
import pytest

from vecgrad.data import MNIST_FILES, IDXError, find_idx_files, load_dataset, read_idx


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file by the format's definition (LeCun's MNIST page), written independently."""
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    big_endian = array.astype(array.dtype.newbyteorder(">"))
    return header + big_endian.tobytes()


def test_reads_raw_and_gzip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    raw = tmp_path / "images-idx3-ubyte"
    raw.write_bytes(idx_bytes(images))
    np.testing.assert_array_equal(read_idx(raw), images)
    packed = tmp_path / "images-idx3-ubyte.gz"
    packed.write_bytes(gzip.compress(idx_bytes(images)))
    np.testing.assert_array_equal(read_idx(packed), images)


def test_reads_other_element_types(tmp_path):
    values = np.array([[1.5, -2.25], [3.0, 1e-3]], dtype=np.float32)
    path = tmp_path / "floats.idx"
    path.write_bytes(idx_bytes(values, code=0x0D))
    np.testing.assert_array_equal(read_idx(path), values)
    ints = np.array([-5, 70000, 3], dtype=np.int32)
    path.write_bytes(idx_bytes(ints, code=0x0C))
    np.testing.assert_array_equal(read_idx(path), ints)


def test_wrong_magic(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x00\x01\x08\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(IDXError, match="not an IDX file"):
        read_idx(path)
    path.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(IDXError, match="magic bytes 00000701"):
        read_idx(path)


def test_truncated_and_oversized(tmp_path):
    data = idx_bytes(np.zeros((3, 4, 4), dtype=np.uint8))
    path = tmp_path / "t.idx"
    path.write_bytes(data[:-5])
    with pytest.raises(IDXError, match=r"truncated: dimensions \(3, 4, 4\) need 48 data bytes, "
                                       r"found 43"):
        read_idx(path)
    path.write_bytes(data + b"\x00")
    with pytest.raises(IDXError, match="longer than its header says"):
        read_idx(path)
    path.write_bytes(data[:6])
    with pytest.raises(IDXError, match="header announces 3 dimensions"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(IDXError, match="too short"):
        read_idx(path)
    path.write_bytes(gzip.compress(data)[:-10])
    with pytest.raises(IDXError, match="gzip data is corrupt or truncated"):
        read_idx(path)


def write_mnist(folder, n_train=60, n_test=12, gz=True, label_shift=0):
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10 + label_shift).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for i, (name, array) in enumerate(arrays.items()):
        data = idx_bytes(array)
        if gz and i % 2 == 0:  # a mix of compressed and raw files
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


def test_load_mnist_from_a_folder(tmp_path):
    arrays = write_mnist(tmp_path / "fashion-mnist")
    bundle = load_dataset("fashion-mnist", tmp_path)  # finds data_dir/<name>
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (50, 10, 12)
    assert bundle.input_shape == (1, 28, 28) and bundle.class_names[9] == "Ankle boot"
    np.testing.assert_array_equal(bundle.test.inputs[:, 0], arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(bundle.val.targets, arrays["train-labels-idx1-ubyte"][50:])


def test_missing_files_name_files_and_folder(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"")
    with pytest.raises(FileNotFoundError) as info:
        find_idx_files("mnist", tmp_path)
    message = str(info.value)
    for name in MNIST_FILES[1:]:
        assert name in message
    assert "missing train-images" not in message and str(tmp_path) in message


def test_a_folder_under_a_file_name_is_said_to_be_one(tmp_path):
    # it read "missing train-images-idx3-ubyte" beside a folder of exactly that name
    (tmp_path / "train-images-idx3-ubyte").mkdir()
    with pytest.raises(FileNotFoundError) as info:
        find_idx_files("mnist", tmp_path)
    folder = tmp_path / "train-images-idx3-ubyte"
    assert f"train-images-idx3-ubyte ({folder} is not a file)" in str(info.value)


def test_bad_labels_are_reported(tmp_path):
    write_mnist(tmp_path, label_shift=5)
    with pytest.raises(IDXError, match=r"labels must lie in 0..9, found 5..14"):
        load_dataset("mnist", tmp_path)


@pytest.mark.parametrize("case", ["swapped", "count", "size"])
def test_files_that_do_not_fit_together_are_named(tmp_path, case):
    # These errors said only "mnist train: images of shape ..." (which file was wrong?).
    write_mnist(tmp_path, gz=False)
    rng = np.random.default_rng(2)
    if case == "swapped":  # the images file holds labels
        bad, array = "train-images-idx3-ubyte", np.zeros(60, np.uint8)
        pattern = r"train-images-idx3-ubyte: mnist images must have 3 dimensions.*\(60,\)"
    elif case == "count":
        bad, array = "t10k-labels-idx1-ubyte", np.zeros(11, np.uint8)
        pattern = (r"t10k-images-idx3-ubyte holds 12 images but \S*t10k-labels-idx1-ubyte "
                   r"holds 11 labels")
    else:
        bad, array = "t10k-images-idx3-ubyte", rng.integers(0, 256, (12, 14, 14), np.uint8)
        pattern = (r"train-images-idx3-ubyte are 28x28 but those of \S*t10k-images-idx3-ubyte"
                   r" are 14x14")
    (tmp_path / bad).write_bytes(idx_bytes(array))
    with pytest.raises(IDXError, match=pattern):
        load_dataset("mnist", tmp_path)


def test_zero_dimensions_are_named_as_such(tmp_path):
    # "header announces 0 dimensions but the file ends after 4 bytes" of a 5-byte file
    path = tmp_path / "scalar.idx"
    path.write_bytes(b"\x00\x00\x08\x00\x05")
    with pytest.raises(IDXError, match="the header announces 0 dimensions; an IDX file "
                                       "holds an array of at least one"):
        read_idx(path)
