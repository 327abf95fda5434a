"""vecgrad.data: the embedded digits, splits, normalizers, toy generators, DataLoader."""

import re

import numpy as np
import pytest

import vecgrad
from vecgrad.data import (DataLoader, Dataset, Identity, MinMax, TensorDataset, ZScore, adding,
                          circles, load_dataset, load_digits_arrays, make_normalizer, moons,
                          normalizer_from_state, sine, sine_next, spirals, split_indices,
                          train_val_test_split, xor)


def test_digits_match_the_published_dataset():
    images, labels = load_digits_arrays()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert labels.shape == (1797,) and labels.dtype == np.uint8
    assert images.min() == 0 and images.max() == 16  # 4x4 blocks of 32x32 bitmaps: 0..16
    # Class sizes of scikit-learn's load_digits (its documentation's "~180 per class").
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_digits_split_is_fixed_disjoint_and_complete():
    first, second = load_dataset("digits"), load_dataset("digits")
    sizes = [len(first.train), len(first.val), len(first.test)]
    assert sum(sizes) == 1797 and sizes == [1258, 269, 270]
    np.testing.assert_array_equal(first.test.inputs, second.test.inputs)
    rows = np.concatenate([p.inputs.reshape(len(p), -1) for p in (first.train, first.val,
                                                                   first.test)])
    images, _ = load_digits_arrays()
    # Same multiset of images as the source: sort rows lexicographically and compare.
    ours = rows[np.lexsort(rows.T[::-1])]
    source = images.reshape(1797, -1).astype(np.float32)
    np.testing.assert_array_equal(ours, source[np.lexsort(source.T[::-1])])
    assert first.input_shape == (1, 8, 8) and first.num_classes == 10


def test_split_indices_partition():
    parts = split_indices(101, (0.5, 0.3, 0.2), seed=3)
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(101))
    # cut points at round(0.5 * 101) = 50 (half to even) and round(0.8 * 101) = 81
    assert [len(p) for p in parts] == [50, 31, 20]
    with pytest.raises(ValueError, match="sum to 1"):
        split_indices(10, (0.5, 0.6))
    with pytest.raises(ValueError, match="cannot fill"):
        split_indices(2, (0.4, 0.3, 0.3))


def test_train_val_test_split_keeps_pairs_together():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20)
    for part in train_val_test_split(x, y, 0.2, 0.2, seed=1):
        np.testing.assert_array_equal(part.inputs[:, 0], 2 * part.targets)


def test_zscore_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 3.0, size=(200, 4))
    train[:, 2] = 7.0  # a constant feature must not divide by zero
    z = ZScore().fit(train)
    out = z.transform(train)
    np.testing.assert_allclose(out[:, [0, 1, 3]].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out[:, [0, 1, 3]].std(axis=0), 1, atol=1e-5)
    np.testing.assert_array_equal(out[:, 2], 0)
    other = rng.normal(0.0, 1.0, size=(10, 4))
    expected = (other - train.mean(axis=0)) / np.where(train.std(axis=0) > 0,
                                                        train.std(axis=0), 1)
    np.testing.assert_allclose(z.transform(other), expected, rtol=1e-5, atol=1e-5)


def test_minmax_maps_training_range_to_unit_interval():
    train = np.array([[0.0, 3.0, 1.0], [10.0, 5.0, 1.0], [5.0, 4.0, 1.0]])
    out = MinMax().fit(train).transform(train)
    np.testing.assert_allclose(out, [[0, 0, 0], [1, 1, 0], [0.5, 0.5, 0]])


def test_normalizer_errors_and_round_trip():
    with pytest.raises(RuntimeError, match="fit"):
        ZScore().transform(np.zeros((2, 3)))
    z = ZScore().fit(np.arange(12.0).reshape(4, 3))
    with pytest.raises(ValueError, match=r"\(5,\)"):
        z.transform(np.zeros((2, 5)))
    again = normalizer_from_state(z.state_dict())
    np.testing.assert_array_equal(again.transform(np.ones((1, 3))), z.transform(np.ones((1, 3))))
    with pytest.raises(ValueError, match="unknown normalizer"):
        make_normalizer("l2")
    with pytest.raises(ValueError, match="non-positive"):
        normalizer_from_state({"kind": "zscore", "shift": np.zeros(3), "scale": np.zeros(3)})


