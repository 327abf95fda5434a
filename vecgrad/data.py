"""Datasets, splits, normalizers, a DataLoader and the IDX reader.

Everything here works on host numpy arrays; only `DataLoader` turns batches into
vecgrad Tensors (imported lazily, so reading data never needs the autograd engine).
Shuffling is derived from (seed, epoch) alone, which makes an epoch's batch order
reproducible after a resume without carrying generator state around.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from vecgrad._files import open_regular

DATASET_NAMES = ("digits", "moons", "circles", "spirals", "xor", "sine", "sine-next", "adding",
                 "mnist", "fashion-mnist")
# The split of every built-in dataset is fixed by this seed (not by --seed), so the
# test set is the same whatever the training seed is.
SPLIT_SEED = 0


# --------------------------------------------------------------------------- datasets
class Dataset:
    """A sized, indexable collection of (input, target) pairs.

    Subclasses implement `__len__` and `__getitem__(i)` for one int index, as in
    PyTorch; the DataLoader stacks the samples of a batch (`get_batch`). A dataset whose
    arrays can be indexed by a whole batch at once may override `get_batch` to do so.
    """

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} must implement __getitem__")

    def get_batch(self, indices: np.ndarray):
        """(inputs, targets) of the samples at `indices`, stacked along a first axis."""
        return collate_samples(self, indices)


def collate_samples(dataset, indices) -> tuple:
    """Fetch `dataset[i]` for each index (one (input, target) pair each) and stack the
    inputs and the targets, as PyTorch's default collate does; a sample that is not a
    pair, or that does not stack with the first one, is named in the error."""
    inputs, targets = [], []
    for i in indices:
        i = int(i)
        sample = dataset[i]
        if not isinstance(sample, (tuple, list)) or len(sample) != 2:
            size = f" of length {len(sample)}" if isinstance(sample, (tuple, list)) else ""
            raise TypeError(f"DataLoader: dataset[{i}] gave a value of type "
                            f"{type(sample).__name__}{size}; expected an (input, target) pair")
        inputs.append(_as_sample_array(sample[0], i, "input"))
        targets.append(_as_sample_array(sample[1], i, "target"))
    return _stack(inputs, indices, "input"), _stack(targets, indices, "target")


def _as_sample_array(value, index: int, what: str) -> np.ndarray:
    array = (np.asarray(value.numpy()) if hasattr(value, "numpy") and callable(value.numpy)
             else np.asarray(value))
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(f"DataLoader: the {what} of dataset[{index}] is not numeric "
                        f"(a {type(value).__name__} of dtype {array.dtype})")
    return array


def _stack(arrays: list, indices, what: str) -> np.ndarray:
    first = arrays[0].shape
    for i, array in zip(indices, arrays):
        if array.shape != first:
            raise ValueError(f"DataLoader: the {what} of dataset[{int(i)}] has shape "
                             f"{array.shape} but the {what} of dataset[{int(indices[0])}] "
                             f"has shape {first}; a batch needs equal shapes")
    return np.stack(arrays)


class TensorDataset(Dataset):
    """Inputs and targets held as arrays with the same first dimension.

    Accepts numpy arrays, nested lists or vecgrad Tensors (copied to host numpy).
    """

    def __init__(self, inputs, targets):
        self.inputs = _as_host_array(inputs, "inputs")
        self.targets = _as_host_array(targets, "targets")
        if self.inputs.ndim == 0 or self.targets.ndim == 0:
            raise ValueError("TensorDataset: inputs and targets need a first (sample) axis, "
                             f"got shapes {self.inputs.shape} and {self.targets.shape}")
        if len(self.inputs) != len(self.targets):
            raise ValueError(f"TensorDataset: {len(self.inputs)} inputs but "
                             f"{len(self.targets)} targets; the first dimensions must match")

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index):
        return self.inputs[index], self.targets[index]

    def get_batch(self, indices: np.ndarray):
        return self.inputs[indices], self.targets[indices]  # one gather, not one per sample

    def __repr__(self) -> str:
        return (f"TensorDataset({len(self)} samples, inputs {self.inputs.shape[1:]} "
                f"{self.inputs.dtype}, targets {self.targets.shape[1:]} {self.targets.dtype})")


def _as_host_array(data, what: str) -> np.ndarray:
    if hasattr(data, "numpy") and callable(data.numpy):  # a vecgrad Tensor
        return np.asarray(data.numpy())
    if (isinstance(data, (list, tuple)) and data
            and all(hasattr(item, "numpy") and callable(item.numpy) for item in data)):
        data = [item.numpy() for item in data]  # a list of Tensors, one per sample
    try:
        array = np.asarray(data)
    except ValueError:  # numpy's "inhomogeneous shape"
        array = np.asarray(data, dtype=object)
    if array.dtype == object:
        raise TypeError(f"TensorDataset: {what} are not a rectangular numeric array "
                        "(rows of different lengths, or values that are not numbers)")
    # Strings failed only at the first batch ("could not convert string to float"), and
    # complex numbers lost their imaginary part there with a warning.
    if array.dtype.kind not in "biuf":
        raise TypeError(f"TensorDataset: {what} must be numbers (bool, int or float), got "
                        f"dtype {array.dtype}")
    return array


class DataLoader:
    """Mini-batches of a Dataset as vecgrad Tensors.

    With `shuffle=True` the order of epoch `e` is a permutation drawn from a generator
    seeded with (seed, e); call `set_epoch(e)` before iterating (the Trainer does) or
    let the loader count epochs itself: each new iteration, finished or not, moves on to
    the next epoch's order, as each of PyTorch's does. Inputs become float32 Tensors
    (`dtype=vecgrad.float64` for a float64 model: layers refuse the other float dtype);
    integer targets become int64 Tensors (class labels), float targets the inputs' dtype.

    `dataset` is a Dataset (its `get_batch` method fetches a batch) or anything with
    `__len__` and `__getitem__(i)` giving (input, target) pairs, such as a list.

    `seed=None` draws the loader's seed from vecgrad's global generator (the one
    `vecgrad.manual_seed` seeds), as PyTorch's DataLoader without a generator draws from
    torch's: unseeded unless the program seeds vecgrad. The drawn seed is kept in `.seed`.
    """

    def __init__(self, dataset: Dataset, batch_size: int = 32, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = 0, device: str | None = None,
                 dtype=np.float32, *, num_workers: int = 0, pin_memory: bool = False):
        # PyTorch's num_workers and pin_memory, accepted so that a ported loader line runs:
        # batches are made in the calling thread and pinned memory has no meaning here,
        # so neither changes a batch.
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) \
                or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be an int >= 0, got {num_workers!r}")
        if not isinstance(pin_memory, (bool, np.bool_)):
            raise ValueError(f"DataLoader: pin_memory must be a bool, got {pin_memory!r}")
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"DataLoader: dtype must be float32 or float64, got {dtype!r}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if seed is None:
            from vecgrad.ops.creation import random_generator  # lazy, as in __iter__

            seed = int(random_generator().integers(2**63))
        # int(1.5) and int("3") passed silently; numpy named no argument for -1
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"DataLoader: seed must be a non-negative int or None, "
                             f"got {seed!r}")
        if len(dataset) == 0:
            raise ValueError("DataLoader: the dataset is empty")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = int(seed)
        self.device = device
        self.dtype = np.dtype(dtype)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose which epoch's permutation the next iteration uses."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self) -> np.ndarray:
        """The sample indices of the current epoch, in visiting order."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n)

    def __iter__(self):
        from vecgrad import tensor  # lazy: loading data must not need the engine

        order = self.order()
        if self.shuffle:
            # Counted when the epoch starts: a loop that breaks early still gets a new
            # order next time (counted at the end, it saw the same first batches again).
            self.epoch += 1
        fetch = (self.dataset.get_batch if isinstance(self.dataset, Dataset)
                 else lambda idx: collate_samples(self.dataset, idx))
        count = len(self)
        for b in range(count):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            inputs, targets = fetch(idx)
            yield (tensor(np.asarray(inputs, dtype=self.dtype), device=self.device),
                   tensor(_target_array(targets, self.dtype), device=self.device))


