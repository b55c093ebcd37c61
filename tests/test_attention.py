"""Attention, layer norm and the small GPT against PyTorch's own implementations."""
import pytest
import torch
import torch.nn.functional as F

from tests.layer_checks import assert_fused_equals_teaching_path, assert_same_values_and_gradients, flat
from utils.attention import (LayerNorm, MultiHeadSelfAttention, attention_weights, causal_mask,
                             merge_heads, scaled_dot_product_attention, sinusoidal_positional_encoding,
                             split_heads)
from utils.gpt import GPT, attention_maps, generate, gpt_parameter_count, top_k_filter


def _qkv(device, b=2, h=3, t_q=5, t_k=5, d=8):
    make = lambda t: torch.randn(b, h, t, d, device=device, dtype=torch.float64, requires_grad=True)  # noqa: E731
    return make(t_q), make(t_k), make(t_k)


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_values_and_gradients_match_torch(device, causal):
    q, k, v = _qkv(device)
    mask = causal_mask(5, device=device) if causal else None
    ours = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert_same_values_and_gradients(ours, ref, (q, k, v), (q, k, v))


def test_causal_flag_equals_the_explicit_causal_mask(device):
    q, k, v = _qkv(device)
    ours = scaled_dot_product_attention(q, k, v, causal=True)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(5, device=device))
    assert_same_values_and_gradients(ours, ref, (q, k, v), (q, k, v))


@pytest.mark.parametrize("masking", ["none", "causal flag", "cache mask", "any mask"])
def test_fused_attention_computes_what_the_teaching_path_computes(device, masking):
    """The math is checked above, on the teaching path; the fused path must hand q, k, v and the
    mask (or the causal flag) to PyTorch's kernel unchanged."""
    q, k, v = _qkv(device, t_q=3 if masking == "cache mask" else 5, t_k=5)
    arguments = {
        "none": {},
        "causal flag": {"causal": True},
        "cache mask": {"mask": causal_mask(3, 5, device=device)},  # 3 new queries after 2 cached keys
        "any mask": {"mask": torch.rand(5, 5, device=device).argsort(1) < 3},  # 3 random keys per query
    }[masking]
    fused = scaled_dot_product_attention(q, k, v, fused=True, **arguments)
    teaching = scaled_dot_product_attention(q, k, v, **arguments)
    assert_same_values_and_gradients(fused, teaching, (q, k, v), (q, k, v))


def test_fused_causal_attention_passes_is_causal_not_a_mask(monkeypatch):
    """An explicit mask rules out PyTorch's flash kernel; is_causal=True leaves it available."""
    calls = []
    real = F.scaled_dot_product_attention
    monkeypatch.setattr(F, "scaled_dot_product_attention",
                        lambda *args, **kwargs: calls.append(kwargs) or real(*args, **kwargs))
    MultiHeadSelfAttention(12, 3, fused=True)(torch.randn(2, 5, 12), causal=True)
    assert calls == [{"is_causal": True}]


def test_weights_are_a_distribution_and_masked_keys_get_zero():
    q, k, _ = _qkv("cpu", t_q=4, t_k=6)
    alpha = attention_weights(q, k, causal_mask(4, 6))
    torch.testing.assert_close(alpha.sum(-1), torch.ones(2, 3, 4, dtype=torch.float64))
    assert (alpha[..., 0, 3:] == 0).all()  # query 0 sits at position 2 of 6: keys 3.. are the future
    assert (alpha[..., 3, :] > 0).all()  # the last query sees every key


def test_causal_mask_with_a_cache_offsets_the_queries():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert causal_mask(1, 4).tolist() == [[True, True, True, True]]


