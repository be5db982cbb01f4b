"""Seq2Seq: a training step against the same model in torch autograd, finite differences, decoding."""

import numpy as np
import pytest
from helpers import rel_err
from tests_fd import numeric_grad

import numrnn
from numrnn.models.decoding import beam_search, greedy_search
from numrnn.models.seq2seq import Seq2Seq

# float64 against torch autograd: both evaluate the same sums in a different order
# (fused gate products, packed sequences), so they agree to a modest multiple of the
# unit roundoff 1.1e-16 accumulated over ~10 steps of BPTT; 1e-9 normwise leaves
# six orders of margin and still catches any wrong term (those give >1e-3).
TORCH_TOL = 1e-9
# central differences with eps=1e-6 in float64: truncation O(eps^2 f''') ~ 1e-12 and
# roundoff O(1e-16 / eps) ~ 1e-10 relative to the largest gradient entry
FD_TOL = 1e-6

V_SRC, V_TGT, PAD, BOS, EOS = 11, 13, 0, 1, 2


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    lengths = np.array([5, 2, 4])  # not sorted: the encoder must restore the order
    src = rng.integers(3, V_SRC, (3, 6))
    for b, n in enumerate(lengths):
        src[b, n:] = PAD
    tgt_len = np.array([4, 2, 3])  # tokens + eos
    tgt = rng.integers(3, V_TGT, (3, 4))
    tgt_in = np.full((3, 4), PAD)
    tgt_out = np.full((3, 4), PAD)
    for b, n in enumerate(tgt_len):
        tgt_in[b, 0] = BOS
        tgt_in[b, 1:n] = tgt[b, : n - 1]
        tgt_out[b, : n - 1] = tgt[b, : n - 1]
        tgt_out[b, n - 1] = EOS
    return src, lengths, tgt_in, tgt_out


def _model(**kw):
    cfg = dict(
        embed_size=4,
        hidden_size=5,
        dtype=np.float64,
        seed=3,
        src_pad_id=PAD,
        tgt_pad_id=PAD,
        bos_id=BOS,
        eos_id=EOS,
    )
    cfg.update(kw)
    return Seq2Seq(V_SRC, V_TGT, **cfg)


def _torch_reference(model, src, lengths, fed, tgt_out):
    """The same network written with torch.nn layers and autograd; returns (loss, {name: grad})."""
    torch = pytest.importorskip("torch")
    nn, F = torch.nn, torch.nn.functional
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    E, H, L = model.embed_size, model.hidden_size, model.num_layers
    C, kind, bi = model.context_size, model.attention_kind, model.bidirectional_encoder
    cells = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}
    m = nn.Module()
    m.src_embedding = nn.Embedding(V_SRC, E, padding_idx=PAD)
    m.encoder = cells[model.cell](E, H, L, batch_first=True, bidirectional=bi)
    if bi:
        m.bridge_h = nn.Linear(2 * H, H)
        if model.cell == "lstm":
            m.bridge_c = nn.Linear(2 * H, H)
    m.tgt_embedding = nn.Embedding(V_TGT, E, padding_idx=PAD)
    m.decoder = cells[model.cell](E + C, H, L)
    if kind in ("additive", "general"):
        m.attention = nn.Module()
        names = ["weight_q", "weight_k", "v"] if kind == "additive" else ["weight"]
        for n in names:
            setattr(m.attention, n, nn.Parameter(torch.zeros(1)))
    m.out = nn.Linear(H + C, V_TGT)
    m.double()
    sd = model.state_dict()
    own = dict(m.named_parameters())
    assert sorted(own) == sorted(sd), (sorted(own), sorted(sd))
    for name, p in own.items():  # the reference gets numrnn's values, by PyTorch's names
        p.data = torch.tensor(sd[name])

    src_t, fed_t = torch.tensor(src), torch.tensor(fed)
    S = src.shape[1]
    e = m.src_embedding(src_t)
    packed = pack_padded_sequence(e, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    outputs, final = m.encoder(packed)
    outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=S)  # (B, S, D*H)
    if bi:
        finals = final if isinstance(final, tuple) else (final,)
        joined = [torch.cat([f[0::2], f[1::2]], dim=-1) for f in finals]
        h0 = torch.tanh(m.bridge_h(joined[0]))
        state = (h0, m.bridge_c(joined[1])) if model.cell == "lstm" else h0
    else:
        state = final
    valid = torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]
    steps = []
    for t in range(fed.shape[1]):
        x = m.tgt_embedding(fed_t[:, t])
        ctx = None
        if kind:
            q = (state[0] if isinstance(state, tuple) else state)[-1]
            if kind == "additive":
                a = m.attention
                scores = torch.tanh((q @ a.weight_q.T)[:, None] + outputs @ a.weight_k.T) @ a.v
            elif kind == "general":
                scores = torch.einsum("bq,qk,bsk->bs", q, m.attention.weight, outputs)
            else:
                scores = torch.einsum("bd,bsd->bs", q, outputs)
            w = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=-1)
            ctx = torch.einsum("bs,bsd->bd", w, outputs)
            x = torch.cat([x, ctx], dim=-1)
        o, state = m.decoder(x[None], state)
        feat = o[0] if ctx is None else torch.cat([o[0], ctx], dim=-1)
        steps.append(m.out(feat))
    logits = torch.stack(steps, dim=1)
    loss = F.cross_entropy(
        logits.reshape(-1, V_TGT), torch.tensor(tgt_out).reshape(-1), ignore_index=PAD
    )
    loss.backward()
    return loss.item(), {n: p.grad.numpy() for n, p in own.items()}


