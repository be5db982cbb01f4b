import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numrnn.data import CharVocab, Vocab, WordVocab, tokenize_words


def test_special_tokens_come_first_in_fixed_order():
    v = Vocab(["a", "b"], bos_token="<s>", eos_token="</s>")
    assert v.itos == ("<pad>", "<unk>", "<s>", "</s>", "a", "b")
    assert (v.pad_id, v.unk_id, v.bos_id, v.eos_id) == (0, 1, 2, 3)
    v = Vocab(["a"], pad_token=None, unk_token=None)
    assert v.itos == ("a",) and v.pad_id is None and v.unk_id is None


def test_build_orders_by_count_then_first_appearance_and_respects_limits():
    text = "abracadabra"  # a:5 b:2 r:2 c:1 d:1
    v = CharVocab.build(text)
    assert v.itos == ("<pad>", "<unk>", "a", "b", "r", "c", "d")
    v = CharVocab.build(text, min_freq=2)
    assert v.itos == ("<pad>", "<unk>", "a", "b", "r")
    v = CharVocab.build(text, max_size=4)
    assert v.itos == ("<pad>", "<unk>", "a", "b")
    with pytest.raises(ValueError, match="max_size"):
        CharVocab.build(text, max_size=1)
    with pytest.raises(ValueError, match="min_freq"):
        CharVocab.build(text, min_freq=0)


def test_char_encode_decode_round_trip_and_unknowns():
    v = CharVocab.from_text("hello world")
    ids = v.encode("hello")
    assert ids.dtype == np.int64
    assert ids.tolist() == [v.stoi[c] for c in "hello"]
    assert v.decode(ids) == "hello"
    assert v.encode("hez").tolist()[-1] == v.unk_id
    assert v.decode(v.encode("hez")) == "he<unk>"
    strict = CharVocab.from_text("abc", unk_token=None)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        strict.encode("abz")


def test_char_encode_handles_characters_beyond_the_basic_plane():
    text = "a\U0001f600b\u4e2d"
    v = CharVocab.from_text(text)
    assert v.decode(v.encode(text)) == text
    assert v.encode("\U0001f601").tolist() == [v.unk_id]


def test_word_level_tokenisation_bos_eos_and_skipping_specials():
    v = WordVocab.build(["The cat sat.", "the dog sat!"], bos_token="<bos>", eos_token="<eos>")
    ids = v.encode("The cat sat.", add_bos=True, add_eos=True)
    assert ids[0] == v.bos_id and ids[-1] == v.eos_id
    assert v.to_tokens(ids) == ["<bos>", "the", "cat", "sat", ".", "<eos>"]
    assert v.decode(ids) == "the cat sat ."
    assert v.decode(np.r_[ids, v.pad_id, v.pad_id]) == "the cat sat ."
    assert v.decode(ids, skip_special=False) == "<bos> the cat sat . <eos>"
    with pytest.raises(ValueError, match="bos_token"):
        WordVocab.build("a b").encode("a", add_bos=True)


def test_encode_accepts_token_lists_and_rejects_other_types():
    v = WordVocab(["x", "y"])
    assert v.encode(["y", "x", "zz"]).tolist() == [3, 2, 1]
    with pytest.raises(TypeError, match="text must be"):
        v.encode(42)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 4\)"):
        v.decode([0, 4])


def test_dict_round_trip_is_json_and_preserves_everything():
    v = WordVocab.build("a b b c", bos_token="<bos>", eos_token="<eos>", lower=False)
    d = json.loads(json.dumps(v.to_dict()))
    w = Vocab.from_dict(d)
    assert isinstance(w, WordVocab)
    assert w == v and w.itos == v.itos and w.lower is False and w.eos_id == v.eos_id
    c = CharVocab.from_text("xyz", pad_token=None)
    c2 = CharVocab.from_dict(json.loads(json.dumps(c.to_dict())))
    assert c2 == c and c2.pad_id is None and c2.unk_id == 0


def test_from_dict_rejects_foreign_or_inconsistent_input():
    with pytest.raises(ValueError, match="format"):
        Vocab.from_dict({"tokens": ["a"]})
    d = CharVocab(["a"]).to_dict()
    d["tokens"] = ["a", "<pad>", "<unk>"]
    with pytest.raises(ValueError, match="special tokens"):
        Vocab.from_dict(d)
    with pytest.raises(ValueError, match="level"):
        WordVocab.from_dict(CharVocab(["a"]).to_dict())


def test_constructor_errors():
    with pytest.raises(ValueError, match="level"):
        Vocab(level="byte")
    with pytest.raises(ValueError, match="distinct"):
        Vocab(pad_token="<x>", unk_token="<x>")
    with pytest.raises(TypeError, match="tokens must be str"):
        Vocab(["a", 3])
    with pytest.raises(ValueError, match="always 'char'"):
        CharVocab(level="word")


def test_tokenize_words_splits_punctuation_and_normalises_apostrophes():
    assert tokenize_words("Don't stop!") == ["don", "'", "t", "stop", "!"]
    assert tokenize_words("L\u2019\u00e9diteur\u202f:", lower=False) == [
        "L",
        "'",
        "\u00e9diteur",
        ":",
    ]


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=60))
def test_char_round_trip_property(text):
    v = CharVocab.from_text(text)
    ids = v.encode(text)
    assert ids.shape == (len(text),)
    assert v.decode(ids) == text
    assert all(0 <= i < len(v) for i in ids.tolist())
