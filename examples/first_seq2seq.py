"""The first seq2seq: one Chinese sentence into English, encoder and decoder written out.

    python examples/first_seq2seq.py

The smallest translation model: one training pair, "我 很 好" -> "I am fine".  A GRU
encoder reads the source words; its last state starts a GRU decoder, which predicts
the target one word at a time from the previous word:

    h = Encoder(E_src[x_1 .. x_S])                  the source, summed up in one state
    s_0 = h,  s_t = Decoder(E_tgt[y_(t-1)], s_(t-1)),  p(y_t) = softmax(W s_t + b)

With teacher forcing 0.5, each step is fed the true previous word with probability 0.5
and the decoder's own best guess otherwise.  The backward walks the decoder's steps in
reverse (every module keeps one cache per forward and its backward takes the newest
first) and hands the gradient of the decoder's first state to the encoder.  The
translation is greedy: the most probable word at every step, until "Eos" or 10 words.
"""

import numpy as np

import numrnn
from numrnn.functional import cross_entropy

SRC = ["我", "很", "好", "不", "你"]  # source vocabulary
TGT = ["Bos", "I", "am", "fine", "you", "very", "Eos"]  # target vocabulary
BOS, EOS = TGT.index("Bos"), TGT.index("Eos")
EMBED, HIDDEN, LR, TEACHER_FORCING, EPOCHS, MAX_LEN = 8, 16, 0.01, 0.5, 500, 10


class Seq2Seq(numrnn.Module):
    def __init__(self, rng):
        super().__init__()
        self.src_embed = numrnn.Embedding(len(SRC), EMBED, rng=rng)
        self.encoder = numrnn.GRU(EMBED, HIDDEN, rng=rng)
        self.tgt_embed = numrnn.Embedding(len(TGT), EMBED, rng=rng)
        self.decoder = numrnn.GRU(EMBED, HIDDEN, rng=rng)
        self.out = numrnn.Linear(HIDDEN, len(TGT), rng=rng)

    def encode(self, src):
        _, h = self.encoder(self.src_embed(src[:, None]))  # (S, 1, E) -> h (1, 1, H)
        return h

    def encode_backward(self, dh, source_length):
        dout = np.zeros((source_length, 1, HIDDEN), dtype=np.float32)  # only h was used
        dx, _ = self.encoder.backward(dout, dh)
        self.src_embed.backward(dx)

    def step(self, word, s):
        out, s = self.decoder(self.tgt_embed(np.array([[word]])), s)  # (1, 1, H)
        return self.out(out[0]), s  # scores of the next word (1, V), and the new state

    def step_backward(self, dlogits, ds):
        dout = self.out.backward(dlogits)[None]  # (1, 1, H)
        dx, ds = self.decoder.backward(dout, ds)
        self.tgt_embed.backward(dx)
        return ds  # the gradient of the state this step started from


def train_step(model, opt, src, tgt, rng):
    """One forward and backward over the pair and one Adam step; returns the mean loss."""
    s, word, total, dlogits = model.encode(src), BOS, 0.0, []
    for target in tgt[1:]:  # predict "I", "am", "fine", "Eos"
        logits, s = model.step(word, s)
        loss, dl = cross_entropy(logits, np.array([target]))
        total += float(loss)
        dlogits.append(dl / (len(tgt) - 1))  # the loss is the mean over the steps
        word = target if rng.random() < TEACHER_FORCING else int(np.argmax(logits))
    ds = None  # nothing flows back from after the last step
    for dl in reversed(dlogits):
        ds = model.step_backward(dl, ds)
    model.encode_backward(ds, len(src))
    opt.step()
    opt.zero_grad()
    return total / (len(tgt) - 1)


def translate(model, src):
    """Greedy decoding: the most probable next word until "Eos" or MAX_LEN words."""
    words = ["Bos"]
    with numrnn.no_grad():
        s, word = model.encode(src), BOS
        for _ in range(MAX_LEN):
            logits, s = model.step(word, s)
            word = int(np.argmax(logits))
            words.append(TGT[word])
            if word == EOS:
                break
    return words


def main(seed=0):
    rng = np.random.default_rng(seed)
    src = np.array([SRC.index(w) for w in ["我", "很", "好"]])
    tgt = [TGT.index(w) for w in ["Bos", "I", "am", "fine", "Eos"]]
    model = Seq2Seq(rng)
    opt = numrnn.optim.Adam(model.parameters(), lr=LR)
    for epoch in range(1, EPOCHS + 1):
        loss = train_step(model, opt, src, tgt, rng)
        if epoch % 100 == 0:
            print(f"epoch {epoch}: loss {loss:.4f}")
    words = translate(model, src)
    print(words)
    return words


if __name__ == "__main__":
    main()