CONFIGS = [
    pytest.param(dict(cell="gru", attention="additive"), id="gru-additive"),
    pytest.param(dict(cell="lstm", num_layers=2), id="lstm2-plain"),
    pytest.param(
        dict(cell="lstm", num_layers=2, bidirectional_encoder=True, attention="general"),
        id="bilstm2-general",
    ),
    pytest.param(dict(cell="gru", attention="dot"), id="gru-dot"),
    pytest.param(
        dict(cell="rnn", bidirectional_encoder=True, attention="additive"), id="birnn-additive"
    ),
    pytest.param(dict(cell="gru", bidirectional_encoder=True, num_layers=2), id="bigru2-plain"),
]


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_training_step_matches_torch(cfg, ratio):
    src, lengths, tgt_in, tgt_out = _batch()
    model = _model(**cfg)
    loss = model.train_step_loss(
        src, lengths, tgt_in, tgt_out, teacher_forcing_ratio=ratio, rng=np.random.default_rng(4)
    )
    assert not any(mod._caches for mod in model.modules())  # every forward consumed
    fed = model.decoder_inputs
    if ratio < 1:  # some steps fed the model's own argmax instead of the reference
        assert not np.array_equal(fed, tgt_in)
    ref_loss, ref_grads = _torch_reference(model, src, lengths, fed, tgt_out)
    assert abs(loss - ref_loss) <= TORCH_TOL * abs(ref_loss)
    for name, p in model.named_parameters():
        assert rel_err(p.grad, ref_grads[name]) <= TORCH_TOL, name
        assert np.any(p.grad != 0), name  # every parameter takes part
    assert not np.any(model.src_embedding.weight.grad[PAD])
    assert not np.any(model.tgt_embedding.weight.grad[PAD])


@pytest.mark.parametrize(
    "cfg",
    [
        dict(cell="gru", attention="additive"),
        dict(cell="lstm", num_layers=2, bidirectional_encoder=True, attention="general"),
    ],
)
def test_finite_differences(cfg):
    src, lengths, tgt_in, tgt_out = _batch(1)
    model = _model(**cfg)
    model.zero_grad()
    model.train_step_loss(src, lengths, tgt_in, tgt_out)

    def loss():
        with numrnn.no_grad():
            logits = model(src, lengths, tgt_in)
        loss, _ = numrnn.functional.cross_entropy(
            logits.reshape(-1, V_TGT), tgt_out.reshape(-1), ignore_index=PAD
        )
        return float(loss)

    rng = np.random.default_rng(0)
    for name, p in model.named_parameters():
        # spot checks: a few entries of every parameter (all of them would take minutes)
        flat = p.data.reshape(-1)
        for i in rng.choice(flat.size, size=min(4, flat.size), replace=False):
            view = flat[i : i + 1]
            num = numeric_grad(loss, view)[0]
            ana = p.grad.reshape(-1)[i]
            assert abs(num - ana) <= FD_TOL * max(np.abs(p.grad).max(), 1e-3), (name, i, num, ana)


