import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numrnn.data import random_partition, sequential_partition, sliding_windows


def test_sequential_partition_matches_the_formula():
    # tokens[i] = i, so every entry equals its corpus position: X[t, b] = o + b*L + k*n + t.
    n_tok, B, n = 50, 3, 4
    sp = sequential_partition(np.arange(n_tok), B, n)
    L = (n_tok - 1) // B  # 16
    assert sp.stream_length == L and len(sp) == L // n
    for k, (X, Y) in enumerate(sp):
        assert X.shape == (n, B) and Y.shape == (n, B) and X.dtype == np.int64
        expect = np.arange(B)[None, :] * L + k * n + np.arange(n)[:, None]
        np.testing.assert_array_equal(X, expect)
        np.testing.assert_array_equal(Y, expect + 1)


def test_second_batch_continues_each_stream():
    tokens = np.random.default_rng(0).integers(0, 1000, size=503)
    batches = list(sequential_partition(tokens, 5, 7, offset=2))
    (X0, Y0), (X1, _) = batches[0], batches[1]
    # Position of each entry in the corpus, recovered independently of the code under test.
    L = (503 - 2 - 1) // 5
    for b in range(5):
        start = 2 + b * L
        np.testing.assert_array_equal(X0[:, b], tokens[start : start + 7])
        np.testing.assert_array_equal(X1[:, b], tokens[start + 7 : start + 14])
        assert X1[0, b] == Y0[-1, b]  # the first input of batch 2 is the last target of batch 1


def test_batch_first_is_the_transpose_and_rng_sets_offset():
    t = np.arange(200)
    a = list(sequential_partition(t, 4, 5, offset=3))
    b = list(sequential_partition(t, 4, 5, offset=3, batch_first=True))
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa.T, xb)
        np.testing.assert_array_equal(ya.T, yb)
    o1 = sequential_partition(t, 4, 5, rng=123).offset
    assert o1 == sequential_partition(t, 4, 5, rng=123).offset and 0 <= o1 < 5
    assert sequential_partition(t, 4, 5).offset == 0


@settings(max_examples=60, deadline=None)
@given(
    n_tok=st.integers(10, 300), B=st.integers(1, 6), n=st.integers(1, 9), offset=st.integers(0, 5)
)
def test_sequential_partition_property(n_tok, B, n, offset):
    tokens = np.arange(n_tok) * 7 + 3  # distinct values; position p holds 7p + 3
    if (n_tok - offset - 1) // B < n:
        with pytest.raises(ValueError, match="too few"):
            sequential_partition(tokens, B, n, offset=offset)
        return
    prev = None
    for X, Y in sequential_partition(tokens, B, n, offset=offset):
        pos = (X - 3) // 7
        np.testing.assert_array_equal(Y, X + 7)  # Y is X shifted by one position
        np.testing.assert_array_equal(np.diff(pos, axis=0), 1)  # consecutive within a batch
        if prev is not None:
            np.testing.assert_array_equal(pos[0], prev[-1] + 1)  # streams continue across batches
        prev = pos


def test_random_partition_covers_disjoint_subsequences():
    t = np.arange(103)
    rp = random_partition(t, 3, 5, rng=0)
    starts = []
    for X, Y in rp:
        assert X.shape == (5, 3)
        np.testing.assert_array_equal(np.diff(X, axis=0), 1)
        np.testing.assert_array_equal(Y, X + 1)
        starts.extend(X[0].tolist())
    assert len(set(starts)) == len(starts) == 3 * len(rp)
    assert len({s % 5 for s in starts}) == 1  # all on the same grid: one offset
    again = [x for x, _ in random_partition(t, 3, 5, rng=0)]
    assert all(np.array_equal(a, x) for a, (x, _) in zip(again, rp))
    bf = list(random_partition(t, 3, 5, rng=0, batch_first=True))
    assert all(np.array_equal(a.T, x) for a, (x, _) in zip(again, bf))


def test_partition_errors():
    with pytest.raises(ValueError, match="1-D"):
        sequential_partition(np.zeros((3, 3), dtype=int), 1, 1)
    with pytest.raises(TypeError, match="integer"):
        sequential_partition(np.zeros(10), 1, 2)
    with pytest.raises(ValueError, match="batch_size"):
        random_partition(np.arange(10), 0, 2)
    with pytest.raises(ValueError, match="too few"):
        random_partition(np.arange(10), 4, 5, rng=0)


def test_sliding_windows():
    x = np.arange(10.0)
    X, y = sliding_windows(x, window=3, horizon=2, stride=2)
    np.testing.assert_array_equal(X, [[0, 1, 2], [2, 3, 4], [4, 5, 6]])
    np.testing.assert_array_equal(y, X[:, -1] + 2)
    assert X.shape == (3, 3)  # (10 - 3 - 2) // 2 + 1
    X2, y2 = sliding_windows(np.stack([x, -x], axis=1), window=4)
    assert X2.shape == (6, 4, 2) and y2.shape == (6, 2)  # (10 - 4 - 1) // 1 + 1
    np.testing.assert_array_equal(y2[-1], [9.0, -9.0])
    with pytest.raises(ValueError, match="shorter"):
        sliding_windows(x, window=10)