def _target_array(targets, dtype=np.float32) -> np.ndarray:
    targets = np.asarray(targets)
    if np.issubdtype(targets.dtype, np.integer) or targets.dtype == bool:
        return targets.astype(np.int64)
    return targets.astype(dtype)


# ----------------------------------------------------------------------------- splits
def split_indices(n: int, fractions, seed: int = SPLIT_SEED) -> list[np.ndarray]:
    """Shuffle range(n) with `seed` and cut it into len(fractions) parts.

    `fractions` must be positive and sum to 1; each part gets at least one sample.
    """
    fractions = [float(f) for f in fractions]
    # `not f > 0` refuses NaN too (it passed both tests, then failed inside rounding)
    if any(not f > 0 for f in fractions) or not abs(sum(fractions) - 1.0) <= 1e-9:
        raise ValueError(f"split: fractions must be positive and sum to 1, got {fractions}")
    if n < len(fractions):
        raise ValueError(f"split: {n} samples cannot fill {len(fractions)} parts")
    order = np.random.default_rng(seed).permutation(n)
    bounds = [int(b) for b in np.round(np.cumsum(fractions)[:-1] * n)]
    # Every part keeps at least one sample: each cut at least one past the previous
    # (clipping alone let two tiny fractions round to the same cut: an empty part).
    for i in range(len(bounds)):
        bounds[i] = max(bounds[i], (bounds[i - 1] if i else 0) + 1)
    for i in reversed(range(len(bounds))):
        bounds[i] = min(bounds[i], (bounds[i + 1] if i + 1 < len(bounds) else n) - 1)
    return np.split(order, bounds)