def test_padding_does_not_change_logits():
    src, lengths, tgt_in, _ = _batch()
    model = _model(cell="gru", attention="additive", bidirectional_encoder=True)
    other = src.copy()
    for b, n in enumerate(lengths):
        other[b, n:] = 7  # junk where the padding was
    with numrnn.no_grad():
        np.testing.assert_array_equal(model(src, lengths, tgt_in), model(other, lengths, tgt_in))


def test_bad_inputs_leave_no_state():
    src, lengths, tgt_in, tgt_out = _batch()
    model = _model(cell="gru", attention="additive")
    with pytest.raises(ValueError, match="src_lengths"):
        model(src, lengths[:2], tgt_in)
    with pytest.raises(ValueError, match="tgt_in"):
        model(src, lengths, tgt_in[:2])
    with pytest.raises(ValueError, match="src ids"):
        model(src + V_SRC, lengths, tgt_in)
    with pytest.raises(ValueError, match="teacher_forcing_ratio"):
        model(src, lengths, tgt_in, teacher_forcing_ratio=1.5)
    assert not any(mod._caches for mod in model.modules())
    model(src, lengths, tgt_in)
    with pytest.raises(ValueError, match="dlogits"):
        model.backward(np.zeros((3, 4, 2)))
    model.backward(np.zeros((3, 4, V_TGT)))  # still pending after the refused call
    with pytest.raises(RuntimeError):
        model.backward(np.zeros((3, 4, V_TGT)))
    with pytest.raises(ValueError, match="dot"):
        _model(attention="dot", bidirectional_encoder=True)
    with pytest.raises(ValueError, match="attention"):
        _model(attention="luong")


# ----------------------------------------------------------------------------- decoding
@pytest.mark.parametrize(
    "cfg", [dict(cell="gru", attention="additive"), dict(cell="lstm", num_layers=2)]
)
def test_beam_width_one_is_greedy(cfg):
    src, lengths, _, _ = _batch(2)
    model = _model(**cfg)
    g = model.greedy(src, lengths, max_len=7, return_hypotheses=True)
    b = model.beam_search(src, lengths, beam_width=1, max_len=7, return_hypotheses=True)
    for hg, hb in zip(g, b):
        assert hg.tokens == hb.tokens and hg.finished == hb.finished
        assert hg.log_prob == pytest.approx(hb.log_prob, rel=1e-12)
        if hg.attention is not None:
            np.testing.assert_allclose(hg.attention, hb.attention, rtol=1e-12)
    assert not any(mod._caches for mod in model.modules())  # decoding keeps no caches


def test_greedy_scores_and_attention_rows():
    src, lengths, _, _ = _batch(2)
    model = _model(cell="gru", attention="additive")
    tokens, attn = model.greedy(src, lengths, max_len=6)
    for b, (tok, w) in enumerate(zip(tokens, attn)):
        assert w.shape == (len(tok), lengths[b])  # target tokens x source tokens
        np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-12)  # nothing on padding
    # the reported log probability is that of the decoded tokens (+ eos) under teacher forcing
    hyps = model.greedy(src, lengths, max_len=6, return_hypotheses=True)
    for b, h in enumerate(hyps):
        seq = h.tokens + ([EOS] if h.finished else [])
        tin = np.array([[BOS] + seq[:-1]])
        with numrnn.no_grad():
            logits = model(src[b : b + 1, : lengths[b]], lengths[b : b + 1], tin)[0]
        lp = (
            logits
            - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True))
            - logits.max(-1, keepdims=True)
        )
        assert h.log_prob == pytest.approx(sum(lp[t, y] for t, y in enumerate(seq)), rel=1e-10)


def _table_step(table, V):
    """A step function from a table: prefix (tuple of ids) -> next-token probabilities."""

    def step(tokens, state):
        rows = []
        for prefix in state:
            p = np.full(V, 1e-9)
            for tok, prob in table.get(prefix, {}).items():
                p[tok] = prob
            rows.append(np.log(p / p.sum()))
        return np.array(rows), state, None

    def select(state, index):
        return [state[i] for i in index]

    return step, select


