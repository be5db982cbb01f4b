"""The shared time loop: step order, blocks of the backward, variable lengths."""

import numpy as np
import pytest

from numrnn.kernels.driver import BLOCK_ELEMENTS, TimeLoop, backward_blocks, check_batch_sizes


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("T,step_elements", [(1, 1), (7, BLOCK_ELEMENTS // 3), (5, 10**9), (40, 1)])
def test_blocks_cover_every_step_once_in_bptt_order(T, step_elements, reverse):
    visited = [t for _, _, steps in backward_blocks(T, reverse, step_elements) for t in steps]
    # BPTT visits the steps in the reverse of the forward's order
    assert visited == (list(range(T)) if reverse else list(range(T - 1, -1, -1)))
    for lo, hi, steps in backward_blocks(T, reverse, step_elements):
        assert sorted(steps) == list(range(lo, hi))
        assert hi - lo <= max(1, BLOCK_ELEMENTS // step_elements)


def test_blocks_are_sized_by_the_whole_step_not_one_row():
    """A block's factors are meant to stay in cache: its size counts every batch row."""
    T, B, row = 6, 4, BLOCK_ELEMENTS // 8  # two steps of B rows fill a block
    loop = TimeLoop(np.zeros((T, B, 1)))
    blocks = []
    loop.backward(
        lambda lo, hi: blocks.append((lo, hi)),
        lambda t, n, dh: None,
        None,
        np.zeros((B, 1)),
        row,
        (),
    )
    assert blocks == [(4, 6), (2, 4), (0, 2)]


@pytest.mark.parametrize("reverse", [False, True])
def test_forward_order_and_carry_of_inactive_rows(reverse):
    T, B = 4, 3
    bs = [3, 2, 2, 1]  # lengths 4, 3, 1
    loop = TimeLoop(np.zeros((T, B, 1)), reverse, bs)
    hs = loop.states(np.arange(B, dtype=float)[:, None])
    seen = []
    h_prev, h_new = loop.read_write(hs)

    def step(t, n):
        seen.append((t, n))
        h_new[t][...] = h_prev[t] + 10  # every active row adds 10 per step

    loop.forward(step, hs)
    assert seen == [(t, bs[t]) for t in (reversed(range(T)) if reverse else range(T))]
    out, final = loop.output(hs)
    # each row's final state is its initial value plus 10 per valid step, in both directions
    assert final[:, 0].tolist() == [0 + 40, 1 + 30, 2 + 10]
    padded = np.arange(T)[:, None] >= np.array([4, 3, 1])[None, :]
    assert np.all(out[padded] == 0) and np.all(out[~padded] > 0)


@pytest.mark.parametrize("bad", [[3, 3], [2, 2, 2], [3, 1, 2], [3, 2, -1]])
def test_batch_sizes_checked(bad):
    with pytest.raises(ValueError, match="batch_sizes"):
        check_batch_sizes(bad, 3, 3)
