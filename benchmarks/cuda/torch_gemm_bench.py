# torch.matmul bf16 on the same shapes as gemm_bench.cpp, same timing method (CUDA events,
# 5 warm-up runs, median of 30, random inputs).
import sys

import torch

shapes = [(4096, 4096, 4096), (8192, 8192, 8192), (16384, 4096, 1024), (16384, 1024, 4096),
          (8192, 50257, 768), (8192, 768, 50257), (8192, 50304, 768), (8192, 768, 50304)]
if len(sys.argv) > 1:
    shapes = [tuple(int(x) for x in a.split(",")) for a in sys.argv[1:]]
print(f"{'torch bf16 m,n,k':22s} {'ms':>10s} {'TFLOP/s':>10s}")
for m, n, k in shapes:
    a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(k, n, device="cuda", dtype=torch.bfloat16)
    ts = []
    for it in range(35):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        torch.matmul(a, b)
        e1.record()
        torch.cuda.synchronize()
        if it >= 5:
            ts.append(e0.elapsed_time(e1))
    ts.sort()
    med = ts[len(ts) // 2]
    print(f"{m},{n},{k}".ljust(22), f"{med:10.3f} {2 * m * n * k / (med * 1e-3) / 1e12:10.1f}")