def train_val_test_split(inputs, targets, val_fraction: float = 0.15,
                         test_fraction: float = 0.15, seed: int = SPLIT_SEED):
    """Three TensorDatasets (train, validation, test) from one seeded shuffle."""
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    if len(inputs) != len(targets):
        raise ValueError(f"train_val_test_split: {len(inputs)} inputs but {len(targets)} targets")
    train_fraction = 1.0 - val_fraction - test_fraction
    parts = split_indices(len(inputs), (train_fraction, val_fraction, test_fraction), seed)
    return tuple(TensorDataset(inputs[p], targets[p]) for p in parts)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order (PyTorch's Subset)."""

    def __init__(self, dataset, indices):
        indices = np.asarray(indices)
        if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
            raise TypeError(f"Subset: indices must be a 1-D sequence of ints, got "
                            f"{indices.dtype} of shape {indices.shape}")
        n = len(dataset)
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [0, {n}) for a dataset of "
                             f"{n} samples, got range [{indices.min()}, {indices.max()}]")
        self.dataset = dataset
        self.indices = indices.astype(np.int64) % max(n, 1)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray):
        picked = self.indices[np.asarray(indices)]
        if isinstance(self.dataset, Dataset):
            return self.dataset.get_batch(picked)
        return collate_samples(self.dataset, picked)

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {len(self.dataset)} samples)"


def random_split(dataset, lengths, seed: int | None = None) -> list[Subset]:
    """Split `dataset` into Subsets of the given lengths after one random shuffle
    (PyTorch's random_split). `lengths` are ints that sum to len(dataset), or fractions
    that sum to 1 (the floor of each, the samples left over dealt out one each from the
    first, as PyTorch does). The shuffle is drawn from vecgrad's global generator (the
    one `vecgrad.manual_seed` seeds) unless `seed` is given; PyTorch's `generator=` has
    no counterpart here."""
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in lengths):
        sizes = [int(x) for x in lengths]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ValueError(f"random_split: lengths {sizes} must be >= 0 and sum to the "
                             f"dataset's {n} samples (sum {sum(sizes)})")
    else:
        fractions = [float(x) for x in lengths]
        if any(not 0 <= f <= 1 for f in fractions) or not abs(sum(fractions) - 1) <= 1e-9:
            raise ValueError(f"random_split: fractions {fractions} must lie in [0, 1] and "
                             f"sum to 1 (or give ints that sum to {n})")
        sizes = [math.floor(n * f) for f in fractions]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    if seed is None:
        from vecgrad.ops.creation import random_generator  # lazy: no engine for data

        order = random_generator().permutation(n)
    else:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"random_split: seed must be a non-negative int or None, "
                             f"got {seed!r}")
        order = np.random.default_rng(int(seed)).permutation(n)
    return [Subset(dataset, part) for part in np.split(order, np.cumsum(sizes)[:-1])]