def test_heads_split_and_merge_back():
    x = torch.randn(2, 5, 12)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    torch.testing.assert_close(heads[:, 1], x[..., 4:8])
    torch.testing.assert_close(merge_heads(heads), x)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_torch_with_copied_weights(device, causal):
    ours = MultiHeadSelfAttention(12, 3).to(device)
    ref = torch.nn.MultiheadAttention(12, 3, batch_first=True).to(device)
    ours.load_state_dict(ref.state_dict())  # the same parameter names
    x = torch.randn(2, 7, 12, device=device, requires_grad=True)
    y, _ = ours(x, causal=causal)
    blocked = ~causal_mask(7, device=device) if causal else None  # torch: True means "may not attend"
    y_ref, _ = ref(x, x, x, attn_mask=blocked, need_weights=False)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
    grad_out = torch.randn_like(y)
    (gx,) = torch.autograd.grad(y, x, grad_out, retain_graph=True)
    (gx_ref,) = torch.autograd.grad(y_ref, x, grad_out, retain_graph=True)
    torch.testing.assert_close(gx, gx_ref, atol=1e-5, rtol=1e-5)
    y.backward(grad_out)
    y_ref.backward(grad_out)
    torch.testing.assert_close(ours.in_proj_weight.grad, ref.in_proj_weight.grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("causal, cached", [(False, False), (True, False), (True, True)])
def test_fused_multi_head_attention_computes_what_the_teaching_path_computes(device, causal, cached):
    """The same module both ways: the same values, and the same gradients on x, the cache and
    every parameter (the projections run outside PyTorch's kernel and must feed it)."""
    attn = MultiHeadSelfAttention(12, 3).to(device, torch.float64)
    x = torch.randn(2, 4, 12, device=device, dtype=torch.float64, requires_grad=True)
    cache = tuple(torch.randn(2, 3, 3, 4, device=device, dtype=torch.float64, requires_grad=True)
                  for _ in range(2)) if cached else None
    assert_fused_equals_teaching_path(attn, x, causal=causal, cache=cache)


def test_causal_attention_never_sees_the_future():
    attn = MultiHeadSelfAttention(8, 2).double()
    x = torch.randn(1, 6, 8, dtype=torch.float64, requires_grad=True)
    y, _ = attn(x, causal=True)
    for t in range(6):
        (grad,) = torch.autograd.grad(y[0, t].sum(), x, retain_graph=True)
        assert (grad[0, t + 1:] == 0).all(), f"output {t} depends on a later input"
        assert grad[0, : t + 1].abs().sum() > 0


def _layer_norm(device, eps):
    norm = LayerNorm(6, eps=eps).to(device, torch.float64)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_()
    # Rows of variance from about 1e-4 to 1: eps = 0.1 changes every row's output visibly.
    x = torch.randn(3, 4, 6, device=device, dtype=torch.float64) * torch.logspace(-2, 0, 4, device=device)[:, None]
    return norm, x.requires_grad_()


@pytest.mark.parametrize("eps", [1e-5, 0.1])
def test_layer_norm_matches_torch(device, eps):
    ours, x = _layer_norm(device, eps)
    ref = F.layer_norm(x, (6,), ours.weight, ours.bias, eps=eps)
    assert_same_values_and_gradients(ours(x), ref, [x, ours.weight, ours.bias], [x, ours.weight, ours.bias])


@pytest.mark.parametrize("eps", [1e-5, 0.1])
def test_fused_layer_norm_computes_what_the_teaching_path_computes(device, eps):
    """The fused path must pass our weight, bias and eps to F.layer_norm."""
    assert_fused_equals_teaching_path(*_layer_norm(device, eps))


def test_sinusoidal_encoding_values_and_shift_is_a_rotation():
    pe = sinusoidal_positional_encoding(50, 16)
    assert pe.shape == (50, 16)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1.0] * 8))  # sin 0, cos 0
    torch.testing.assert_close(pe[3, 0], torch.sin(torch.tensor(3.0)))
    torch.testing.assert_close(pe[3, 15], torch.cos(torch.tensor(3.0 / 10000 ** (14 / 16))))
    # PE[p + k] = R_k PE[p] with one rotation per (sin, cos) pair, the same R_k for every p.
    k = 5
    frequency = 10000 ** (-torch.arange(0, 16, 2) / 16)
    cos, sin = torch.cos(k * frequency), torch.sin(k * frequency)
    s, c = pe[:-k, 0::2], pe[:-k, 1::2]
    torch.testing.assert_close(pe[k:, 0::2], s * cos + c * sin, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pe[k:, 1::2], c * cos - s * sin, atol=1e-5, rtol=1e-5)


def test_gpt_parameter_count_formula():
    for vocab, block, width, depth, heads in [(65, 32, 48, 2, 4), (100, 64, 96, 3, 6)]:
        model = GPT(vocab, block, width, depth, heads)
        assert sum(p.numel() for p in model.parameters()) == gpt_parameter_count(vocab, block, width, depth)


def test_fused_and_from_scratch_gpt_compute_the_same(device):
    """Values and the gradient of every parameter: the fused blocks use all of ours."""
    fused = GPT(20, 16, width=24, depth=2, heads=3, fused=True).double().to(device)
    scratch = GPT(20, 16, width=24, depth=2, heads=3, fused=False).double().to(device)
    scratch.load_state_dict(fused.state_dict())
    idx = torch.randint(0, 20, (2, 16), device=device)
    assert_same_values_and_gradients(flat(fused(idx)), flat(scratch(idx)), fused.parameters(), scratch.parameters())


