"""Translate JupyterLab's user-interface strings with two hand-differentiated seq2seq models.

Trains, on the same seeded train/held-out split of the sentence pairs from
:func:`numrnn.data.load_translation_pairs`:

(a) ``gru-attn``: a GRU encoder and a GRU decoder with additive (Bahdanau) attention;
(b) ``lstm2``: a 2-layer LSTM encoder-decoder without attention,

with Adam and gradient-norm clipping, then reports held-out corpus BLEU-4
(greedy and beam search) for both, prints sample translations, saves the loss
curves and attention heatmaps as PNG files to ``--out`` and the model with the
higher held-out beam BLEU as ``OUT/translate_<pair>.npz`` (weights, optimiser
state, both vocabularies and the model configuration; replaced only by a run
with more training steps, unless ``--overwrite``).  ``translate`` reads it.

    python examples/translate.py                    # en-fr, default sizes (a few minutes)
    python examples/translate.py --pair zh-en
    python examples/translate.py --dry-run          # seconds: tiny subset, end to end
    python examples/translate.py translate "save the notebook" "close all tabs"
    python examples/translate.py translate "restart the kernel" --attention-png attn.png

``translate`` without a saved model trains one first with the default settings.

Needs ``jupyterlab-language-pack-fr-fr`` (en-fr) or ``-zh-cn`` (zh-en);
matplotlib for the plots and tqdm for progress bars are optional.
"""

from __future__ import annotations

import argparse
import os
import time

from _cli import (
    apply_dry_run,
    command_parser,
    example_metadata,
    existing_steps,
    may_replace,
    nonnegative_float,
    nonnegative_int,
    open_fraction,
    output_folder,
    positive_float,
    positive_int,
    probability,
    rate,
    run_example,
    usage_error,
    write_figure,
)

from numrnn.study.plotting import pyplot, save_figure

PROG = "translate.py"
PAIRS = ["en-fr", "zh-en", "fr-en", "en-zh"]
MODELS = {
    "gru-attn": dict(cell="gru", num_layers=1, attention="additive"),
    "lstm2": dict(cell="lstm", num_layers=2, attention=None),
}
# what --dry-run sets, unless the option is given explicitly
DRY_RUN = dict(epochs=1, batch_size=16, embed_size=16, hidden_size=24, beam_width=2, samples=2)


def build_parser():
    p = command_parser(PROG, __doc__, "translate SENTENCE [SENTENCE ...] [options]")
    p.add_argument("--pair", default="en-fr", choices=PAIRS)
    p.add_argument("--epochs", type=positive_int, default=30)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--embed-size", type=positive_int, default=64)
    p.add_argument("--hidden-size", type=positive_int, default=128)
    p.add_argument("--lr", type=positive_float, default=3e-3)
    p.add_argument(
        "--dropout",
        type=rate,
        default=0.0,
        help="dropout on the embeddings, the output layer's input and between layers",
    )
    p.add_argument("--clip", type=positive_float, default=5.0, help="max gradient norm")
    p.add_argument("--teacher-forcing", type=probability, default=1.0, help="teacher forcing ratio")
    p.add_argument("--val-fraction", type=open_fraction, default=0.1)
    add_beam_options(p)
    p.add_argument("--models", default="gru-attn,lstm2", help="comma-separated: gru-attn, lstm2")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument(
        "--samples", type=nonnegative_int, default=6, help="held-out translations to print"
    )
    p.add_argument(
        "--out",
        type=output_folder,
        default="runs/translate",
        help="folder for the loss curves, attention heatmaps (PNG) and the checkpoint",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the checkpoint in --out even if it holds more training steps",
    )
    p.add_argument(
        "--threads",
        type=nonnegative_int,
        default=1,
        help="BLAS threads (set before NumPy loads; small products run fastest on one, "
        "especially on a busy machine); 0 leaves the environment alone",
    )
    p.add_argument("--dry-run", action="store_true", help="a seconds-long run on a tiny subset")
    return p