# ------------------------------------------------------------------------ normalizers
def _feature(index, ndim: int) -> str:
    """'column 3' for a table's feature, 'feature (0, 2, 5)' for an image's."""
    index = tuple(int(i) for i in index)
    return f"column {index[0]}" if ndim == 1 else f"feature {index}"


def _require_finite(owner: str, inputs: np.ndarray) -> None:
    """Statistics of data holding nan or inf are nan or inf: say where, instead."""
    bad = ~np.isfinite(inputs)
    if bad.any():
        first = np.argwhere(bad)[0]
        raise ValueError(f"{owner}: {_feature(first[1:], inputs.ndim - 1)} holds "
                         f"{inputs[tuple(first)]} (sample {int(first[0])}, {int(bad.sum())} "
                         "non-finite value(s) in all); the statistics need finite inputs")


class Normalizer:
    """Per-feature affine scaling fit on training inputs only: x -> (x - shift) / scale."""

    kind = "none"

    def __init__(self):
        self.shift: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def fit(self, inputs) -> "Normalizer":
        """Compute the statistics from training inputs (first axis = samples)."""
        inputs = np.asarray(inputs, dtype=np.float64)
        if inputs.ndim < 1 or len(inputs) == 0:
            raise ValueError(f"{type(self).__name__}.fit: need at least one sample, "
                             f"got shape {inputs.shape}")
        name = type(self).__name__
        if type(self)._statistics is not Normalizer._statistics:  # Identity computes none
            _require_finite(f"{name}.fit", inputs)
        shift, scale = self._statistics(inputs)
        # A constant feature carries no information; scale 1 keeps it finite (at 0).
        scale = np.where(scale > 0, scale, 1.0)
        # The statistics are float32, as the inputs they scale (transform's output and the
        # DataLoader's batches): past float32's range a scale turned into inf and every
        # transformed value into nan, without a word.
        for what, stat in (("scale", scale), ("shift", shift)):
            big = np.abs(stat) > np.finfo(np.float32).max
            if big.any():
                where = _feature(np.argwhere(big)[0], inputs.ndim - 1)
                raise ValueError(f"{name}.fit: {where}'s {what} {stat[big].flat[0]:.4g} is "
                                 f"beyond float32's range ({np.finfo(np.float32).max:.4g}); "
                                 "the inputs become float32: scale them down first")
        self.shift, self.scale = shift.astype(np.float32), scale.astype(np.float32)
        return self

    def _statistics(self, inputs):
        return np.zeros(inputs.shape[1:]), np.ones(inputs.shape[1:])

    def transform(self, inputs) -> np.ndarray:
        """Scale inputs with the fitted statistics (float32)."""
        if self.shift is None:
            raise RuntimeError(f"{type(self).__name__}: call fit(train_inputs) before transform")
        inputs = np.asarray(inputs, dtype=np.float32)
        if inputs.shape[1:] != self.shift.shape:
            raise ValueError(f"{type(self).__name__}: inputs of shape {inputs.shape[1:]} per "
                             f"sample, but it was fit on {self.shift.shape}")
        return (inputs - self.shift) / self.scale

    def state_dict(self) -> dict:
        """What a checkpoint needs to rebuild this normalizer."""
        return {"kind": self.kind, "shift": self.shift, "scale": self.scale}

    def __repr__(self) -> str:
        fitted = "fitted" if self.shift is not None else "not fitted"
        return f"{type(self).__name__}({fitted})"


class ZScore(Normalizer):
    """Zero mean, unit variance per feature (population std, as in lecture 000)."""

    kind = "zscore"

    def _statistics(self, inputs):
        return inputs.mean(axis=0), inputs.std(axis=0)


class MinMax(Normalizer):
    """Scale each feature to [0, 1] using the training minimum and maximum."""

    kind = "minmax"

    def _statistics(self, inputs):
        low = inputs.min(axis=0)
        return low, inputs.max(axis=0) - low


class Identity(Normalizer):
    """No scaling (`--normalize none`); still records the input shape."""

    kind = "none"


NORMALIZERS = {"zscore": ZScore, "minmax": MinMax, "none": Identity}


def make_normalizer(kind: str) -> Normalizer:
    """A fresh normalizer by name: zscore, minmax or none."""
    if kind not in NORMALIZERS:
        raise ValueError(f"unknown normalizer {kind!r}; choose one of {', '.join(NORMALIZERS)}")
    return NORMALIZERS[kind]()