def test_beam_search_beats_greedy_on_a_trap():
    # tokens: 0 = bos, 1 = eos, 2 = "a", 3 = "b", 4..6 = continuations.
    # Greedy takes "a" (0.6) but every continuation of "a" is poor (max 0.34);
    # "b" (0.4) is followed by eos with probability 0.9: p(b eos) = 0.36 > p(a x eos) <= 0.6*0.34*1.
    V = 7
    table = {
        (): {2: 0.6, 3: 0.4},
        (2,): {4: 0.34, 5: 0.33, 6: 0.33},
        (2, 4): {1: 1.0},
        (2, 5): {1: 1.0},
        (2, 6): {1: 1.0},
        (3,): {1: 0.9, 4: 0.1},
        (3, 4): {1: 1.0},
    }

    def advancing(step):  # the state is the list of prefixes; the step extends them
        def run(tokens, state):
            state = [p + (int(t),) if t != 0 else p for p, t in zip(state, tokens)]
            lp, _, _ = step(tokens, state)
            return lp, state, None

        return run

    step, select = _table_step(table, V)
    g = greedy_search(advancing(step), [()], 1, bos_id=0, eos_id=1, max_len=5)[0]
    b = beam_search(advancing(step), [()], select, bos_id=0, eos_id=1, beam_width=2, max_len=5)[0]
    assert g.tokens == [2, 4] and g.log_prob == pytest.approx(np.log(0.6 * 0.34), rel=1e-6)
    assert b.tokens == [3] and b.log_prob == pytest.approx(np.log(0.4 * 0.9), rel=1e-6)
    assert b.log_prob > g.log_prob
    # width 1 falls into the same trap as greedy
    b1 = beam_search(advancing(step), [()], select, bos_id=0, eos_id=1, beam_width=1, max_len=5)[0]
    assert b1.tokens == g.tokens


def test_length_normalisation_prefers_longer_outputs():
    # eos at once: p = 0.5 (log -0.69, length 1); "a b eos": p = 0.45*0.95*0.95 = 0.406 (log -0.90, length 3)
    V = 5
    table = {
        (): {1: 0.5, 2: 0.45, 3: 0.05},
        (2,): {3: 0.95, 1: 0.05},
        (2, 3): {1: 0.95, 4: 0.05},
        (3,): {1: 1.0},
        (2, 3, 4): {1: 1.0},
        (2, 1): {1: 1.0},
    }

    def run(tokens, state):
        state = [p + (int(t),) if t != 0 else p for p, t in zip(state, tokens)]
        return _table_step(table, V)[0](tokens, state)[0], state, None

    select = _table_step(table, V)[1]
    raw = beam_search(run, [()], select, 0, 1, beam_width=3, max_len=6, alpha=0.0)[0]
    norm = beam_search(run, [()], select, 0, 1, beam_width=3, max_len=6, alpha=1.0)[0]
    assert raw.tokens == []
    assert norm.tokens == [2, 3]
    assert norm.score == pytest.approx(np.log(0.45 * 0.95 * 0.95) / 3, rel=1e-6)


def test_beam_search_max_len_returns_unfinished():
    V = 4  # eos (id 1) is never likely: the beam runs to max_len
    _, select = _table_step({}, V)

    def run(tokens, state):
        state = [p + (int(t),) for p, t in zip(state, tokens)]
        lp = np.log(np.array([[0.1, 0.05, 0.6, 0.25]] * len(state)))
        return lp, state, None

    hyps = beam_search(run, [()], select, 0, 1, beam_width=2, max_len=3, n_best=2)
    assert hyps[0].tokens == [2, 2, 2] and not hyps[0].finished
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(run, [()], select, 0, 1, beam_width=0)
    with pytest.raises(ValueError, match="alpha"):
        beam_search(run, [()], select, 0, 1, alpha=-1)


def test_torch_backend_agrees_with_numpy():
    pytest.importorskip("torch")
    from numrnn.backend import to_numpy

    src, lengths, tgt_in, tgt_out = _batch()
    cfg = dict(cell="lstm", num_layers=2, bidirectional_encoder=True, attention="additive")
    a, b = _model(**cfg), _model(backend="torch", **cfg)
    la, lb = (
        a.train_step_loss(src, lengths, tgt_in, tgt_out),
        b.train_step_loss(src, lengths, tgt_in, tgt_out),
    )
    assert la == pytest.approx(lb, rel=1e-12)  # the same float64 kernels on another array library
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert rel_err(to_numpy(q.grad), p.grad) <= 1e-12, name
    assert a.greedy(src, lengths, max_len=5)[0] == b.greedy(src, lengths, max_len=5)[0]
    assert a.beam_search(src, lengths, max_len=5)[0] == b.beam_search(src, lengths, max_len=5)[0]


