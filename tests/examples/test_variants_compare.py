"""examples/variants_compare.py and examples/gru_variants.py end to end at a tiny size."""

import json

import numpy as np
import pytest
from example_scripts import load_example, run_example


def _run(name, tmp_path):
    pytest.importorskip("matplotlib")
    out, docs = tmp_path / "run", tmp_path / "figs"
    res = run_example(
        name, "--dry-run", "--out", str(out), "--copy-figures", str(docs), timeout=300
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout, out, docs


def test_variants_compare_dry_run(tmp_path):
    stdout, out, docs = _run("variants_compare.py", tmp_path)
    mod = load_example("variants_compare.py")
    for fig in ("variants_adding.png", "variants_charlm.png"):
        assert (out / fig).stat().st_size > 0 and (docs / fig).stat().st_size > 0
    results = json.loads((out / "variants.json").read_text())["results"]
    assert list(results["adding"]) == mod.ADDING and list(results["charlm"]) == mod.CHARLM
    for task, metric in (("adding", "test_mse"), ("charlm", "val_loss")):
        for name, r in results[task].items():
            assert r["steps"] == 3 and np.isfinite(r[metric]), (task, name)
            assert f"{task:7s} {name:20s}" in stdout


def test_variants_compare_builds_each_variant():
    mod = load_example("variants_compare.py")
    layer = mod.make_layer("lstm chrono", 2, 6, 100, seed=0)
    b = layer.bias_ih_l0.data
    np.testing.assert_array_equal(b[:6], -b[6:12])  # chrono: b_i = -b_f, b_f = log u >= 0
    assert np.all(b[6:12] >= 0) and np.all(b[6:12] <= np.log(99) + 1e-6)
    assert mod.make_layer("lstm peephole", 2, 6, 100, seed=0).peephole
    assert mod.make_layer("lstm layer_norm", 2, 6, 100, seed=0).layer_norm
    v = mod.make_layer("lstm variational", 2, 6, 100, seed=0)
    assert (v.input_dropout, v.hidden_dropout) == (0.1, 0.25)
    np.testing.assert_array_equal(
        mod.make_layer("lstm forget_bias=1", 2, 6, 9, 0).bias_ih_l0.data[6:12], 1.0
    )


def test_gru_variants_dry_run(tmp_path):
    stdout, out, docs = _run("gru_variants.py", tmp_path)
    assert (out / "gru_variants.png").stat().st_size > 0
    assert (docs / "gru_variants.png").stat().st_size > 0
    summary = json.loads((out / "gru_variants.json").read_text())["summary"]
    part1 = summary["same_weights"]
    # the two formulations differ on the same weights (by far more than rounding) ...
    assert min(part1["max_gap_per_step"]) > 1e-6
    # ... by exactly the first-step formula, and not at all without W_hn and b_hn
    assert part1["first_step_formula_error"] < 1e-14
    assert part1["gap_without_W_hn_b_hn"] < 1e-14
    # the fast reset_after=False kernel against the reference loop: float64 rounding
    assert part1["fast_vs_reference"] < 1e-12
    assert set(summary["training"]) == {"reset after", "reset before"}
    assert "reset before" in stdout


def test_gru_pair_shares_weights_and_differs_only_in_the_candidate():
    mod = load_example("gru_variants.py")
    after, before = mod.pair(3, 4, seed=0)
    for k, v in after.state_dict().items():
        np.testing.assert_array_equal(before.state_dict()[k], v)
    # reset_before, written out: n = tanh(x W_in + b_in + (r * h) W_hn + b_hn)
    rng = np.random.default_rng(1)
    x, h = rng.standard_normal((1, 2, 3)), rng.standard_normal((1, 2, 4))
    out, _ = before(x, h)
    W_ih, W_hh = after.weight_ih_l0.data, after.weight_hh_l0.data
    b_ih, b_hh = after.bias_ih_l0.data, after.bias_hh_l0.data
    a, g = x[0] @ W_ih.T + b_ih, h[0] @ W_hh.T + b_hh
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    r, z = sig(a[:, :4] + g[:, :4]), sig(a[:, 4:8] + g[:, 4:8])
    n = np.tanh(a[:, 8:] + (r * h[0]) @ W_hh[8:].T + b_hh[8:])
    # float64, a few operations: rounding only
    np.testing.assert_allclose(out[0], (1 - z) * n + z * h[0], rtol=1e-13, atol=1e-15)


def test_variants_compare_cost_table():
    mod = load_example("variants_compare.py")
    rows = mod.main(["--task", "cost", "--dry-run"])
    assert set(rows) == {
        "lstm", "lstm peephole", "lstm layer_norm", "lstm variational", "gru",
        "Recurrent(lstm_cell)",
    }  # fmt: skip
    for size in ("adding", "charlm"):
        assert rows["lstm"][size]["vs_lstm"] == 1.0
        assert all(r[size]["seconds"] > 0 for r in rows.values())


def test_variants_compare_truncation_forms(tmp_path):
    mod = load_example("variants_compare.py")
    out = mod.main(["--task", "truncation", "--dry-run", "--out", str(tmp_path)])
    runs = out["truncation"]
    assert list(runs) == list(mod.TRUNCATION)
    for name, r in runs.items():
        k1, _ = mod.TRUNCATION[name]
        # dry run: 3 chunks of 8 characters per stream, updates every k1 (the last shorter)
        assert r["steps"] == -(-24 // k1) and np.isfinite(r["val_loss"])


@pytest.mark.parametrize(
    "name,argv,option",
    [
        ("variants_compare.py", ["--steps", "0"], "--steps"),
        ("variants_compare.py", ["--lm-lr", "nan"], "--lm-lr"),
        ("variants_compare.py", ["--adding-T", "1"], "--adding-T"),
        ("gru_variants.py", ["--hidden-size", "-3"], "--hidden-size"),
        ("gru_variants.py", ["--seconds", "0"], "--seconds"),
    ],
)
def test_bad_options_are_usage_errors(name, argv, option, tmp_path, capsys):
    mod = load_example(name)
    with pytest.raises(SystemExit) as err:
        mod.main([*argv, "--out", str(tmp_path / "out")])
    assert err.value.code == 2 and option in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_dry_run_keeps_options_given(tmp_path):
    mod = load_example("gru_variants.py")
    args = mod.parse_args(["--dry-run", "--hidden-size", "6", "--out", str(tmp_path)])
    assert (args.hidden_size, args.steps) == (6, mod.DRY_RUN["steps"])
