"""examples/vanishing_gradients.py: end to end at a tiny size, and the measurements it relies on."""

import json

import numpy as np
import pytest
from example_scripts import load_example, run_example


def _module():
    return load_example("vanishing_gradients.py")


def _run(*args):
    return run_example("vanishing_gradients.py", *args)


def test_dry_run_writes_figure_results_and_copy(tmp_path):
    pytest.importorskip("matplotlib")
    out, docs = tmp_path / "run", tmp_path / "figs"
    res = _run("--dry-run", "--out", str(out), "--copy-figures", str(docs))
    assert res.returncode == 0, res.stderr[-3000:]
    assert (out / "vanishing_gradients.png").stat().st_size > 0
    assert (docs / "vanishing_gradients.png").stat().st_size > 0
    assert "| RNN | init |" in res.stdout and "| LSTM (default biases) | init |" in res.stdout
    summary = json.loads((out / "results.json").read_text())
    decay = {(r["model"], r["when"], r["gate_init"]): r["decay_h"] for r in summary["decay"]}
    assert all(0 < v < 2 for v in decay.values())
    # at initialisation the RNN's gradient shrinks faster per step than the chrono-initialised gates'
    assert decay[("rnn", "init", "chrono")] < decay[("lstm", "init", "chrono")]
    assert decay[("rnn", "init", "chrono")] < decay[("gru", "init", "chrono")]


def test_first_symbol_task_dry_run(tmp_path):
    pytest.importorskip("matplotlib")
    res = _run(
        "--dry-run",
        "--task",
        "first-symbol",
        "--cells",
        "rnn,gru",
        "--gate-init",
        "default",
        "--out",
        str(tmp_path),
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "accuracy" in res.stdout and (tmp_path / "vanishing_gradients.png").exists()


def test_decay_fit_recovers_a_geometric_factor():
    mod = _module()
    norms = 3.0 * 0.7 ** np.arange(50)
    rho, fit = mod.decay_fit(norms)
    assert rho == pytest.approx(0.7, rel=1e-12)
    np.testing.assert_allclose(fit, norms, rtol=1e-10)
    norms[10:] = 0.0  # underflowed norms are left out of the fit
    assert mod.decay_fit(norms)[0] == pytest.approx(0.7, rel=1e-12)


def test_chrono_init_opens_forget_and_update_gates():
    import numrnn

    mod = _module()
    T, H = 50, 16
    lstm = numrnn.LSTM(2, H, dtype=np.float64, seed=0)
    mod.chrono_init(lstm, T, np.random.default_rng(0))
    b = lstm.bias_ih_l0.data + lstm.bias_hh_l0.data
    f = 1 / (1 + np.exp(-b[H : 2 * H]))
    # b_f = log u with u in [1, T-1]: sigma(b_f) = u / (1 + u) in [1/2, (T-1)/T]
    assert np.all(f >= 0.5) and np.all(f <= (T - 1) / T)
    np.testing.assert_allclose(b[:H], -b[H : 2 * H])  # input gate b_i = -b_f
    gru = numrnn.GRU(2, H, dtype=np.float64, seed=0)
    before = gru.bias_ih_l0.data.copy()
    mod.chrono_init(gru, T, np.random.default_rng(0))
    bz = gru.bias_ih_l0.data[H : 2 * H] + gru.bias_hh_l0.data[H : 2 * H]
    assert np.all(bz >= 0) and np.all(bz <= np.log(T - 1))
    np.testing.assert_array_equal(gru.bias_ih_l0.data[2 * H :], before[2 * H :])  # n gate untouched
    rnn = numrnn.RNN(2, H, dtype=np.float64, seed=0)
    sd = {k: v.copy() for k, v in rnn.state_dict().items()}
    mod.chrono_init(rnn, T, np.random.default_rng(0))
    for k, v in rnn.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])


def test_probe_records_last_step_gradient_and_leaves_grads_alone():
    mod = _module()
    args = mod.parse_args(["--dry-run"])
    task = mod.Task(args)
    model = mod.LastStepModel("rnn", task, 8, "default", seed=0)
    for p in model.params:
        p.grad[...] = 1.0
    x, y = task.batch(16, np.random.default_rng(0))
    flow, loss = mod.probe(model, task, x, y)
    assert flow["h"].shape == (1, 1, task.T) and np.isfinite(loss)
    assert all(np.all(p.grad == 1.0) for p in model.params)
    # the gradient at the last step is the head's backward; it falls off going back in time
    n = mod.by_distance(flow)
    assert n[0] > n[-1] > 0
