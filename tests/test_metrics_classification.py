"""Classification metrics (numrnn.metrics), checked against counts made by hand."""

import math

import numpy as np
import pytest

from numrnn.metrics import (
    accuracy,
    balanced_accuracy,
    confusion_matrix,
    normalize_rows,
    per_class_recall,
    perplexity,
)

Y_TRUE = [0, 0, 0, 1, 1, 2, 2, 2, 2, 0]
Y_PRED = [0, 1, 0, 1, 2, 2, 2, 0, 2, 0]
# by hand: class 0 -> 0,1,0,0 ; class 1 -> 1,2 ; class 2 -> 2,2,0,2 ; class 3 absent
HAND = np.array([[3, 1, 0, 0], [0, 1, 1, 0], [1, 0, 3, 0], [0, 0, 0, 0]])


def test_confusion_matrix_matches_a_hand_count():
    cm = confusion_matrix(Y_TRUE, Y_PRED, 4)
    assert cm.dtype == np.int64 and cm.shape == (4, 4)
    np.testing.assert_array_equal(cm, HAND)


def test_accuracy_and_balanced_accuracy_by_hand():
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(7 / 10)
    recall = per_class_recall(HAND)
    np.testing.assert_allclose(recall[:3], [3 / 4, 1 / 2, 3 / 4])
    assert math.isnan(recall[3])  # no items of class 3: it does not count
    assert balanced_accuracy(HAND) == pytest.approx((3 / 4 + 1 / 2 + 3 / 4) / 3)


def test_normalize_rows_fractions_per_true_class():
    f = normalize_rows(HAND)
    np.testing.assert_allclose(f[0], [0.75, 0.25, 0, 0])
    np.testing.assert_allclose(f[1], [0, 0.5, 0.5, 0])
    np.testing.assert_array_equal(f[3], 0)  # an empty row stays zero, no NaN


@pytest.mark.parametrize(
    "args, exc, words",
    [
        (([0, 1], [0], 2), ValueError, "same shape"),
        (([0, 2], [0, 1], 2), ValueError, "[0, 2)"),
        (([0, -1], [0, 1], 2), ValueError, "[0, 2)"),
        (([0.0, 1.0], [0, 1], 2), TypeError, "integer"),
        (([[0, 1]], [[0, 1]], 2), ValueError, "1-d"),
        (([0, 1], [0, 1], 0), ValueError, "num_classes"),
    ],
)
def test_confusion_matrix_rejects_bad_input(args, exc, words):
    with pytest.raises(exc) as info:
        confusion_matrix(*args)
    assert words in str(info.value)


def test_metric_errors():
    with pytest.raises(ValueError, match="empty"):
        accuracy([], [])
    with pytest.raises(ValueError, match="square"):
        balanced_accuracy(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="no items"):
        balanced_accuracy(np.zeros((2, 2)))


def test_perplexity_is_exp_of_the_mean_loss():
    assert perplexity(0.0) == 1.0
    assert perplexity(np.log(65.0)) == pytest.approx(65.0, rel=1e-14)  # uniform over 65 symbols
    with pytest.raises(ValueError, match="mean_loss must be >= 0"):
        perplexity(-0.1)
    with pytest.raises(ValueError, match="finite"):
        perplexity(float("nan"))
