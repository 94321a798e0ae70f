"""PyTorch side of the bert-large inference benchmark (benchmarks/cuda/bert_bench.sh).

The model of ../shared/models/full/bert-large-340m: HF transformers BertForMaskedLM at the
bert-large config (24 layers, d=1024, 16 heads, FFN 4096, vocab 30522), random weights, bf16
weights and activations (model.to(torch.bfloat16)), SDPA attention, eval, inference_mode.
Batch 32, seq 512, logits [32, 512, 30522] left on the GPU (as Tessera's bench leaves them).
Falls back to an equivalent torch.nn encoder (SDPA) if transformers is missing.

Timing: CUDA events around each forward, 3 warm-ups, median of --iters. Peak memory:
torch.cuda.max_memory_allocated over the timed runs (weights included; the CUDA context not).
Prints `torch_<mode>_ms_median` and `torch_<mode>_peak_mib` lines that bert_bench.sh compares.
"""
import argparse
import statistics
import sys
import time

import torch


def hf_model():
    from transformers import BertConfig, BertForMaskedLM

    cfg = BertConfig(vocab_size=30522, hidden_size=1024, num_hidden_layers=24,
                     num_attention_heads=16, intermediate_size=4096,
                     max_position_embeddings=512, attn_implementation="sdpa")
    with torch.device("cuda"):
        m = BertForMaskedLM(cfg)
    return m.to(torch.bfloat16).eval(), "transformers BertForMaskedLM (sdpa)"


class Layer(torch.nn.Module):
    def __init__(self, d=1024, h=16, f=4096):
        super().__init__()
        self.h = h
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.o = torch.nn.Linear(d, d)
        self.ln1 = torch.nn.LayerNorm(d, eps=1e-12)
        self.up = torch.nn.Linear(d, f)
        self.down = torch.nn.Linear(f, d)
        self.ln2 = torch.nn.LayerNorm(d, eps=1e-12)

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        a = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        x = self.ln1(x + self.o(a.transpose(1, 2).reshape(b, s, d)))
        return self.ln2(x + self.down(torch.nn.functional.gelu(self.up(x))))


class NnBert(torch.nn.Module):
    def __init__(self, vocab=30522, d=1024, layers=24):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, d)
        self.pos = torch.nn.Embedding(512, d)
        self.ln = torch.nn.LayerNorm(d, eps=1e-12)
        self.layers = torch.nn.ModuleList(Layer() for _ in range(layers))
        self.head = torch.nn.Linear(d, d)
        self.head_ln = torch.nn.LayerNorm(d, eps=1e-12)
        self.decoder = torch.nn.Linear(d, vocab)

    def forward(self, ids):
        x = self.ln(self.emb(ids) + self.pos.weight[: ids.shape[1]])
        for layer in self.layers:
            x = layer(x)
        return self.decoder(self.head_ln(torch.nn.functional.gelu(self.head(x))))


def bench(fn, ids, iters):
    for _ in range(3):
        fn(ids)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn(ids)
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times), min(times), torch.cuda.max_memory_allocated() / 2**20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--compile", action="store_true", help="also torch.compile (slow to build)")
    a = ap.parse_args()
    torch.manual_seed(0)
    try:
        model, what = hf_model()
    except Exception as e:  # noqa: BLE001 - any import/config failure: the nn fallback
        print(f"transformers unusable ({e}); torch.nn encoder instead", file=sys.stderr)
        with torch.device("cuda"):
            model, what = NnBert().to(torch.bfloat16).eval(), "torch.nn BERT encoder (sdpa)"
    ids = torch.randint(0, 30522, (a.batch, a.seq), device="cuda")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, {what}, "
          f"batch {a.batch}, seq {a.seq}, bf16")

    def fwd(m):
        def f(x):
            out = m(x)
            return out.logits if hasattr(out, "logits") else out
        return f

    with torch.inference_mode():
        med, mn, peak = bench(fwd(model), ids, a.iters)
        print(f"torch_eager_ms_median {med:.3f} min {mn:.3f}")
        print(f"torch_eager_peak_mib {peak:.1f}")
        if a.compile:
            t0 = time.time()
            cm = torch.compile(model)
            try:
                med, mn, peak = bench(fwd(cm), ids, a.iters)
                print(f"torch_compile_ms_median {med:.3f} min {mn:.3f} "
                      f"(compile+warmup {time.time() - t0:.0f} s)")
                print(f"torch_compile_peak_mib {peak:.1f}")
            except Exception as e:  # noqa: BLE001 - report, keep the eager figures
                print(f"torch.compile failed: {e}")


if __name__ == "__main__":
    main()
