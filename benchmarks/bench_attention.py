"""Our attention against PyTorch's fused kernel, and what the key/value cache saves in generation.

    python benchmarks/bench_attention.py            # the CPU, and CUDA when there is a GPU
    python benchmarks/bench_attention.py --device cpu --repeats 20

Prints (1) per sequence length, the median time of one forward + backward pass of
``scaled_dot_product_attention`` written out (softmax(Q K^T / sqrt(d)) V, causal) and of
``F.scaled_dot_product_attention``, and their ratio (> 1: ours is slower); (2) the time to
generate tokens with a small GPT with and without the key/value cache, and the speed-up.
"""
import time

import torch
import torch.nn.functional as F
from timing import median_time, parse_devices  # also puts the repository on sys.path

from utils.attention import causal_mask, scaled_dot_product_attention
from utils.gpt import GPT, generate

BATCH, HEADS, HEAD_DIM = 16, 4, 32
LENGTHS = [64, 256, 1024]


def bench_attention(device: torch.device, repeats: int) -> None:
    print(f"\n{device.type}: causal attention, batch {BATCH}, {HEADS} heads of width {HEAD_DIM}, "
          f"median of {repeats} forward+backward passes")
    print(f"{'length':>8}{'ours (ms)':>11}{'fused (ms)':>12}{'ratio':>8}")
    for length in LENGTHS:
        q, k, v = (torch.randn(BATCH, HEADS, length, HEAD_DIM, device=device, requires_grad=True)
                   for _ in range(3))
        mask = causal_mask(length, device=device)

        def ours():
            scaled_dot_product_attention(q, k, v, mask).sum().backward()

        def fused():
            F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()

        t_ours, t_fused = median_time(ours, device, repeats), median_time(fused, device, repeats)
        print(f"{length:>8}{1e3 * t_ours:>11.2f}{1e3 * t_fused:>12.2f}{t_ours / t_fused:>8.2f}")


def bench_generation(device: torch.device, tokens: int = 200) -> None:
    torch.manual_seed(0)
    model = GPT(vocab_size=100, block_size=256, width=96, depth=2, heads=4).to(device)
    prompt = torch.tensor([1, 2, 3])
    times = {}
    for use_cache in (False, True):
        generate(model, prompt, 5, use_cache=use_cache)  # warm-up
        start = time.perf_counter()
        generate(model, prompt, tokens, generator=torch.Generator().manual_seed(0), use_cache=use_cache)
        times[use_cache] = time.perf_counter() - start
    print(f"{device.type}: generating {tokens} tokens with a 2-layer, 96-wide GPT: "
          f"{times[False]:.2f} s without the cache, {times[True]:.2f} s with it "
          f"(speed-up {times[False] / times[True]:.1f}x)")


def main() -> None:
    devices, repeats = parse_devices(__doc__.splitlines()[0])
    for device in devices:
        bench_attention(device, repeats)
        bench_generation(device)


if __name__ == "__main__":
    main()
