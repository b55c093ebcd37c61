"""The date-translation data and the GRU encoder-decoder with Bahdanau attention."""
import datetime

import pytest
import torch

from utils.dates import (SOURCE_CHARS, STYLES, TARGET_CHARS, date_pairs, decode_targets, encode_sources,
                         encode_targets, is_test_date, style_of, number_words, ordinal_words, write_date, year_words)
from utils.seq2seq import AdditiveAttention, Seq2Seq


def test_numbers_ordinals_and_years_in_words():
    assert [number_words(n) for n in (0, 13, 20, 42, 99)] == ["zero", "thirteen", "twenty", "forty-two", "ninety-nine"]
    assert [ordinal_words(n) for n in (1, 2, 3, 5, 8, 9, 12, 20, 21, 23, 30, 31)] == [
        "first", "second", "third", "fifth", "eighth", "ninth", "twelfth", "twentieth", "twenty-first",
        "twenty-third", "thirtieth", "thirty-first"]
    assert [year_words(y) for y in (1900, 1905, 1984, 2000, 2006, 2026)] == [
        "nineteen hundred", "nineteen oh five", "nineteen eighty-four", "two thousand", "two thousand six",
        "two thousand twenty-six"]


def test_each_style_is_named_by_an_example_and_never_writes_two_dates_alike():
    example = datetime.date(2026, 11, 23)
    assert all(write_date(example, style) == style for style in STYLES)
    days = [datetime.date(1900, 1, 1) + datetime.timedelta(days=i) for i in range(0, 73_000, 7)]
    for style in STYLES:  # the input must determine the answer, or no model could learn it
        assert len({write_date(day, style) for day in days}) == len(days), style


def test_train_and_test_dates_never_overlap_and_are_reproducible():
    train, test = date_pairs(3000, "train"), date_pairs(500, "test")
    assert date_pairs(3000, "train") == train
    train_dates = {iso for _, iso in train}
    assert not train_dates & {iso for _, iso in test}
    assert all(is_test_date(datetime.date.fromisoformat(iso)) for _, iso in test)
    assert len({text for text, _ in train}) > 2900  # many distinct inputs, all styles used
    assert {style_of(text, iso) for text, iso in train} == set(STYLES)
    assert {len(text) for text, _ in train} >= {10, 11, 60}


def test_encoding_pads_on_the_left_and_round_trips():
    ids, mask = encode_sources(["nov 2 1999", "1 may 2000"[:5]])
    assert ids.shape == (2, 10) and ids.dtype == torch.int64
    assert mask.tolist()[1] == [False] * 5 + [True] * 5 and (ids[~mask] == 0).all()
    assert "".join(SOURCE_CHARS[i - 1] for i in ids[1, 5:].tolist()) == "1 may"
    targets = encode_targets(["2026-11-23", "1900-01-01"])
    assert targets.shape == (2, 11) and (targets[:, 0] == 0).all()
    assert decode_targets(targets[:, 1:]) == ["2026-11-23", "1900-01-01"]
    assert len(TARGET_CHARS) + 1 == 12


@pytest.mark.parametrize("call, message", [
    (lambda: encode_sources(["NOV 2"]), "outside SOURCE_CHARS"),
    (lambda: encode_targets(["23/11/2026"]), "yyyy-mm-dd"),
    (lambda: date_pairs(3, "validation"), "'train' or 'test'"),
    (lambda: style_of("23 nov 2026", "2026-11-23"), "no style writes"),
    (lambda: write_date(datetime.date(2000, 1, 1), "2000-01-01"), "unknown style"),
])
def test_bad_input_says_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_additive_attention_is_the_formula(device):
    attend = AdditiveAttention(5, 6, 7).double().to(device)
    q = torch.randn(3, 5, dtype=torch.float64, device=device)
    keys = torch.randn(3, 4, 6, dtype=torch.float64, device=device, requires_grad=True)
    mask = torch.tensor([[True] * 4, [False, True, True, True], [False, False, False, True]], device=device)
    context, alpha = attend(q, keys, mask)
    for b in range(3):  # e_j = v . tanh(W_q q + W_k k_j), one key at a time
        e = torch.stack([attend.v.weight[0] @ torch.tanh(attend.W_q.weight @ q[b] + attend.W_k.weight @ keys[b, j])
                         for j in range(4)])
        e = e.masked_fill(~mask[b], float("-inf"))
        torch.testing.assert_close(alpha[b], torch.softmax(e, dim=0))
    torch.testing.assert_close(context, torch.bmm(alpha[:, None], keys)[:, 0])
    assert (alpha[~mask] == 0).all() and alpha[2, 3] == 1
    context.sum().backward()
    assert (keys.grad[~mask] == 0).all() and (keys.grad[mask] != 0).all()


def test_attention_rejects_queries_and_keys_of_the_wrong_width():
    with pytest.raises(ValueError, match=r"keys: expected shape \(2, \*, 6\)"):
        AdditiveAttention(5, 6, 7)(torch.randn(2, 5), torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match=r"query: expected shape \(B, 5\)"):
        AdditiveAttention(5, 6, 7)(torch.randn(2, 4), torch.randn(2, 4, 6))


@pytest.mark.parametrize("attention", [False, True])
def test_greedy_translation_is_teacher_forcing_on_its_own_output(device, attention):
    model = Seq2Seq(len(SOURCE_CHARS) + 1, len(TARGET_CHARS) + 1, hidden_size=16, embed_size=8,
                    attention=attention).double().to(device)
    sources, mask = (t.to(device) for t in encode_sources(["nov 2 1999", "the first of may, 2000"]))
    out, alphas = model.translate(sources, mask, 10)
    assert out.shape == (2, 10)
    fed_back = torch.cat([torch.zeros(2, 1, dtype=torch.int64, device=device), out], dim=1)
    logits, forced_alphas = model(sources, mask, fed_back)
    assert logits.shape == (2, 10, len(TARGET_CHARS) + 1)
    assert torch.equal(logits.argmax(-1), out)
    if attention:
        torch.testing.assert_close(alphas, forced_alphas)
        assert alphas.shape == (2, 10, sources.shape[1]) and (alphas[0, :, :12] == 0).all()
    else:
        assert alphas is None and forced_alphas is None