def normalizer_from_state(state: dict) -> Normalizer:
    """Rebuild a fitted normalizer from `Normalizer.state_dict()` output."""
    try:
        normalizer = make_normalizer(str(state["kind"]))
        shift = np.asarray(state["shift"], dtype=np.float32)
        scale = np.asarray(state["scale"], dtype=np.float32)
    except KeyError as exc:
        raise ValueError(f"normalizer state lacks the entry {exc}") from None
    if shift.shape != scale.shape or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise ValueError("normalizer state is inconsistent: shift/scale shapes "
                         f"{shift.shape}/{scale.shape} or non-positive scale")
    normalizer.shift, normalizer.scale = shift, scale
    return normalizer


# ---------------------------------------------------------------------- toy datasets
def _rng(seed):
    return np.random.default_rng(seed)


def _check_toy(name: str, n, seed, noise=0.0, **sizes) -> None:
    """The generators' arguments, named when wrong: numpy said "negative dimensions are
    not allowed" or "high <= 0", spirals(classes=0) divided by zero, and a nan noise
    gave nan points silently. `sizes` maps an argument to (value, least value)."""
    import numbers

    def whole(value):
        return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))

    for arg, (value, least) in {"n": (n, 1), **sizes}.items():
        if not whole(value) or value < least:
            raise ValueError(f"{name}: {arg} must be an int >= {least}, got {value!r}")
    if not (isinstance(noise, numbers.Real) and 0 <= noise < math.inf):
        raise ValueError(f"{name}: noise must be a finite number >= 0, got {noise!r}")
    if seed is not None and (not whole(seed) or seed < 0):
        raise ValueError(f"{name}: seed must be a non-negative int or None, got {seed!r}")