def test_translation_batch_and_translate_ids():
    from numrnn.models import translate_ids, translation_batch

    src, lengths, tgt_in, tgt_out = translation_batch(
        [[5, 6, 7], [8]], [[3, 4], [9, 10, 11]], PAD, PAD, BOS, EOS
    )
    np.testing.assert_array_equal(src, [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(lengths, [3, 1])
    np.testing.assert_array_equal(tgt_in, [[BOS, 3, 4, 0], [BOS, 9, 10, 11]])
    np.testing.assert_array_equal(tgt_out, [[3, 4, EOS, 0], [9, 10, 11, EOS]])
    with pytest.raises(ValueError, match="targets"):
        translation_batch([[1]], [], PAD, PAD, BOS, EOS)
    model = _model(cell="gru", attention="additive")
    seqs = [[5, 6, 7], [8], [3, 4, 5, 6]]
    tokens, attn = translate_ids(model, seqs, method="greedy", batch_size=2, max_len=6)
    for s, tok, w in zip(seqs, tokens, attn):  # back in the given order, one row per source
        ref, _ = model.greedy(np.array([s]), np.array([len(s)]), max_len=6)
        assert tok == ref[0] and w.shape == (len(tok), len(s))


def test_learns_to_reverse():
    # 1-layer GRU with attention learns to reverse short sequences in a few hundred steps
    rng = np.random.default_rng(0)
    V = 10
    model = Seq2Seq(
        V,
        V,
        embed_size=16,
        hidden_size=32,
        attention="additive",
        seed=0,
        src_pad_id=PAD,
        tgt_pad_id=PAD,
        bos_id=BOS,
        eos_id=EOS,
    )
    opt = numrnn.optim.Adam(model.parameters(), lr=1e-2)
    from numrnn.models import translation_batch

    def sample(n):
        srcs = [list(rng.integers(3, V, rng.integers(2, 6))) for _ in range(n)]
        return srcs, [s[::-1] for s in srcs]

    losses = []
    for _ in range(250):
        srcs, tgts = sample(32)
        model.zero_grad()
        losses.append(model.train_step_loss(*translation_batch(srcs, tgts, PAD, PAD, BOS, EOS)))
        numrnn.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    srcs, tgts = sample(50)
    tokens, _ = model.greedy(*translation_batch(srcs, tgts, PAD, PAD, BOS, EOS)[:2], max_len=8)
    accuracy = np.mean([t == list(r) for t, r in zip(tokens, tgts)])
    assert np.mean(losses[-20:]) < 0.3 * np.mean(losses[:5])
    assert accuracy >= 0.8, accuracy


def test_dropout_gradients_by_finite_differences():
    # the dropout masks are redrawn on every forward: restore every generator first,
    # so that the perturbed forwards see the masks the backward used
    src, lengths, tgt_in, tgt_out = _batch(3)
    model = _model(cell="lstm", num_layers=2, attention="additive", dropout=0.4)
    gens = [model._dropout_rng, model.encoder._dropout_rng, model.decoder._dropout_rng]
    saved = [g.bit_generator.state for g in gens]

    def restore():
        for g, st_ in zip(gens, saved):
            g.bit_generator.state = st_

    model.zero_grad()
    model.train_step_loss(src, lengths, tgt_in, tgt_out)

    def loss():
        restore()
        with numrnn.no_grad():
            logits = model(src, lengths, tgt_in)
        value, _ = numrnn.functional.cross_entropy(
            logits.reshape(-1, V_TGT), tgt_out.reshape(-1), ignore_index=PAD
        )
        return float(value)

    restore()
    with numrnn.no_grad():
        model.eval()
        clean = model(src, lengths, tgt_in)
        model.train()
        noisy = model(src, lengths, tgt_in)
    assert not np.allclose(clean, noisy)  # dropout is on in training mode only
    rng = np.random.default_rng(1)
    for name, p in model.named_parameters():
        flat = p.data.reshape(-1)
        for i in rng.choice(flat.size, size=min(3, flat.size), replace=False):
            num = numeric_grad(loss, flat[i : i + 1])[0]
            ana = p.grad.reshape(-1)[i]
            assert abs(num - ana) <= FD_TOL * max(np.abs(p.grad).max(), 1e-3), (name, i, num, ana)
