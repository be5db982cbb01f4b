"""examples/translate.py runs end to end (--dry-run: a tiny subset, one epoch, tiny models)."""

import pytest
from example_scripts import run_example


def test_translate_dry_run(tmp_path):
    _needs_data()
    out = tmp_path / "out"
    # a dry run takes ~3 s; 90 s leaves room for a busy machine
    proc = run("--dry-run", "--out", str(out), timeout=90)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    assert "held-out corpus BLEU-4" in text
    for name in ("gru-attn", "lstm2"):
        assert name in text
    assert "sample held-out translations" in text
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "loss_curves.png" in pngs
    assert any(p.startswith("attention_") for p in pngs)
    assert (out / "translate_en-fr.npz").exists()


# -- translate: the saved model on the user's sentences -------------------------------------


def _needs_data():
    from numrnn.data import MissingPackageError, load_translation_pairs

    try:
        load_translation_pairs("en-fr")
    except MissingPackageError as err:
        pytest.skip(str(err))


def run(*args, timeout=120):
    return run_example("translate.py", *args, timeout=timeout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The --out folder of one dry run (its saved model), shared by the tests below."""
    _needs_data()
    out = tmp_path_factory.mktemp("translate")
    proc = run("--dry-run", "--out", str(out), "--models", "gru-attn")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_saved_model_holds_both_vocabularies_and_the_configuration(trained):
    import numrnn
    from numrnn.data import WordVocab

    meta = numrnn.io.read_header(trained / "translate_en-fr.npz")["metadata"]
    assert meta["example"] == "translate" and meta["pair"] == "en-fr" and meta["step"] > 0
    assert meta["model_config"]["attention"] == "additive"
    assert "the" in WordVocab.from_dict(meta["src_vocab"])
    assert WordVocab.from_dict(meta["tgt_vocab"]).eos_id is not None
    assert sorted(p.name for p in trained.iterdir() if p.name.startswith(".")) == []  # no temp


def test_translate_prints_greedy_and_beam_with_log_probabilities(trained, tmp_path):
    png = tmp_path / "attn.png"
    proc = run(
        "translate",
        "save the notebook",
        "open the zyzzyva file",
        "--out",
        str(trained),
        "--beam-width",
        "3",
        "--attention-png",
        str(png),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert [ln.split(":")[0].strip() for ln in lines if ln.startswith("source")] == ["source"] * 2
    greedy = [ln for ln in lines if ln.startswith("greedy")]
    beam = [ln for ln in lines if ln.startswith("beam (3)")]
    assert len(greedy) == len(beam) == 2
    for ln in greedy + beam:
        log_p = float(ln.split("log p = ")[1].split(";")[0].rstrip(")"))
        assert log_p <= 0.0
    # an unknown source word is shown as such, never dropped
    assert "zyzzyva[unknown]" in proc.stdout and "read as <unk>: zyzzyva" in proc.stdout
    for i in (1, 2):
        assert (tmp_path / f"attn_{i}.png").stat().st_size > 1000


def test_translate_refuses_a_file_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "translate_en-fr.npz").write_text("not a model")
    proc = run("translate", "hello", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--out" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "translate_en-fr.npz").read_text() == "not a model"


def test_translate_refuses_another_examples_checkpoint(tmp_path):
    import numrnn

    path = tmp_path / "translate_en-fr.npz"
    numrnn.save(path, numrnn.models.CharLM(5, 4, 8), example="char_lm", step=3)
    proc = run("translate", "hello", "--out", str(tmp_path))
    assert proc.returncode == 2 and "char_lm.py" in proc.stderr and "translate.py" in proc.stderr


@pytest.mark.parametrize(
    "argv, named",
    [
        (["--beam-width", "0"], "--beam-width"),
        (["--attention-png", "/no/such/folder/a.png"], "--attention-png"),
        (["--pair", "de-en"], "--pair"),
    ],
)
def test_translate_bad_options_are_usage_errors(argv, named, tmp_path):
    proc = run("translate", "hello", "--out", str(tmp_path), *argv)
    assert proc.returncode == 2 and named in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing written


def test_translate_refuses_a_sentence_without_words(trained):
    proc = run("translate", "save", "  ", "--out", str(trained))
    assert proc.returncode == 2 and "SENTENCE 2" in proc.stderr