def add_beam_options(parser):
    """``--beam-width`` and ``--alpha``: the beam search of both commands."""
    parser.add_argument("--beam-width", type=positive_int, default=4)
    parser.add_argument(
        "--alpha",
        type=nonnegative_float,
        default=0.7,
        help="beam length normalisation: log p / len**alpha",
    )


def parse_args(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    args.models = [n.strip() for n in args.models.split(",") if n.strip()]
    bad = [n for n in args.models if n not in MODELS]
    if bad or not args.models:
        p.error(f"argument --models: choose from {', '.join(MODELS)}; got {bad or 'nothing'}")
    if args.dry_run:
        apply_dry_run(p, args, argv, DRY_RUN)
    return args


def checkpoint_path(out, pair):
    return os.path.join(out, f"translate_{pair}.npz")


def prepare(args):
    """Tokenised, split and encoded pairs, and the vocabularies (built on the training part only)."""
    from numrnn.data import WordVocab, load_translation_pairs, train_val_split
    from numrnn.data.datasets import translation_tokenizers

    pairs = load_translation_pairs(args.pair)
    tok_src, tok_tgt = translation_tokenizers(args.pair)
    data = [(tok_src(s), tok_tgt(t)) for s, t in pairs]
    data = [(s, t) for s, t in data if s and t]
    train, held = train_val_split(data, val_fraction=args.val_fraction, seed=args.seed)
    if args.dry_run:
        train, held = train[:64], held[:16]
    src_vocab = WordVocab.build([s for s, _ in train])
    tgt_vocab = WordVocab.build([t for _, t in train], bos_token="<bos>", eos_token="<eos>")

    def encode(part):
        return [src_vocab.encode(s) for s, _ in part], [tgt_vocab.encode(t) for _, t in part]

    return dict(
        train=train,
        held=held,
        train_ids=encode(train),
        held_ids=encode(held),
        src_vocab=src_vocab,
        tgt_vocab=tgt_vocab,
    )


def train(model, data, args, name):
    import numpy as np

    import numrnn
    from numrnn.data import batches
    from numrnn.models import translation_batch
    from numrnn.train import progress, update

    sv, tv = data["src_vocab"], data["tgt_vocab"]
    src_ids, tgt_ids = data["train_ids"]
    hsrc, htgt = data["held_ids"]
    special = (sv.pad_id, tv.pad_id, tv.bos_id, tv.eos_id)
    held_batch = translation_batch(hsrc, htgt, *special)
    opt = numrnn.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed + 1)
    history = {"step_loss": [], "epoch_train": [], "epoch_held": []}
    lengths = [len(t) for t in tgt_ids]
    n_batches = -(-len(src_ids) // args.batch_size)
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        running, total, count = None, 0.0, 0
        bar = progress(
            batches(len(src_ids), args.batch_size, rng=rng, lengths=lengths),
            total=n_batches,
            desc=f"{name} epoch {epoch}/{args.epochs}",
            leave=False,
        )
        for idx in bar:
            batch = translation_batch(
                [src_ids[i] for i in idx], [tgt_ids[i] for i in idx], *special
            )
            loss = model.train_step_loss(
                *batch, teacher_forcing_ratio=args.teacher_forcing, rng=rng
            )
            update(model, opt, args.clip)  # clip, step, zero the gradients
            running = loss if running is None else 0.95 * running + 0.05 * loss
            total, count = total + loss, count + 1
            history["step_loss"].append(loss)
            bar.set_postfix(loss=f"{running:.3f}")
        model.eval()
        with numrnn.no_grad():
            logits = model(held_batch[0], held_batch[1], held_batch[2])
        held_loss, _ = numrnn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), held_batch[3].reshape(-1), ignore_index=tv.pad_id
        )
        history["epoch_train"].append(total / count)
        history["epoch_held"].append(float(held_loss))
        print(
            f"{name:8s} epoch {epoch:3d}  train loss {total / count:.3f}  "
            f"held-out loss {float(held_loss):.3f}"
            f"  ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    history["seconds"] = time.perf_counter() - t0
    history["steps"] = len(history["step_loss"])
    return history, opt


def evaluate(model, data, args):
    from numrnn.metrics import corpus_bleu
    from numrnn.models import translate_ids

    tv = data["tgt_vocab"]
    src_ids, _ = data["held_ids"]
    refs = [t for _, t in data["held"]]  # the raw held-out tokens, unknown words included
    out = {}
    for method in ("greedy", "beam"):
        t0 = time.perf_counter()
        ids, attn = translate_ids(
            model, src_ids, method=method, beam_width=args.beam_width, alpha=args.alpha
        )
        hyps = [tv.to_tokens(h) for h in ids]
        out[method] = dict(
            bleu=corpus_bleu(hyps, refs), hyps=hyps, attn=attn, seconds=time.perf_counter() - t0
        )
    return out


def draw_attention(plt, weights, src, hyp, title, path):
    """Heatmap of ``weights`` ``(len(hyp), len(src))``: target tokens down, source across."""
    import warnings

    fig, ax = plt.subplots(figsize=(max(4.0, 2.0 + 0.5 * len(src)), max(3.0, 1.5 + 0.4 * len(hyp))))
    im = ax.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    fig.colorbar(im, ax=ax, fraction=0.05)
    ax.set_xticks(range(len(src)), src, rotation=60, ha="right")
    ax.set_yticks(range(len(hyp)), hyp)
    ax.set(xlabel="source", ylabel="translation", title=title)
    with warnings.catch_warnings():  # a font without CJK glyphs only warns
        warnings.simplefilter("ignore")
        fig.tight_layout()
        save_figure(fig, path)
    plt.close(fig)


def save_plots(histories, results, data, args):
    import numpy as np

    plt = pyplot()
    if plt is None:
        return []
    written = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for j, (name, h) in enumerate(histories.items()):
        color = f"C{j}"
        steps = np.asarray(h["step_loss"])
        k = max(1, len(steps) // 100)
        smooth = np.convolve(steps, np.ones(k) / k, mode="valid")
        axes[0].plot(np.arange(len(smooth)) + k - 1, smooth, color=color, label=name)
        epochs = np.arange(1, len(h["epoch_train"]) + 1)
        axes[1].plot(epochs, h["epoch_train"], color=color, label=f"{name} train")
        axes[1].plot(epochs, h["epoch_held"], "--", color=color, label=f"{name} held-out")
    axes[0].set(
        xlabel="step", ylabel="cross entropy (nats/token)", title="training loss (moving average)"
    )
    axes[1].set(xlabel="epoch", ylabel="cross entropy (nats/token)", title="per epoch")
    for ax in axes:
        ax.legend()
    path = os.path.join(args.out, "loss_curves.png")
    write_figure(fig, path, note=None)
    written.append(path)
    attn_models = [n for n in results if MODELS[n]["attention"]]
    if attn_models:
        name = attn_models[0]
        greedy = results[name]["greedy"]
        held = data["held"]
        # held-out sentences of at least six source tokens first (what attention does is
        # visible on longer sentences), then the others; translations of >= 2 tokens
        order = sorted(range(len(held)), key=lambda i: len(held[i][0]) < 6)
        picks = [i for i in order if len(greedy["hyps"][i]) >= 2][: max(1, min(4, args.samples))]
        for j, i in enumerate(picks):
            path = os.path.join(args.out, f"attention_{j}.png")
            draw_attention(
                plt,
                greedy["attn"][i],
                held[i][0],
                greedy["hyps"][i],
                f"{name} attention (greedy)",
                path,
            )
            written.append(path)
    return written


def save_model(path, name, model, opt, data, args, history, bleu):
    """Write the trained model with what rebuilds it (atomic, no pickle: numrnn.save)."""
    import numrnn

    numrnn.save(
        path,
        model,
        opt,
        example="translate",
        step=history["steps"],
        pair=args.pair,
        model_name=name,
        model_config=dict(
            embed_size=args.embed_size,
            hidden_size=args.hidden_size,
            dropout=args.dropout,
            **MODELS[name],
        ),
        src_vocab=data["src_vocab"].to_dict(),
        tgt_vocab=data["tgt_vocab"].to_dict(),
        held_out_bleu={k: round(v, 4) for k, v in bleu.items()},
    )
    print(f"wrote {path}")


def load_model(path, prog=f"{PROG} translate"):
    """``(model, metadata, src_vocab, tgt_vocab)`` from a translate.py checkpoint.

    A file there that is not a numrnn checkpoint, or that another example wrote, stops
    with a usage error naming ``--out``.
    """
    import numrnn
    from numrnn.data import WordVocab
    from numrnn.models.seq2seq import Seq2Seq

    meta = example_metadata(path, "translate", None, prog, "--out")
    src_vocab = WordVocab.from_dict(meta["src_vocab"])
    tgt_vocab = WordVocab.from_dict(meta["tgt_vocab"])
    model = Seq2Seq(src_vocab, tgt_vocab, **meta["model_config"])
    numrnn.load(path, model)
    model.eval()
    return model, meta, src_vocab, tgt_vocab


def main(argv=None):
    args = parse_args(argv)
    if args.threads > 0:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    from numrnn.models.seq2seq import Seq2Seq

    start = time.perf_counter()
    ckpt = checkpoint_path(args.out, args.pair)
    old_steps = existing_steps(ckpt, PROG, args.overwrite)
    data = prepare(args)
    print(
        f"{args.pair}: {len(data['train'])} training pairs, {len(data['held'])} held out; vocabularies "
        f"{len(data['src_vocab'])} (source) and {len(data['tgt_vocab'])} (target) tokens"
    )
    names = args.models
    histories, results, models, opts = {}, {}, {}, {}
    for k, name in enumerate(names):
        model = Seq2Seq(
            data["src_vocab"],
            data["tgt_vocab"],
            embed_size=args.embed_size,
            hidden_size=args.hidden_size,
            dropout=args.dropout,
            seed=args.seed + k,
            **MODELS[name],
        )
        histories[name], opts[name] = train(model, data, args, name)
        results[name] = evaluate(model, data, args)
        models[name] = model
    print(
        f"\nheld-out corpus BLEU-4 ({len(data['held'])} pairs, {args.pair}; beam width {args.beam_width}, "
        f"alpha {args.alpha}):"
    )
    print(f"{'model':10s} {'greedy':>8s} {'beam':>8s} {'train s':>9s}")
    for name in names:
        r = results[name]
        print(
            f"{name:10s} {r['greedy']['bleu'].score:8.2f} {r['beam']['bleu'].score:8.2f} "
            f"{histories[name]['seconds']:9.1f}"
        )
    print("\nsample held-out translations:")
    for i in range(min(args.samples, len(data["held"]))):
        src, ref = data["held"][i]
        print(f"  source         : {' '.join(src)}")
        print(f"  reference      : {' '.join(ref)}")
        for name in names:
            for method in ("greedy", "beam"):
                print(f"  {name + ' ' + method:15s}: {' '.join(results[name][method]['hyps'][i])}")
        print()
    os.makedirs(args.out, exist_ok=True)
    for path in save_plots(histories, results, data, args):
        print(f"wrote {path}")
    best = max(names, key=lambda n: results[n]["beam"]["bleu"].score)  # first of equals
    bleu = {m: results[best][m]["bleu"].score for m in ("greedy", "beam")}
    saved = may_replace(ckpt, old_steps, histories[best]["steps"], PROG)
    if saved:
        save_model(ckpt, best, models[best], opts[best], data, args, histories[best], bleu)
    print(f"total time {time.perf_counter() - start:.1f} s")
    if not saved:
        raise SystemExit(1)
    return results


# -- translate: the saved model on the user's sentences -----------------------------------


def parse_translate_args(argv):
    p = argparse.ArgumentParser(
        prog=f"{PROG} translate",
        description="Translate each SENTENCE with the saved model (greedy and beam search); "
        "trains first, with the default settings, if there is none.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("sentences", nargs="+", metavar="SENTENCE")
    p.add_argument("--pair", default="en-fr", choices=PAIRS)
    add_beam_options(p)
    p.add_argument(
        "--attention-png",
        metavar="FILE",
        help="draw each sentence's attention (beam result) into FILE "
        "(FILE_1.png, FILE_2.png, ... for several sentences)",
    )
    p.add_argument(
        "--out",
        type=output_folder,
        default="runs/translate",
        help="folder holding translate_<pair>.npz",
    )
    return p.parse_args(argv)


def attention_paths(path, n):
    """``path`` for one sentence; ``stem_1.ext``, ``stem_2.ext``, ... for ``n`` > 1."""
    if n == 1:
        return [path]
    stem, ext = os.path.splitext(path)
    return [f"{stem}_{i}{ext or '.png'}" for i in range(1, n + 1)]


def translate(argv):
    from numrnn.data.datasets import translation_tokenizers

    args = parse_translate_args(argv)
    prog = f"{PROG} translate"
    tok_src, _ = translation_tokenizers(args.pair)
    tokens = [tok_src(s) for s in args.sentences]
    empty = [i + 1 for i, t in enumerate(tokens) if not t]
    if empty:
        usage_error(prog, f"SENTENCE {', '.join(map(str, empty))}: no words to translate")
    if args.attention_png:
        folder = os.path.dirname(os.path.abspath(args.attention_png))
        if not os.path.isdir(folder):
            usage_error(prog, f"argument --attention-png: no folder {folder!r} to write into")
    ckpt = checkpoint_path(args.out, args.pair)
    if not os.path.exists(ckpt):
        print(f"no checkpoint {ckpt}: training first with the default settings")
        main(["--pair", args.pair, "--out", args.out])
    model, meta, src_vocab, tgt_vocab = load_model(ckpt, prog)
    if meta["pair"] != args.pair:
        usage_error(prog, f"argument --out: {ckpt} translates {meta['pair']}, not {args.pair}")
    plt = pyplot() if args.attention_png else None
    if args.attention_png and meta["model_config"]["attention"] is None:
        print(f"the saved model ({meta['model_name']}) has no attention: no heatmap drawn")
        plt = None
    pngs = attention_paths(args.attention_png, len(tokens)) if plt is not None else []
    results = []
    for k, toks in enumerate(tokens):
        r = translate_one(model, toks, src_vocab, tgt_vocab, args.beam_width, args.alpha)
        beam = r["beam"]
        if pngs and beam.attention is not None and len(beam.tokens):
            draw_attention(
                plt,
                beam.attention[:, : len(toks)],
                toks,
                tgt_vocab.to_tokens(beam.tokens),
                f"{meta['model_name']} attention (beam {args.beam_width})",
                pngs[k],
            )
            print(f"wrote {pngs[k]}")
        results.append(r)
    return results


def translate_one(model, toks, src_vocab, tgt_vocab, beam_width, alpha):
    """Greedy and beam translations of one tokenised sentence, printed with log p.

    Returns ``{"unknown": [...], "greedy": Hypothesis, "beam": Hypothesis}``.
    """
    import numpy as np

    ids = src_vocab.encode(toks)
    unknown = [t for t, i in zip(toks, ids.tolist()) if i == src_vocab.unk_id]
    src, lengths = ids[None, :], np.array([len(ids)])
    max_len = 2 * len(ids) + 10
    greedy = model.greedy(src, lengths, max_len=max_len, return_hypotheses=True)[0]
    beam = model.beam_search(
        src, lengths, beam_width=beam_width, max_len=max_len, alpha=alpha, return_hypotheses=True
    )[0]
    shown = " ".join(f"{t}[unknown]" if t in unknown else t for t in toks)
    print(f"source      : {shown}")
    if unknown:
        print(f"              not in the training vocabulary, read as <unk>: {', '.join(unknown)}")
    for label, h in (("greedy", greedy), (f"beam ({beam_width})", beam)):
        words = " ".join(tgt_vocab.to_tokens(h.tokens))
        end = "" if h.finished else f"; no <eos> within {max_len} tokens"
        print(f"{label:12s}: {words}   (log p = {h.log_prob:.3f}{end})")
    print()
    return {"unknown": unknown, "greedy": greedy, "beam": beam}


if __name__ == "__main__":
    run_example(main, "translate", translate)
