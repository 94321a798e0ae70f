// FusedAttention / FusedAttentionGrad timing through run_cuda_kernel (the path a plan takes),
// CUDA events, 5 warm-up runs then the median of 20. Default rows: gpt2-124m training
// (N = 8·12 batch-heads, S = 1024, D = 64, causal) in bf16 with one chunk and with chunks of
// 256, the same in f16, and a long sequence (N = 24, S = 4096, chunks of 1024). Inputs from
// fill_random (never zeros). FLOPs count causal as full: forward 4·N·S²·D (two GEMMs), grad
// 10·N·S²·D (five GEMMs: S recomputed, dP, dq, dk, dv). Run by benchmarks/cuda/device_check.sh.
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

using namespace tessera;
using namespace tessera::kernels;

namespace {

struct Row {
  int64_t n, s, d, chunk;
  bool causal;
  DType dt;
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

// Device tensor [n, a, b] of dt filled with random values; freed by free_all.
std::vector<void*> g_ptrs;
TensorRef tensor(cuda::CudaContext& ctx, DType dt, int64_t n, int64_t a, int64_t b) {
  void* p = nullptr;
  const int64_t numel = n * a * b;
  if (cudaMalloc(&p, static_cast<size_t>(numel * dtype_size(dt))) != cudaSuccess) {
    std::printf("out of device memory\n");
    std::exit(1);
  }
  g_ptrs.push_back(p);
  if (!cuda::fill_random(ctx, p, dt, numel, g_ptrs.size(), 1.f).ok()) std::exit(1);
  return {dt, {n, a, b}, p};
}

bool bench(cuda::CudaContext& ctx, const Row& r) {
  const int64_t rows = r.chunk <= 0 || r.chunk > r.s ? r.s : r.chunk;
  const TensorRef q = tensor(ctx, r.dt, r.n, r.s, r.d), k = tensor(ctx, r.dt, r.n, r.s, r.d),
                  v = tensor(ctx, r.dt, r.n, r.s, r.d), dy = tensor(ctx, r.dt, r.n, r.s, r.d);
  const TensorRef y = tensor(ctx, r.dt, r.n, r.s, r.d), dq = tensor(ctx, r.dt, r.n, r.s, r.d),
                  dk = tensor(ctx, r.dt, r.n, r.s, r.d), dv = tensor(ctx, r.dt, r.n, r.s, r.d);
  const TensorRef wp = tensor(ctx, r.dt, r.n, rows, r.s), wd = tensor(ctx, r.dt, r.n, rows, r.s);
  const AttrMap a = {{"scale", Attr::Float(0.125)},
                     {"causal", Attr::Int(r.causal ? 1 : 0)},
                     {"chunk", Attr::Int(r.chunk)}};
  const auto fwd = [&] {
    return cuda::run_cuda_kernel(ctx, "FusedAttention", a, {q, k, v}, {y, wp});
  };
  const auto both = [&] {
    const Status s = fwd();
    if (!s.ok()) return s;
    return cuda::run_cuda_kernel(ctx, "FusedAttentionGrad", a, {q, k, v, dy}, {dq, dk, dv, wp, wd});
  };
  const double tf = time_ms(ctx, fwd), tb = time_ms(ctx, both);
  for (void* p : g_ptrs) cudaFree(p);
  g_ptrs.clear();
  if (tf < 0 || tb < 0) return false;
  const double f = double(r.n) * r.s * r.s * r.d;  // one S-sized GEMM is 2f flops
  char name[96];
  std::snprintf(name, sizeof name, "%s N=%lld S=%lld D=%lld chunk=%lld%s", dtype_name(r.dt),
                (long long)r.n, (long long)r.s, (long long)r.d, (long long)rows,
                r.causal ? " causal" : "");
  std::printf("%-46s %9.3f %8.1f %9.3f %8.1f\n", name, tf, 4 * f / (tf * 1e-3) / 1e12, tb,
              14 * f / (tb * 1e-3) / 1e12);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Row> rows = {{96, 1024, 64, 0, true, DType::kBFloat16},
                           {96, 1024, 64, 256, true, DType::kBFloat16},
                           {96, 1024, 64, 0, true, DType::kFloat16},
                           {24, 4096, 64, 1024, true, DType::kBFloat16}};
  if (argc == 7) {
    const std::string t = argv[6];
    const DType dt = t == "f16" ? DType::kFloat16 : t == "f32" ? DType::kFloat32 : DType::kBFloat16;
    rows = {{std::atoll(argv[1]), std::atoll(argv[2]), std::atoll(argv[3]), std::atoll(argv[4]),
             std::atoi(argv[5]) != 0, dt}};
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
  std::printf("%-46s %9s %8s %9s %8s\n", "tessera FusedAttention", "fwd ms", "TFLOP/s", "fwd+grad",
              "TFLOP/s");
  for (const Row& r : rows)
    if (!bench(ctx, r)) return 1;
  return 0;
}
