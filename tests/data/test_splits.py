import numpy as np
import pytest

from numrnn.data import train_val_split


def test_split_sizes_disjointness_and_order():
    tr, va = train_val_split(100, val_fraction=0.2, seed=0)
    assert tr.dtype == np.int64 and len(tr) == 80 and len(va) == 20
    assert set(tr.tolist()).isdisjoint(va.tolist())
    assert sorted(np.r_[tr, va].tolist()) == list(range(100))
    assert np.all(np.diff(tr) > 0) and np.all(np.diff(va) > 0)


def test_same_seed_same_split_other_seed_other_split():
    a = train_val_split(1000, 0.1, seed=7)
    b = train_val_split(1000, 0.1, seed=7)
    c = train_val_split(1000, 0.1, seed=8)
    assert np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_items_keep_their_type():
    items = [f"s{i}" for i in range(10)]
    tr, va = train_val_split(items, 0.3, seed=1)
    assert isinstance(tr, list) and len(va) == 3 and set(tr) | set(va) == set(items)
    arr = np.arange(10) * 10
    tr, va = train_val_split(arr, 0.3, seed=1)
    assert isinstance(va, np.ndarray) and np.all(va % 10 == 0)
    tr, va = train_val_split(items, 0.3, shuffle=False)
    assert va == ["s7", "s8", "s9"]


def test_stratified_split_keeps_label_proportions():
    labels = np.array([0] * 90 + [1] * 10)
    tr, va = train_val_split(100, 0.2, seed=3, stratify=labels)
    assert np.sum(labels[va] == 0) == 18 and np.sum(labels[va] == 1) == 2


def test_small_and_degenerate_cases():
    tr, va = train_val_split(3, 0.01, seed=0)  # rounds to 0, but each side keeps one item
    assert len(va) == 1 and len(tr) == 2
    tr, va = train_val_split(5, 0.0)
    assert len(va) == 0 and len(tr) == 5
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(10, 1.0)
    with pytest.raises(TypeError, match="data must be"):
        train_val_split("abc", 0.1)
    with pytest.raises(ValueError, match="stratify"):
        train_val_split(4, 0.5, stratify=[0, 1])
