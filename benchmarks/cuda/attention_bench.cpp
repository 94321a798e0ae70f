// FusedAttention / FusedAttentionGrad timing through run_cuda_kernel (the path a plan takes),
// CUDA events, 5 warm-up runs then the median of 20, each row on both paths in one process: the
// GEMM path (attention.cpp) and the flash kernels (flash_attention.cu; f16/bf16, D <= 128), and
// the ratio gemm/flash. Per row: the forward (FusedAttention), the gradient alone
// (FusedAttentionGrad, which recomputes what it needs) and their sum. Default rows: gpt2-124m
// training (B 8, H 12, S 1024, D 64, causal) in bf16 with one chunk and with chunks of 256 (the
// chunk only shapes the GEMM path), the same in f16, bert-large (B 32, H 16, S 512, D 64, a
// [B,1,1,S] bf16 additive mask), a long sequence (N = 24, S = 4096, chunks of 1024) and gpt2's
// size at D = 128. The gpt2 and bert rows also print the whole model's attention time (x 12 and
// x 24 layers; the WMMA kernels' H100 profile: gpt2 forward 5.5 ms + gradient 11.3 ms, bert
// forward 14.2 ms).
// Inputs from fill_random (never zeros).
// FLOPs are the attention's, not what a path recomputes: forward 4·N·S²·D (two matmuls), grad
// 10·N·S²·D (its five: S, dP, dq, dk, dv); causal counts HALF of that (the unmasked triangle;
// the flash kernels skip the masked key blocks, the GEMM path does not).
// Run by benchmarks/cuda/device_check.sh and flash_check.sh.
// Usage: cuda_attention_bench [N S D chunk causal bf16|f16|f32]  (one row; no args: defaults)
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/flash_attention.h"

using namespace tessera;
using namespace tessera::kernels;

