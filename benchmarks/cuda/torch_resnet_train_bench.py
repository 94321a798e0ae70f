"""PyTorch side of the resnet50 training-step benchmark (benchmarks/cuda/resnet_check.sh).

torchvision resnet50 (random weights, 1000 classes, BatchNorm in training mode), batch 128,
3x224x224, bf16 autocast with f32 master weights, SGD (lr 0.1, momentum 0.9, no weight decay:
the Tessera plan is compiled with `--optimizer sgd --momentum 0.9 --lr 0.1`), loss =
cross-entropy of the logits against random labels (mean over rows), as `tessera compile
--mode train --precision bf16` builds it. Memory formats: NCHW (contiguous, what the Tessera plan
runs) and channels_last (NHWC, cuDNN's fastest layout on tensor cores), each eager and under
torch.compile. cudnn.benchmark stays off (PyTorch's default: heuristics, as Tessera's plans).

Timing: CUDA events around each full step (forward, backward, optimizer, zero_grad), 3 warm-ups
(torch.compile: its compilation happens there), median of --iters. Peak memory:
torch.cuda.max_memory_allocated over the timed steps. Prints `torch_<mode>_<format>_ms_median`
and `torch_<mode>_<format>_peak_mib`.
"""
import argparse
import statistics

import torch
import torch.nn.functional as F

B = 128


def run(mode, fmt, iters):
    import torchvision

    torch.manual_seed(0)
    mf = torch.channels_last if fmt == "nhwc" else torch.contiguous_format
    m = torchvision.models.resnet50().cuda().to(memory_format=mf).train()
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    fwd = torch.compile(m) if mode == "compile" else m
    x = torch.rand(B, 3, 224, 224, device="cuda").mul_(2).sub_(1).contiguous(memory_format=mf)
    labels = torch.randint(0, 1000, (B,), device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = fwd(x)
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(iters):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        step()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1))
    med = statistics.median(times)
    print(f"# {mode} {fmt}: torchvision resnet50, torch {torch.__version__}")
    print(f"torch_{mode}_{fmt}_ms_median {med:.2f}  ({B / med * 1e3:.0f} img/s)")
    print(f"torch_{mode}_{fmt}_peak_mib {torch.cuda.max_memory_allocated() / 2**20:.0f}")
    del m, opt, fwd
    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--modes", default="eager,compile")
    ap.add_argument("--formats", default="nchw,nhwc")
    args = ap.parse_args()
    for mode in args.modes.split(","):
        for fmt in args.formats.split(","):
            run(mode, fmt, args.iters)


if __name__ == "__main__":
    main()