def test_normalizers_refuse_non_finite_inputs_and_statistics_beyond_float32():
    # fit on data holding nan gave a nan shift without a word (and the Trainer stopped
    # later on "the input batch itself contains NaN/inf"); statistics past float32's
    # range became inf and every transformed value nan
    for kind in (ZScore, MinMax):
        with pytest.raises(ValueError, match=r"column 0 holds nan \(sample 0"):
            kind().fit([[float("nan")], [1.0]])
        with pytest.raises(ValueError, match=r"feature \(0, 1\) holds -inf \(sample 1"):
            kind().fit(np.array([[[1.0, 2.0]], [[3.0, -np.inf]]]))
        with pytest.raises(ValueError, match="column 1's scale [12]e\\+39 is beyond float32"):
            kind().fit([[0.0, 1e39], [1.0, -1e39]])
    assert Identity().fit([[float("nan")]]).shift.shape == (1,)  # no statistics to spoil


def test_toy_generators_follow_their_closed_forms():
    x, y = moons(400, noise=0.0, seed=1)
    upper = x[y == 0]
    lower = x[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1, atol=1e-6)
    x, y = circles(300, noise=0.0, factor=0.4, seed=1)
    np.testing.assert_allclose(np.hypot(x[:, 0], x[:, 1]), np.where(y == 1, 0.4, 1.0), atol=1e-6)
    x, y = xor(500, noise=0.0, seed=2)
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(np.int64))
    x, y = sine(100, noise=0.0)
    np.testing.assert_allclose(y, np.sin(x), atol=1e-6)
    x, y = spirals(300, classes=3)
    assert np.bincount(y).tolist() == [100, 100, 100] and x.shape == (300, 2)


def test_tensor_dataset_checks_lengths():
    with pytest.raises(ValueError, match="3 inputs but 2 targets"):
        TensorDataset(np.zeros((3, 2)), np.zeros(2))
    data = TensorDataset(np.arange(6).reshape(3, 2), [0, 1, 0])
    inputs, targets = data[np.array([2, 0])]
    assert inputs.tolist() == [[4, 5], [0, 1]] and targets.tolist() == [0, 0]


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match="digits, moons"):
        load_dataset("cifar")


def test_dataloader_batches_and_seeded_shuffle():
    data = TensorDataset(np.arange(10, dtype=np.float32)[:, None], np.arange(10))
    loader = DataLoader(data, batch_size=4, shuffle=True, seed=7)
    assert len(loader) == 3
    loader.set_epoch(0)
    first = [y.numpy().tolist() for _, y in loader]
    assert [len(b) for b in first] == [4, 4, 2]
    assert sorted(sum(first, [])) == list(range(10))
    loader.set_epoch(0)
    assert [y.numpy().tolist() for _, y in loader] == first  # same epoch, same order
    loader.set_epoch(1)
    assert [y.numpy().tolist() for _, y in loader] != first
    x, y = next(iter(DataLoader(data, 4, drop_last=True)))
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (4, 1)
    assert len(DataLoader(data, 4, drop_last=True)) == 2
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(data, 0)


