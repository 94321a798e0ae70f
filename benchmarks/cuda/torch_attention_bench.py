# PyTorch side of cuda_attention_bench: torch.nn.functional.scaled_dot_product_attention (the
# flash backend on Hopper) at the same sizes and dtypes, forward and forward+backward, CUDA
# events, 5 warm-ups then the median of 20. Same FLOP counting as the C++ bench (causal counted
# as full): forward 4·N·S²·D, forward+backward 14·N·S²·D. Run by benchmarks/cuda/device_check.sh.
import torch
import torch.nn.functional as F

ROWS = [(96, 1024, 64, torch.bfloat16), (96, 1024, 64, torch.float16), (24, 4096, 64, torch.bfloat16)]


def median_ms(f):
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    ts = []
    for it in range(25):
        e0.record()
        f()
        e1.record()
        torch.cuda.synchronize()
        if it >= 5:
            ts.append(e0.elapsed_time(e1))
    return sorted(ts)[len(ts) // 2]


def main():
    print(f"{'torch SDPA (causal)':46s} {'fwd ms':>9s} {'TFLOP/s':>8s} {'fwd+bwd':>9s} {'TFLOP/s':>8s}")
    for n, s, d, dt in ROWS:
        q, k, v = (torch.randn(1, n, s, d, device="cuda", dtype=dt, requires_grad=True) for _ in range(3))
        dy = torch.randn(1, n, s, d, device="cuda", dtype=dt)

        def fwd():
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v, is_causal=True)

        def both():
            F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(dy)

        tf, tb = median_ms(fwd), median_ms(both)
        f = n * s * s * d
        name = f"{str(dt).replace('torch.', '')} N={n} S={s} D={d}"
        print(f"{name:46s} {tf:9.3f} {4 * f / tf / 1e9:8.1f} {tb:9.3f} {14 * f / tb / 1e9:8.1f}")


if __name__ == "__main__":
    main()
