"""numrnn.study.tasks: the synthetic long-range task generators."""

import numpy as np
import pytest

from numrnn.study.tasks import ADDING_BASELINE_MSE, adding_problem, first_symbol_task


def test_adding_problem_shapes_markers_and_targets():
    x, y = adding_problem(500, 11, rng=0)
    assert x.shape == (11, 500, 2) and y.shape == (500,) and x.dtype == np.float64
    markers = x[..., 1]
    assert np.all(markers.sum(axis=0) == 2)
    assert set(np.unique(markers)) == {0.0, 1.0}
    half = 6  # ceil(11 / 2)
    assert np.all(markers[:half].sum(axis=0) == 1) and np.all(markers[half:].sum(axis=0) == 1)
    # target recomputed independently with a loop
    for b in range(5):
        idx = [t for t in range(11) if markers[t, b] == 1]
        assert y[b] == pytest.approx(x[idx[0], b, 0] + x[idx[1], b, 0])
    assert np.all((x[..., 0] >= 0) & (x[..., 0] < 1))


def test_adding_problem_baseline_is_one_sixth():
    _, y = adding_problem(200_000, 4, rng=1)
    # MSE of answering 1: Var(U1 + U2) = 1/6; sampling s.e. about 0.0005
    assert np.mean((y - 1.0) ** 2) == pytest.approx(ADDING_BASELINE_MSE, abs=3e-3)


def test_adding_problem_is_reproducible_and_batch_first():
    a = adding_problem(4, 6, rng=3)
    b = adding_problem(4, 6, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a[0], b[0])
    xb, yb = adding_problem(4, 6, rng=3, batch_first=True, dtype=np.float32)
    assert xb.shape == (4, 6, 2) and xb.dtype == np.float32
    np.testing.assert_allclose(xb.swapaxes(0, 1), a[0], rtol=1e-6)


def test_first_symbol_task():
    x, y = first_symbol_task(300, 7, num_symbols=5, rng=0)
    assert x.shape == (7, 300, 5) and y.dtype == np.int64
    assert np.all(x.sum(axis=-1) == 1)
    np.testing.assert_array_equal(x[0].argmax(-1), y)
    s, y2 = first_symbol_task(300, 7, num_symbols=5, rng=0, one_hot=False)
    assert s.shape == (7, 300) and np.array_equal(s[0], y2) and np.array_equal(y, y2)
    xb, _ = first_symbol_task(3, 7, 5, rng=0, batch_first=True)
    assert xb.shape == (3, 7, 5)


@pytest.mark.parametrize(
    "call",
    [
        lambda: adding_problem(0, 5),
        lambda: adding_problem(3, 1),
        lambda: adding_problem(2.5, 5),
        lambda: first_symbol_task(2, 0),
        lambda: first_symbol_task(2, 3, num_symbols=1),
    ],
)
def test_bad_sizes_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_bad_dtype_and_rng_raise_type_error():
    with pytest.raises(TypeError, match="dtype"):
        adding_problem(2, 3, dtype=np.int32)
    with pytest.raises(TypeError, match="rng"):
        first_symbol_task(2, 3, rng="seed")