def moons(n: int = 1000, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles; labels 0/1."""
    _check_toy("moons", n, seed, noise)
    rng = _rng(seed)
    n_upper = n // 2
    t = np.pi * rng.random(n)
    upper = np.arange(n) < n_upper
    x = np.where(upper, np.cos(t), 1.0 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    points = np.stack([x, y], axis=1) + noise * rng.standard_normal((n, 2))
    return points.astype(np.float32), (~upper).astype(np.int64)


def circles(n: int = 1000, noise: float = 0.05, factor: float = 0.5, seed: int = 0):
    """A small circle (label 1) inside a large one (label 0)."""
    _check_toy("circles", n, seed, noise)
    if not (isinstance(factor, (int, float, np.floating)) and math.isfinite(factor)):
        raise ValueError(f"circles: factor must be a finite number, got {factor!r}")
    rng = _rng(seed)
    t = 2 * np.pi * rng.random(n)
    inner = np.arange(n) >= n // 2
    radius = np.where(inner, factor, 1.0)
    points = np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1)
    points += noise * rng.standard_normal((n, 2))
    return points.astype(np.float32), inner.astype(np.int64)


def spirals(n: int = 1500, classes: int = 3, noise: float = 0.2, seed: int = 0):
    """`classes` interleaved spiral arms in the plane (the CS231n toy problem)."""
    _check_toy("spirals", n, seed, noise, classes=(classes, 1))
    rng = _rng(seed)
    labels = np.arange(n) % classes
    r = rng.random(n)
    theta = labels * (2 * np.pi / classes) + 4.0 * r + noise * rng.standard_normal(n)
    points = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
    return points.astype(np.float32), labels.astype(np.int64)


def xor(n: int = 1000, noise: float = 0.1, seed: int = 0):
    """Four Gaussian blobs at (±1, ±1); label 1 where the signs differ."""
    _check_toy("xor", n, seed, noise)
    rng = _rng(seed)
    corners = rng.integers(0, 2, size=(n, 2))
    points = (2.0 * corners - 1.0) + noise * rng.standard_normal((n, 2))
    return points.astype(np.float32), (corners[:, 0] ^ corners[:, 1]).astype(np.int64)


def sine(n: int = 1000, noise: float = 0.05, seed: int = 0):
    """Regression: y = sin(x) + noise for x uniform in [-pi, pi]; targets shape (n, 1)."""
    _check_toy("sine", n, seed, noise)
    rng = _rng(seed)
    x = rng.uniform(-np.pi, np.pi, size=(n, 1))
    y = np.sin(x) + noise * rng.standard_normal((n, 1))
    return x.astype(np.float32), y.astype(np.float32)


TOY_GENERATORS = {"moons": moons, "circles": circles, "spirals": spirals, "xor": xor,
                  "sine": sine}


# ----------------------------------------------------------------- sequence datasets
def sine_next(n: int = 1000, steps: int = 20, noise: float = 0.1, seed: int = 0):
    """Next-step prediction: `steps` noisy samples of sin(ω t + φ) (ω uniform in
    [0.15, 0.6] rad per step, φ uniform), target the next noise-free value.

    Inputs (n, steps, 1), targets (n, 1). The model has to find the frequency and the
    phase from a noisy window, so it needs the whole sequence, not the last value.
    """
    _check_toy("sine_next", n, seed, noise, steps=(steps, 1))
    rng = _rng(seed)
    omega = rng.uniform(0.15, 0.6, size=(n, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    t = np.arange(steps + 1)[None, :]
    clean = np.sin(omega * t + phase)
    inputs = clean[:, :steps] + noise * rng.standard_normal((n, steps))
    return inputs[:, :, None].astype(np.float32), clean[:, steps:].astype(np.float32)


def adding(n: int = 2000, steps: int = 30, seed: int = 0):
    """The adding problem (Hochreiter & Schmidhuber 1997): at each of `steps` steps a
    value uniform in [0, 1] and a marker; two steps are marked (one in each half), and
    the target is the sum of their values.

    Inputs (n, steps, 2), targets (n, 1). Always predicting the mean (1.0) gives a mean
    squared error of 1/6 ≈ 0.167: a model below that has learnt to remember the marked
    values across the sequence.
    """
    _check_toy("adding", n, seed, steps=(steps, 2))  # one marked step in each half
    rng = _rng(seed)
    values = rng.uniform(0, 1, size=(n, steps))
    half = steps // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, steps, size=n)
    markers = np.zeros((n, steps))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    inputs = np.stack([values, markers], axis=2)
    return inputs.astype(np.float32), targets[:, None].astype(np.float32)


SEQUENCE_GENERATORS = {"sine-next": sine_next, "adding": adding}


# ----------------------------------------------------------------------- IDX reader
_IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IDXError(ValueError):
    """An IDX file that is not valid: wrong magic number, truncated, or wrong size."""


_GZIP_MAX_RATIO = 1100   # deflate cannot expand more than ~1032:1; anything beyond is forged
_GZIP_CHUNK = 1 << 20     # decompress this much at a time


def read_idx(path) -> np.ndarray:
    """Read an IDX file (the MNIST format), raw or gzip-compressed.

    The header is two zero bytes, a type code, the number of dimensions and one
    big-endian uint32 per dimension; the data must fill exactly prod(dims) items.
    Raises IDXError naming the file and the problem otherwise. Memory is bounded by
    what the header declares: it is checked before any data is read, and gzip data is
    inflated in chunks straight into the array, stopping at the header's size (a small
    file that inflates without end is refused, not read). Only regular files are read:
    a FIFO or device never blocks.
    """
    path = Path(path)
    stream, size = open_regular(path, IDXError, "IDX file")
    with stream:
        compressed = stream.read(2) == b"\x1f\x8b"  # gzip magic, whatever the name
        stream.seek(0)
        source = gzip.GzipFile(fileobj=stream, mode="rb") if compressed else stream
        try:
            return _read_idx_stream(path, source, size, compressed)
        except (OSError, EOFError, zlib.error) as exc:
            problem = " ".join(str(exc).split()) or type(exc).__name__
            raise IDXError(f"{path}: gzip data is corrupt or truncated ({problem})") from None


def _read_exactly(source, buffer: memoryview) -> int:
    """Fill `buffer` from `source` in bounded chunks; returns the bytes read."""
    done = 0
    while done < len(buffer):
        got = source.readinto(buffer[done:done + _GZIP_CHUNK])
        if not got:
            break
        done += got
    return done


def _read_idx_stream(path, source, size: int, compressed: bool) -> np.ndarray:
    head = source.read(4)
    if len(head) < 4:
        raise IDXError(f"{path}: {len(head)} bytes is too short for an IDX header")
    if head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
        raise IDXError(f"{path}: not an IDX file (magic bytes {head.hex()}; expected "
                       "00 00, a type code in 08 09 0b 0c 0d 0e, and the dimension count)")
    dtype, ndim = _IDX_DTYPES[head[2]], head[3]
    if ndim == 0:  # it read "announces 0 dimensions but the file ends after 4 bytes"
        raise IDXError(f"{path}: the header announces 0 dimensions; an IDX file holds an "
                       "array of at least one")
    dims_raw = source.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise IDXError(f"{path}: header announces {ndim} dimensions but the file ends "
                       f"after {4 + len(dims_raw)} bytes")
    dims = tuple(int.from_bytes(dims_raw[4 * i:4 * i + 4], "big") for i in range(ndim))
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    header = 4 + 4 * ndim
    # What the file could possibly hold, before allocating anything.
    room = (size * _GZIP_MAX_RATIO + 1024) if compressed else size - header
    if expected > room:
        if compressed:
            raise IDXError(f"{path}: header declares dimensions {dims} ({expected} bytes), "
                           f"more than a {size}-byte gzip file can hold")
        raise IDXError(f"{path}: truncated: dimensions {dims} need {expected} data bytes, "
                       f"found {size - header}")
    data = np.empty(math.prod(dims), dtype=dtype)
    actual = _read_exactly(source, memoryview(data).cast("B"))
    extra = len(source.read(1))
    if actual != expected or extra:
        problem = "truncated" if actual < expected else "longer than its header says"
        found = f"found {actual}" if actual < expected else "found more"
        raise IDXError(f"{path}: {problem}: dimensions {dims} need {expected} data bytes, "
                       f"{found}")
    return data.reshape(dims).astype(dtype.newbyteorder("="), copy=False)


# ------------------------------------------------------------------- named datasets
@dataclass
class DatasetBundle:
    """A named dataset, split into train/validation/test host arrays."""

    name: str
    task: str  # "classification" or "regression"
    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    num_classes: int = 0
    input_shape: tuple = ()
    class_names: list = field(default_factory=list)

    @property
    def output_size(self) -> int:
        """Number of model outputs: one per class, or the target width."""
        if self.task == "classification":
            return self.num_classes
        return int(np.prod(self.train.targets.shape[1:], dtype=np.int64)) or 1


MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]


def load_digits_arrays():
    """The embedded 8x8 digits: images (1797, 8, 8) uint8 in 0..16, labels (1797,) uint8."""
    with resources.files("vecgrad.datasets").joinpath("digits.npz").open("rb") as handle:
        with np.load(handle, allow_pickle=False) as archive:
            return archive["images"], archive["labels"]


def load_dataset(name: str, data_dir=None, n: int | None = None) -> DatasetBundle:
    """Load a dataset by name and split it (seeded, fixed).

    digits: embedded, 70/15/15 split, inputs (1, 8, 8). Toy sets (moons, circles,
    spirals, xor, sine) and sequence sets (sine-next, adding: inputs (steps,
    features)): generated with seed 0, `n` samples, 70/15/15. mnist and
    fashion-mnist: IDX files from `data_dir` (raw or .gz); the last 10,000 training
    images are the validation set, t10k is the test set.
    """
    if name == "digits":
        images, labels = load_digits_arrays()
        inputs = images.astype(np.float32)[:, None, :, :]
        train, val, test = train_val_test_split(inputs, labels.astype(np.int64))
        return DatasetBundle(name, "classification", train, val, test, 10, (1, 8, 8),
                             [str(i) for i in range(10)])
    if name in TOY_GENERATORS:
        generator = TOY_GENERATORS[name]
        inputs, targets = generator() if n is None else generator(n=n)
        train, val, test = train_val_test_split(inputs, targets)
        if name == "sine":
            return DatasetBundle(name, "regression", train, val, test, 0, (1,))
        classes = int(targets.max()) + 1
        return DatasetBundle(name, "classification", train, val, test, classes, (2,),
                             [str(i) for i in range(classes)])
    if name in SEQUENCE_GENERATORS:  # regression on (steps, features) sequences
        generator = SEQUENCE_GENERATORS[name]
        inputs, targets = generator() if n is None else generator(n=n)
        train, val, test = train_val_test_split(inputs, targets)
        return DatasetBundle(name, "regression", train, val, test, 0, inputs.shape[1:])
    if name in ("mnist", "fashion-mnist"):
        return _load_mnist_like(name, data_dir)
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)}")


def find_idx_files(name: str, data_dir) -> dict:
    """Locate the four MNIST-format files (raw or .gz) or raise FileNotFoundError.

    Looks in `data_dir` and in `data_dir/<name>`; the error lists exactly what is
    missing and where it was looked for.
    """
    base = Path(data_dir if data_dir is not None else os.path.join("data", name))
    folders = [base, base / name]
    found, missing = {}, []
    for stem in MNIST_FILES:
        candidates = [folder / (stem + suffix) for folder in folders for suffix in (".gz", "")]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            # a folder (or device) under the file's name would read as 'missing' otherwise
            odd = [str(c) for c in candidates if c.exists()]
            missing.append(stem + (f" ({', '.join(odd)} is not a file)" if odd else ""))
        else:
            found[stem] = hit
    if missing:
        where = " or ".join(str(f) for f in folders)
        source = ("https://github.com/zalandoresearch/fashion-mnist" if name == "fashion-mnist"
                  else "the MNIST database (Yann LeCun, Corinna Cortes, Chris Burges)")
        raise FileNotFoundError(
            f"{name}: missing {', '.join(missing)} (each as raw IDX or with .gz) in {where}. "
            f"This program works offline: download the four files {', '.join(MNIST_FILES)} "
            f"from {source} and put them in {base} (or pass --data-dir FOLDER).")
    return found


def _load_mnist_like(name: str, data_dir) -> DatasetBundle:
    files = find_idx_files(name, data_dir)
    parts = {}
    for prefix in ("train", "t10k"):
        image_file = files[f"{prefix}-images-idx3-ubyte"]
        label_file = files[f"{prefix}-labels-idx1-ubyte"]
        images, labels = read_idx(image_file), read_idx(label_file)
        if images.ndim != 3:
            raise IDXError(f"{image_file}: {name} images must have 3 dimensions (N, rows, "
                           f"cols), found shape {images.shape}")
        if labels.ndim != 1:
            raise IDXError(f"{label_file}: {name} labels must have 1 dimension (N,), found "
                           f"shape {labels.shape}")
        if len(images) != len(labels):
            raise IDXError(f"{image_file} holds {len(images)} images but {label_file} holds "
                           f"{len(labels)} labels; they must match one to one")
        if labels.dtype.kind == "f":
            bad = ~np.isfinite(labels) | (labels != np.floor(labels))
            if bad.any():
                at = int(np.argmax(bad))
                raise IDXError(f"{label_file}: labels must be whole numbers 0..9; label "
                               f"{at} is {float(labels[at])}")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise IDXError(f"{label_file}: {name} labels must lie in 0..9, found "
                           f"{labels.min()}..{labels.max()}")
        parts[prefix] = (images.astype(np.float32)[:, None], labels.astype(np.int64))
    (train_x, train_y), (test_x, test_y) = parts["train"], parts["t10k"]
    if train_x.shape[1:] != test_x.shape[1:]:
        raise IDXError(f"{name}: the images of {files['train-images-idx3-ubyte']} are "
                       f"{train_x.shape[2]}x{train_x.shape[3]} but those of "
                       f"{files['t10k-images-idx3-ubyte']} are {test_x.shape[2]}x"
                       f"{test_x.shape[3]}; they must be the same size")
    # The lecture's 50k/10k split for the full set; a sixth of smaller files.
    n_val = 10000 if len(train_x) >= 60000 else len(train_x) // 6
    if len(train_x) - n_val < 1 or n_val < 1 or len(test_x) < 1:
        raise IDXError(f"{name}: {len(train_x)} training and {len(test_x)} test images are "
                       "too few to split")
    train = TensorDataset(train_x[:-n_val], train_y[:-n_val])
    val = TensorDataset(train_x[-n_val:], train_y[-n_val:])
    classes = FASHION_CLASSES if name == "fashion-mnist" else [str(i) for i in range(10)]
    return DatasetBundle(name, "classification", train, val, TensorDataset(test_x, test_y), 10,
                         tuple(train_x.shape[1:]), classes)
