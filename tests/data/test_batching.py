import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numrnn.data import batches, pad_sequences


def test_pad_sequences_batch_first_and_time_major():
    seqs = [[1, 2, 3], [4], [5, 6]]
    x, lengths = pad_sequences(seqs, pad_value=-1)
    assert x.dtype == np.int64 and lengths.dtype == np.int64
    np.testing.assert_array_equal(x, [[1, 2, 3], [4, -1, -1], [5, 6, -1]])
    np.testing.assert_array_equal(lengths, [3, 1, 2])
    xt, lt = pad_sequences(seqs, pad_value=-1, batch_first=False)
    np.testing.assert_array_equal(xt, [[1, 4, 5], [2, -1, 6], [3, -1, -1]])
    np.testing.assert_array_equal(lt, lengths)


def test_pad_sequences_feature_vectors_dtype_and_truncation():
    seqs = [np.ones((2, 3)), np.full((4, 3), 2.0)]
    x, lengths = pad_sequences(seqs, pad_value=0.0, dtype=np.float32, max_len=3)
    assert x.shape == (2, 3, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(lengths, [2, 3])
    assert np.all(x[0, 2] == 0) and np.all(x[1] == 2.0)


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match="empty"):
        pad_sequences([])
    with pytest.raises(ValueError, match="trailing shape"):
        pad_sequences([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(TypeError, match="list of sequences"):
        pad_sequences("abc")
    with pytest.raises(ValueError, match="scalar"):
        pad_sequences([1, 2])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(1, 9), min_size=0, max_size=7), min_size=1, max_size=6))
def test_pad_sequences_property(seqs):
    x, lengths = pad_sequences(seqs, pad_value=0)
    assert x.shape == (len(seqs), max(len(s) for s in seqs))
    for row, s, n in zip(x, seqs, lengths):
        assert n == len(s)
        assert row[:n].tolist() == s and not row[n:].any()


def test_batches_cover_every_index_once_and_are_reproducible():
    got = list(batches(10, 4, shuffle=True, rng=3))
    assert [len(b) for b in got] == [4, 4, 2]
    assert sorted(np.concatenate(got).tolist()) == list(range(10))
    again = list(batches(10, 4, shuffle=True, rng=3))
    assert all(np.array_equal(a, b) for a, b in zip(got, again))
    other = np.concatenate(list(batches(10, 4, shuffle=True, rng=4)))
    assert not np.array_equal(np.concatenate(got), other)
    assert [b.tolist() for b in batches(5, 2, shuffle=False)] == [[0, 1], [2, 3], [4]]
    assert [b.tolist() for b in batches(5, 2, shuffle=False, drop_last=True)] == [[0, 1], [2, 3]]
    assert [len(b) for b in batches(list("abcde"), 5, rng=0)] == [5]


def test_bucketing_groups_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, size=400)
    got = list(batches(400, 8, rng=1, lengths=lengths, pool_batches=50))
    assert sorted(np.concatenate(got).tolist()) == list(range(400))
    spread_bucketed = np.mean([np.ptp(lengths[b]) for b in got])
    spread_random = np.mean([np.ptp(lengths[b]) for b in batches(400, 8, rng=1)])
    assert spread_bucketed < 0.25 * spread_random
    # without shuffling: one pool, sorted by length
    ordered = np.concatenate(list(batches(400, 8, shuffle=False, lengths=lengths, pool_batches=50)))
    assert np.all(np.diff(lengths[ordered]) >= 0)


def test_batches_errors():
    with pytest.raises(ValueError, match="batch_size"):
        batches(10, 0)
    with pytest.raises(ValueError, match="lengths"):
        batches(10, 2, lengths=[1, 2, 3])
    with pytest.raises(TypeError, match="rng"):
        batches(10, 2, rng="seed")