class _Squares(Dataset):
    """A PyTorch-style dataset: __getitem__ takes one int and builds the pair in Python."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return [float(i), float(-i)], i * i


def test_dataloader_stacks_samples_of_a_per_item_dataset():
    # float(i) with a batch of indices raised "only length-1 arrays can be converted".
    batches = [(x.numpy().tolist(), y.numpy().tolist())
               for x, y in DataLoader(_Squares(), batch_size=3)]
    assert batches[0] == ([[0, 0], [1, -1], [2, -2]], [0, 1, 4])
    assert [len(y) for _, y in batches] == [3, 3, 1]
    # as in PyTorch, a plain list of pairs is a dataset too
    x, y = next(iter(DataLoader([(1.0, 0), (2.0, 1)], batch_size=2)))
    assert x.numpy().tolist() == [1.0, 2.0] and y.dtype == np.int64


def test_dataloader_names_the_sample_that_does_not_fit():
    with pytest.raises(ValueError, match=r"dataset\[1\] has shape \(2,\).*dataset\[0\] has "
                                         r"shape \(1,\)"):
        list(DataLoader([([1.0], 0), ([1.0, 2.0], 1)], batch_size=2))
    with pytest.raises(TypeError, match=r"dataset\[0\] gave .*float.*\(input, target\) pair"):
        list(DataLoader([1.0, 2.0], batch_size=2))


def test_an_epoch_left_early_still_moves_the_shuffle_on():
    # Counted only after a full pass, a loop that stopped after k batches saw the same
    # k batches every epoch; PyTorch draws a new order for each iteration.
    data = TensorDataset(np.arange(40, dtype=np.float32)[:, None], np.arange(40))
    loader = DataLoader(data, batch_size=4, shuffle=True, seed=3)
    firsts = []
    for _ in range(3):
        for _, y in loader:
            firsts.append(y.numpy().tolist())
            break
    assert firsts[0] != firsts[1] != firsts[2]
    full = DataLoader(data, batch_size=4, shuffle=True, seed=3)
    full.set_epoch(1)
    assert next(iter(full))[1].numpy().tolist() == firsts[1]  # still (seed, epoch) alone


def test_a_dataset_may_keep_its_own_batch_attribute():
    class Windows(_Squares):
        def __init__(self):
            self.batch = 16  # a user's attribute; the loader's hook is get_batch

    x, y = next(iter(DataLoader(Windows(), batch_size=2)))
    assert y.numpy().tolist() == [0, 1]


def test_tensor_dataset_checks_its_arrays_when_it_is_made():
    # Strings and complex numbers were accepted here and failed (or lost their imaginary
    # part) only at the first batch; a list of Tensors was called "not rectangular".
    with pytest.raises(TypeError, match=r"targets must be numbers .* got dtype <U3"):
        TensorDataset(np.ones((2, 2)), np.array(["cat", "dog"]))
    with pytest.raises(TypeError, match=r"inputs must be numbers .* complex128"):
        TensorDataset(np.ones((2, 2), complex), [0, 1])
    with pytest.raises(TypeError, match="rows of different lengths"):
        TensorDataset([[1.0, 2.0], [3.0]], [0, 1])
    import vecgrad

    data = TensorDataset([vecgrad.tensor([1.0, 2.0]), vecgrad.tensor([3.0, 4.0])], [0, 1])
    assert data.inputs.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_every_split_part_keeps_a_sample_even_for_a_tiny_fraction():
    # 0.2 and 0.201 of 10 both rounded to a cut at 2: the middle part came out empty,
    # against the docstring's "each part gets at least one sample".
    assert [len(p) for p in split_indices(10, (0.2, 0.001, 0.799))] == [2, 1, 7]
    train, val, test = train_val_test_split(np.zeros((100, 2)), np.zeros(100),
                                            val_fraction=0.001, test_fraction=0.3)
    assert (len(train), len(val), len(test)) == (70, 1, 29)


def test_loader_seed_none_draws_from_vecgrad_generator_and_bad_seeds_are_named():
    # seed=None raised int()'s "not 'NoneType'"; 1.5 and "3" were taken as 1 and 3.
    import vecgrad

    data = TensorDataset(np.zeros((50, 2)), np.arange(50))

    def orders(seed):
        loader = DataLoader(data, 50, shuffle=True, seed=seed)
        return [next(iter(loader))[1].numpy().tolist() for _ in range(2)], loader.seed

    vecgrad.manual_seed(3)
    first, seed = orders(None)
    vecgrad.manual_seed(3)
    assert orders(None) == (first, seed)      # reproducible through vecgrad.manual_seed
    assert orders(seed)[0] == first           # and the same as passing the drawn seed
    assert orders(None)[1] != seed            # the next draw differs
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ValueError, match=f"DataLoader: seed must be a non-negative "
                           f"int or None, got {re.escape(repr(bad))}"):
            DataLoader(data, 5, seed=bad)


@pytest.mark.parametrize("call, message", [
    (lambda: moons(0), "moons: n must be an int >= 1, got 0"),
    (lambda: moons(-1), "moons: n must be an int >= 1, got -1"),
    (lambda: circles(10, noise=float("nan")), "circles: noise must be a finite number >= 0"),
    (lambda: circles(10, factor=float("inf")), "circles: factor must be a finite number"),
    (lambda: spirals(10, classes=0), "spirals: classes must be an int >= 1, got 0"),
    (lambda: xor(10, seed=-1), "xor: seed must be a non-negative int or None, got -1"),
    (lambda: sine(2.5), "sine: n must be an int >= 1, got 2.5"),
    (lambda: sine_next(10, steps=0), "sine_next: steps must be an int >= 1, got 0"),
    (lambda: adding(10, steps=1), "adding: steps must be an int >= 2, got 1"),
    (lambda: split_indices(10, [float("nan"), 1.0]), "fractions must be positive and sum to 1"),
])
def test_toy_generators_and_splits_name_a_bad_argument(call, message):
    # numpy said "negative dimensions are not allowed" or "high <= 0", spirals divided by
    # zero, a nan noise gave nan points silently, a nan fraction failed inside rounding.
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
    assert moons(np.int64(4), noise=np.float32(0.1), seed=np.int64(2))[0].shape == (4, 2)


# --------------------------------------------------------- random_split and Subset
@pytest.mark.parametrize("n, lengths", [(10, [7, 3]), (10, [0.7, 0.3]), (10, [0.34, 0.33, 0.33]),
                                        (7, [0.5, 0.5]), (5, [0.7, 0.3]), (9, [0.45, 0.55]), (3, [0.2, 0.2, 0.6])])
def test_random_split_sizes_match_torch_and_cover_every_sample(n, lengths):
    torch = pytest.importorskip("torch")
    from vecgrad.data import random_split

    ds = TensorDataset(np.arange(n, dtype=np.float32)[:, None], np.arange(n))
    parts = random_split(ds, lengths)
    theirs = torch.utils.data.random_split(range(n), lengths)
    assert [len(p) for p in parts] == [len(p) for p in theirs]
    seen = sorted(int(ds[int(i)][1]) for p in parts for i in p.indices)
    assert seen == list(range(n))


def test_random_split_follows_manual_seed_and_seed():
    from vecgrad.data import random_split

    ds = list(zip(range(20), range(20)))
    vecgrad.manual_seed(5)
    a = random_split(ds, [10, 10])
    vecgrad.manual_seed(5)
    b = random_split(ds, [10, 10])
    assert a[0].indices.tolist() == b[0].indices.tolist()
    assert random_split(ds, [10, 10], seed=1)[1].indices.tolist() == \
        random_split(ds, [10, 10], seed=1)[1].indices.tolist()


def test_dataloader_reads_a_subset_of_a_tensor_dataset_and_of_a_list():
    from vecgrad.data import Subset

    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    sub = Subset(TensorDataset(x, np.arange(6)), [4, 1, 5])
    assert len(sub) == 3 and sub[0][1] == 4
    batches = [(xb.tolist(), yb.tolist()) for xb, yb in DataLoader(sub, batch_size=2)]
    assert batches == [([[8.0, 9.0], [2.0, 3.0]], [4, 1]), ([[10.0, 11.0]], [5])]
    pairs = [(float(i), i) for i in range(5)]
    xb, yb = next(iter(DataLoader(Subset(pairs, [3, 0]), batch_size=2)))
    assert xb.tolist() == [3.0, 0.0] and yb.tolist() == [3, 0]


@pytest.mark.parametrize("lengths, match", [([5, 4], "sum to the dataset's 10"),
                                            ([0.5, 0.6], "sum to 1"), ([], "empty"),
                                            ([11, -1], "must be >= 0")])
def test_random_split_names_bad_lengths(lengths, match):
    from vecgrad.data import random_split

    with pytest.raises(ValueError, match=match):
        random_split(list(zip(range(10), range(10))), lengths)


def test_subset_refuses_indices_outside_the_dataset():
    from vecgrad.data import Subset

    with pytest.raises(IndexError, match=r"Subset: indices must lie in \[0, 3\)"):
        Subset([(0, 0)] * 3, [0, 3])
    with pytest.raises(TypeError, match="Subset: indices must be a 1-D sequence of ints"):
        Subset([(0, 0)] * 3, [0.5])


def test_dataloader_accepts_pytorchs_num_workers_and_pin_memory():
    ds = TensorDataset(np.arange(6, dtype=np.float32)[:, None], np.arange(6))
    plain = [y.tolist() for _, y in DataLoader(ds, batch_size=4, shuffle=True)]
    ported = [y.tolist() for _, y in DataLoader(ds, batch_size=4, shuffle=True, num_workers=2,
                                                 pin_memory=True)]
    assert plain == ported
    for bad in ({"num_workers": -1}, {"num_workers": 1.5}, {"pin_memory": "yes"}):
        with pytest.raises(ValueError, match="DataLoader: (num_workers|pin_memory)"):
            DataLoader(ds, **bad)
