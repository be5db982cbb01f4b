"""numrnn.data.encode_padded: id sequences padded at the end, with their lengths."""

import numpy as np
import pytest

from numrnn.data import encode_padded


def test_encode_padded_pads_at_the_end_and_returns_lengths():
    idx, lengths = encode_padded([[5, 6, 7], [8], np.array([9, 10])], pad_id=0)
    assert idx.dtype == np.int64 and lengths.dtype == np.int64
    np.testing.assert_array_equal(idx, [[5, 6, 7], [8, 0, 0], [9, 10, 0]])
    np.testing.assert_array_equal(lengths, [3, 1, 2])


def test_encode_padded_pad_id_and_max_len():
    idx, lengths = encode_padded([[5, 6, 7, 8], [4]], pad_id=2, max_len=3)
    np.testing.assert_array_equal(idx, [[5, 6, 7], [4, 2, 2]])
    np.testing.assert_array_equal(lengths, [3, 1])


@pytest.mark.parametrize(
    "seqs, exc, words",
    [
        ([], ValueError, "empty"),
        ([[1, 2], []], ValueError, "seqs[1] is empty"),
        ([[[1, 2]]], ValueError, "1-d"),
        ([[1.5, 2.0]], TypeError, "integer"),
        ("abc", TypeError, "list of id sequences"),
    ],
)
def test_encode_padded_rejects_bad_input(seqs, exc, words):
    with pytest.raises(exc, match=None) as info:
        encode_padded(seqs)
    assert words in str(info.value)


def test_encode_padded_rejects_bad_max_len():
    with pytest.raises(ValueError, match="max_len"):
        encode_padded([[1]], max_len=0)