namespace {

struct Row {
  int64_t b, h, s, d, chunk;  // batch-heads n = b·h
  bool causal;
  DType dt;
  bool mask;       // a [B,1,1,S] additive mask in dt
  int layers = 0;  // > 0: also print the model's total (layers x one call)
};

// Median milliseconds of f() over 20 runs after 5 warm-ups; negative on error.
double time_ms(cuda::CudaContext& ctx, const std::function<Status()>& f) {
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<float> ms;
  for (int it = 0; it < 25; ++it) {
    cudaEventRecord(e0, ctx.stream);
    const Status st = f();
    cudaEventRecord(e1, ctx.stream);
    if (!st.ok()) {
      std::printf("error: %s\n", st.to_string().c_str());
      return -1;
    }
    cudaEventSynchronize(e1);
    float t = 0;
    cudaEventElapsedTime(&t, e0, e1);
    if (it >= 5) ms.push_back(t);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  if (cudaGetLastError() != cudaSuccess) return -1;
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Device tensor of dt filled with random values; freed at the end of the row.
std::vector<void*> g_ptrs;
TensorRef tensor(cuda::CudaContext& ctx, DType dt, const Shape& shape) {
  void* p = nullptr;
  const int64_t numel = num_elements(shape);
  if (cudaMalloc(&p, static_cast<size_t>(numel * dtype_size(dt))) != cudaSuccess) {
    std::printf("out of device memory\n");
    std::exit(1);
  }
  g_ptrs.push_back(p);
  if (!cuda::fill_random(ctx, p, dt, numel, g_ptrs.size(), 1.f).ok()) std::exit(1);
  return {dt, shape, p};
}

// Median ms of the forward and of the gradient on the path the switch selects.
struct Times {
  double fwd = -1, grad = -1;
};

bool bench(cuda::CudaContext& ctx, const Row& r) {
  const int64_t rows = r.chunk <= 0 || r.chunk > r.s ? r.s : r.chunk;
  const Shape x = {r.b, r.h, r.s, r.d}, w = {r.b, r.h, rows, r.s};
  const TensorRef q = tensor(ctx, r.dt, x), k = tensor(ctx, r.dt, x), v = tensor(ctx, r.dt, x),
                  dy = tensor(ctx, r.dt, x), y = tensor(ctx, r.dt, x), dq = tensor(ctx, r.dt, x),
                  dk = tensor(ctx, r.dt, x), dv = tensor(ctx, r.dt, x);
  const TensorRef wp = tensor(ctx, r.dt, w), wd = tensor(ctx, r.dt, w);
  std::vector<TensorRef> fin = {q, k, v}, gin = {q, k, v, dy};
  if (r.mask) {
    fin.push_back(tensor(ctx, r.dt, {r.b, 1, 1, r.s}));
    gin.push_back(fin.back());
  }
  const AttrMap a = {{"scale", Attr::Float(0.125)},
                     {"causal", Attr::Int(r.causal ? 1 : 0)},
                     {"chunk", Attr::Int(r.chunk)}};
  const auto fwd = [&] { return cuda::run_cuda_kernel(ctx, "FusedAttention", a, fin, {y, wp}); };
  const auto grad = [&] {
    return cuda::run_cuda_kernel(ctx, "FusedAttentionGrad", a, gin, {dq, dk, dv, wp, wd});
  };
  Times t[2];  // 0: GEMM path, 1: flash
  for (int flash = 0; flash < 2; ++flash) {
    cuda::set_flash_attention_enabled(flash == 1);
    const uint64_t calls = cuda::flash_attention_calls();
    t[flash] = {time_ms(ctx, fwd), time_ms(ctx, grad)};
    if (flash == 1 && cuda::flash_attention_calls() == calls) t[1] = {};  // not applicable
  }
  for (void* p : g_ptrs) cudaFree(p);
  g_ptrs.clear();
  if (t[0].fwd < 0 || t[0].grad < 0) return false;
  // One S²-sized matmul is 2f flops; causal counts the unmasked half.
  const double f = double(r.b * r.h) * r.s * r.s * r.d * (r.causal ? 0.5 : 1.0);
  const auto tflops = [](double flops, double ms) {
    return ms > 0 ? flops / (ms * 1e-3) / 1e12 : 0;
  };
  char name[96];
  std::snprintf(name, sizeof name, "%s B=%lld H=%lld S=%lld D=%lld chunk=%lld%s%s",
                dtype_name(r.dt), (long long)r.b, (long long)r.h, (long long)r.s, (long long)r.d,
                (long long)rows, r.causal ? " causal" : "", r.mask ? " mask[B,1,1,S]" : "");
  const auto line = [&](const char* label, const char* what, double flops, double g, double fl) {
    std::printf("%-56s %s gemm %8.3f ms %6.1f TF/s  flash %8.3f ms %6.1f TF/s  gemm/flash %5.2fx\n",
                label, what, g, tflops(flops, g), fl, tflops(flops, fl), fl > 0 ? g / fl : 0.0);
  };
  const bool has_flash = t[1].fwd > 0 && t[1].grad > 0;
  line(name, "fwd ", 4 * f, t[0].fwd, t[1].fwd);
  line("", "grad", 10 * f, t[0].grad, t[1].grad);
  line("", "f+g ", 14 * f, t[0].fwd + t[0].grad, has_flash ? t[1].fwd + t[1].grad : -1);
  if (r.layers > 0)
    std::printf(
        "%-56s x%d layers: gemm fwd %.2f ms + grad %.2f ms, flash fwd %.2f ms + grad %.2f ms\n", "",
        r.layers, r.layers * t[0].fwd, r.layers * t[0].grad, has_flash ? r.layers * t[1].fwd : -1.0,
        has_flash ? r.layers * t[1].grad : -1.0);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const DType bf16 = DType::kBFloat16;
  std::vector<Row> rows = {{8, 12, 1024, 64, 0, true, bf16, false, 12},  // gpt2-124m
                           {8, 12, 1024, 64, 256, true, bf16, false},
                           {8, 12, 1024, 64, 0, true, DType::kFloat16, false},
                           {32, 16, 512, 64, 0, false, bf16, true, 24},  // bert-large
                           {2, 12, 4096, 64, 1024, true, bf16, false},
                           {8, 12, 1024, 128, 0, true, bf16, false}};
  if (argc == 7) {
    const std::string t = argv[6];
    const DType dt = t == "f16" ? DType::kFloat16 : t == "f32" ? DType::kFloat32 : bf16;
    rows = {{1, std::atoll(argv[1]), std::atoll(argv[2]), std::atoll(argv[3]), std::atoll(argv[4]),
             std::atoi(argv[5]) != 0, dt, false}};
  } else if (argc != 1) {
    std::printf("usage: %s [N S D chunk causal bf16|f16|f32]\n", argv[0]);
    return 2;
  }
  cuda::CudaContext ctx;
  if (cudaStreamCreate(&ctx.stream) != cudaSuccess ||
      cublasLtCreate(&ctx.lt) != CUBLAS_STATUS_SUCCESS)
    return 1;
  ctx.workspace_bytes = 32 << 20;
  if (cudaMalloc(&ctx.workspace, ctx.workspace_bytes) != cudaSuccess) return 1;
  std::printf(
      "tessera FusedAttention(+Grad): GEMM path vs flash kernels; TF/s count causal as "
      "half (flash -1 ms: not applicable)\n");
  for (const Row& r : rows)
    if (!bench(ctx, r)) return 1;
  return 0;
}
