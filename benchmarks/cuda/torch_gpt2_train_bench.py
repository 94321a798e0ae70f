"""PyTorch side of the gpt2-124m training-step benchmark (benchmarks/cuda/gpt2_train_bench.sh).

GPT-2 124M (12 layers, d=768, 12 heads, vocab 50257, tied embeddings), random weights, batch 8,
seq 1024, bf16 autocast with f32 master weights, fused AdamW (lr 1e-3, weight decay 0.01), loss =
cross-entropy of the logits against the labels (mean over rows), as `tessera compile --mode
train --precision bf16` builds it. HF transformers GPT2LMHeadModel (SDPA) when installed, else an
equivalent torch.nn model (SDPA, tanh GELU).

Timing: CUDA events around each full step (forward, backward, optimizer, zero_grad), 3 warm-ups
(torch.compile: its compilation happens there), median of --iters. Peak memory:
torch.cuda.max_memory_allocated over the timed steps. Prints `torch_<mode>_ms_median` and
`torch_<mode>_peak_mib`.
"""
import argparse
import statistics

import torch
import torch.nn as nn
import torch.nn.functional as F

V, D, H, L, S = 50257, 768, 12, 12, 1024


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.qkv, self.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
        self.fc, self.out = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

    def forward(self, x):
        b, s, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=-1)
        q, k, v = (t.view(b, s, H, D // H).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, s, D))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, D), nn.Embedding(S, D)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(D)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1], device=ids.device))
        for b in self.blocks:
            x = b(x)
        return self.ln_f(x) @ self.wte.weight.t()


def model():
    try:
        from transformers import GPT2Config, GPT2LMHeadModel

        cfg = GPT2Config(n_embd=D, n_layer=L, n_head=H, vocab_size=V, n_positions=S,
                         attn_implementation="sdpa")
        with torch.device("cuda"):
            m = GPT2LMHeadModel(cfg)
        return (lambda ids: m(ids).logits), m, "transformers GPT2LMHeadModel (sdpa)"
    except Exception:  # noqa: BLE001  (no transformers on the machine)
        with torch.device("cuda"):
            m = GPT()
        return m, m, "torch.nn GPT-2 (sdpa)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--modes", default="eager,compile")
    args = ap.parse_args()
    torch.manual_seed(0)
    for mode in args.modes.split(","):
        fwd, m, name = model()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01, fused=True)
        step_fwd = torch.compile(fwd) if mode == "compile" else fwd
        ids = torch.randint(0, 1000, (8, S), device="cuda")
        labels = torch.randint(0, 1000, (8, S), device="cuda")

        def step():
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = step_fwd(ids)
            loss = F.cross_entropy(logits.float().view(-1, V), labels.view(-1))
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        for _ in range(3):
            step()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(args.iters):
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            step()
            e1.record()
            e1.synchronize()
            times.append(e0.elapsed_time(e1))
        print(f"# {mode}: {name}, torch {torch.__version__}")
        print(f"torch_{mode}_ms_median {statistics.median(times):.2f}")
        print(f"torch_{mode}_peak_mib {torch.cuda.max_memory_allocated() / 2**20:.0f}")
        del m, opt
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