def test_gpt_shapes_and_that_cached_logits_equal_full_logits(device):
    model = GPT(20, 16, width=24, depth=2, heads=3).double().to(device).eval()
    idx = torch.randint(0, 20, (2, 10), device=device)
    logits, caches = model(idx)
    assert logits.shape == (2, 10, 20) and len(caches) == 2 and caches[0][0].shape == (2, 3, 10, 8)
    first, caches = model(idx[:, :6])
    rest, _ = model(idx[:, 6:], caches)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), logits)


@pytest.mark.parametrize("fused", [False, True])
def test_cached_generation_gives_exactly_the_uncached_tokens(fused):
    torch.manual_seed(1)
    model = GPT(30, 40, width=32, depth=2, heads=4, fused=fused).double()
    prompt = torch.tensor([1, 2, 3, 4])
    sample = lambda use_cache: generate(model, prompt, 30, temperature=1.0, top_k=10,  # noqa: E731
                                        generator=torch.Generator().manual_seed(7), use_cache=use_cache)
    cached, uncached = sample(True), sample(False)
    assert cached.shape == (30,) and cached.dtype == torch.int64
    assert torch.equal(cached, uncached)


def test_top_k_keeps_only_the_k_best():
    logits = torch.tensor([[1.0, 5.0, 3.0, 4.0]])
    assert torch.isinf(top_k_filter(logits, 2)).tolist() == [[True, False, True, False]]
    assert torch.equal(top_k_filter(logits, None), logits)


@pytest.mark.parametrize("call, error, message", [
    (lambda: GPT(10, 8)(torch.zeros(1, 9, dtype=torch.int64)), ValueError, "beyond block_size 8"),
    (lambda: GPT(10, 8)(torch.zeros(1, 4)), TypeError, "expected dtype torch.int64"),
    (lambda: GPT(10, 8)(torch.full((1, 4), 10)), ValueError, r"expected values in \[0, 10\)"),
    (lambda: MultiHeadSelfAttention(10, 3), ValueError, "multiple of num_heads"),
    (lambda: MultiHeadSelfAttention(12, 3)(torch.randn(2, 5, 8)), ValueError, r"expected shape \(B, T, 12\)"),
    (lambda: generate(GPT(10, 8), torch.tensor([1, 2]), 10), ValueError, "exceeds block_size 8"),
    (lambda: attention_weights(torch.randn(2, 4), torch.randn(2, 3)), ValueError, "same d_k"),
    (lambda: scaled_dot_product_attention(*_qkv("cpu", t_q=1, t_k=4), causal=True), ValueError, "as many queries"),
])
def test_bad_input_says_what_was_expected(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_attention_maps_are_the_weights_the_model_uses(device):
    model = GPT(20, 16, width=24, depth=2, heads=3).double().to(device)
    idx = torch.randint(0, 20, (9,))
    maps = attention_maps(model, idx)
    assert maps.shape == (2, 3, 9, 9)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 3, 9, dtype=torch.float64))
    assert (maps.triu(diagonal=1) == 0).all()
    # Block 0's output recomputed from its maps: sum_j alpha_tj v_j, heads merged, projected.
    block = model.blocks[0]
    x = model.embed(idx[None].to(device))
    _, _, v = block.attn.project(block.ln_1(x))
    attended = block.attn.out_proj(merge_heads(maps[0][None].to(device) @ v)[0])
    torch.testing.assert_close(attended, block.attn(block.ln_1(x))[0][0])


def test_attention_plots_and_explorer():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from utils.text import Vocabulary
    from utils.widgets import attention_explorer, plot_attention, plot_attention_heads

    weights = torch.tensor([[1.0, 0.0, 0.0], [0.25, 0.75, 0.0]])
    ax = plot_attention(weights, ["x", "y"], ["a", "\n", " "])
    assert torch.equal(torch.tensor(ax.images[0].get_array().data), weights)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "\\n", "' '"]
    vocab = Vocabulary("def f(x):\n    return x\n")
    model = GPT(len(vocab), 12, width=16, depth=2, heads=2)
    fig = plot_attention_heads(attention_maps(model, vocab.encode("def f(x)")), "def f(x)")
    assert len(fig.axes) == 4 and fig.axes[3].get_title() == "block 1, head 1"
    assert fig.axes[0].get_xticklabels() and not plot_attention_heads(torch.ones(1, 1, 2, 2), "ab", labels=False).axes[0].get_xticks().size
    widget = attention_explorer(model, vocab, text="return x")
    assert [child.description for child in widget.children[:3]] == ["text", "block", "head"]
    assert widget.children[1].options == (0, 1)
    plt.close("all")
