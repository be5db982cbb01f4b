"""numrnn.study.plotting: the figure helpers the examples share."""

import pytest


def test_save_figure_is_atomic_and_leaves_no_temporary_file(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    from numrnn.study.plotting import save_figure

    path = tmp_path / "curve.png"
    path.write_bytes(b"the previous figure")
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])

    class Broken(Exception):
        pass

    def failing_savefig(target, dpi):  # a run interrupted while writing
        with open(target, "wb") as f:
            f.write(b"half a fi")
        raise Broken

    real = fig.savefig
    fig.savefig = failing_savefig
    with pytest.raises(Broken):
        save_figure(fig, path)
    assert path.read_bytes() == b"the previous figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png"]
    fig.savefig = real
    save_figure(fig, path)
    plt.close(fig)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png"]
