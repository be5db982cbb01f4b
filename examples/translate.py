"""Translate JupyterLab's user-interface strings with two hand-differentiated seq2seq models.

Trains, on the same seeded train/held-out split of the sentence pairs from
:func:`numrnn.data.load_translation_pairs`:

(a) ``gru-attn``: a GRU encoder and a GRU decoder with additive (Bahdanau) attention;
(b) ``lstm2``: a 2-layer LSTM encoder-decoder without attention,

with Adam and gradient-norm clipping, then reports held-out corpus BLEU-4
(greedy and beam search) for both, prints sample translations and, with
``--out DIR``, saves the loss curves and attention heatmaps as PNG files.

    python examples/translate.py                    # en-fr, default sizes (a few minutes)
    python examples/translate.py --pair zh-en --out runs/zh-en
    python examples/translate.py --dry-run          # seconds: tiny subset, end to end

Needs ``jupyterlab-language-pack-fr-fr`` (en-fr) or ``-zh-cn`` (zh-en);
matplotlib for the plots and tqdm for progress bars are optional.
"""

from __future__ import annotations

import argparse
import os
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--pair", default="en-fr", choices=["en-fr", "zh-en", "fr-en", "en-zh"])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--embed-size", type=int, default=64)
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        help="dropout on the embeddings, the output layer's input and between layers",
    )
    p.add_argument("--clip", type=float, default=5.0, help="max gradient norm")
    p.add_argument("--teacher-forcing", type=float, default=1.0, help="teacher forcing ratio")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--beam-width", type=int, default=4)
    p.add_argument(
        "--alpha", type=float, default=0.7, help="beam length normalisation: log p / len**alpha"
    )
    p.add_argument("--models", default="gru-attn,lstm2", help="comma-separated: gru-attn, lstm2")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=6, help="held-out translations to print")
    p.add_argument(
        "--out", default=None, help="directory for loss curves and attention heatmaps (PNG)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads (set before NumPy loads; small products run fastest on one, "
        "especially on a busy machine); 0 leaves the environment alone",
    )
    p.add_argument("--dry-run", action="store_true", help="a seconds-long run on a tiny subset")
    args = p.parse_args(argv)
    if args.dry_run:
        args.epochs, args.batch_size = 1, 16
        args.embed_size, args.hidden_size = 16, 24
        args.beam_width, args.samples = 2, 2
    return args


MODELS = {
    "gru-attn": dict(cell="gru", num_layers=1, attention="additive"),
    "lstm2": dict(cell="lstm", num_layers=2, attention=None),
}


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
    return history


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


def save_plots(histories, results, data, args):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots")
        return []
    import warnings

    import numpy as np

    os.makedirs(args.out, exist_ok=True)
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
    fig.tight_layout()
    path = os.path.join(args.out, "loss_curves.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    attn_models = [n for n in results if MODELS[n]["attention"]]
    if attn_models:
        name = attn_models[0]
        greedy = results[name]["greedy"]
        held = data["held"]
        # the first held-out sentences with a translation of at least two tokens
        picks = [i for i in range(len(held)) if len(greedy["hyps"][i]) >= 2][
            : max(1, min(4, args.samples))
        ]
        for j, i in enumerate(picks):
            w = greedy["attn"][i]  # (target tokens, source tokens)
            src, hyp = held[i][0], greedy["hyps"][i]
            fig, ax = plt.subplots(
                figsize=(max(4.0, 2.0 + 0.5 * len(src)), max(3.0, 1.5 + 0.4 * len(hyp)))
            )
            im = ax.imshow(w, cmap="viridis", vmin=0, vmax=1, aspect="auto")
            fig.colorbar(im, ax=ax, fraction=0.05)
            ax.set_xticks(range(len(src)), src, rotation=60, ha="right")
            ax.set_yticks(range(len(hyp)), hyp)
            ax.set(xlabel="source", ylabel="translation (greedy)", title=f"{name} attention")
            path = os.path.join(args.out, f"attention_{j}.png")
            with warnings.catch_warnings():  # a font without CJK glyphs only warns
                warnings.simplefilter("ignore")
                fig.tight_layout()
                fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path)
    return written


def main(argv=None):
    args = parse_args(argv)
    if args.threads > 0:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    from numrnn.models.seq2seq import Seq2Seq

    start = time.perf_counter()
    data = prepare(args)
    print(
        f"{args.pair}: {len(data['train'])} training pairs, {len(data['held'])} held out; vocabularies "
        f"{len(data['src_vocab'])} (source) and {len(data['tgt_vocab'])} (target) tokens"
    )
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for n in names:
        if n not in MODELS:
            raise SystemExit(f"--models: unknown model {n!r}; choose from {sorted(MODELS)}")
    histories, results, models = {}, {}, {}
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
        histories[name] = train(model, data, args, name)
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
    if args.out:
        for path in save_plots(histories, results, data, args):
            print(f"wrote {path}")
    print(f"total time {time.perf_counter() - start:.1f} s")
    return results


if __name__ == "__main__":
    main()
