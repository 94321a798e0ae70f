// bf16 GEMM throughput of Tessera's MatMul kernel (cuBLASLt through run_cuda_kernel, the path
// a plan takes), timed with CUDA events: 5 warm-up runs, then the median of 30. Shapes: square,
// the two MLP GEMMs of bert-large at batch 32 x seq 512, and gpt2's LM head (vocabulary 50257:
// rows not 16-byte aligned) forward and input gradient; or `m,n,k` arguments. Each shape runs
// with the row-padding scratch (gemm.cpp) and without it: the "pad" column is the padded path's
// speed-up (1.00 where the rows are aligned). Inputs are random (never zeros).
// torch_gemm_bench.py prints the same table for torch.matmul; device_check.sh runs both.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cuda/cuda_kernels.h"

using namespace tessera;
using namespace tessera::kernels;

namespace {
struct S {
  int64_t m, n, k;
};

// Median ms of 30 timed runs after 5 warm-ups; negative on error.
double time_matmul(cuda::CudaContext& ctx, const std::vector<TensorRef>& in,
                   const std::vector<TensorRef>& out) {
  std::vector<float> ms;
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  for (int it = 0; it < 35; ++it) {
    cudaEventRecord(e0, ctx.stream);
    Status st = cuda::run_cuda_kernel(ctx, "MatMul", {}, in, out);
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
float bf16_to_float(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Largest |a - b| over the largest |a|: the same product through two cuBLASLt kernels (their
// f32 sums differ in order only), so bf16 rounding of the output bounds it (~4e-3).
double max_rel_diff(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  double d = 0, m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = bf16_to_float(a[i]), y = bf16_to_float(b[i]);
    d = std::max(d, std::fabs(x - y));
    m = std::max(m, std::fabs(x));
  }
  return m > 0 ? d / m : d;
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<S> shapes = {{4096, 4096, 4096},  {8192, 8192, 8192}, {16384, 4096, 1024},
                           {16384, 1024, 4096}, {8192, 50257, 768}, {8192, 768, 50257},
                           {8192, 50304, 768},  {8192, 768, 50304}};
  if (argc > 1) shapes.clear();
  for (int i = 1; i < argc; ++i) {
    long long m, n, k;
    if (std::sscanf(argv[i], "%lld,%lld,%lld", &m, &n, &k) != 3) {
      std::fprintf(stderr, "error: shape '%s' is not m,n,k\n", argv[i]);
      return 2;
    }
    shapes.push_back({m, n, k});
  }
  cuda::CudaContext ctx;
  cudaStreamCreate(&ctx.stream);
  cublasLtCreate(&ctx.lt);
  ctx.workspace_bytes = 32 << 20;
  cudaMalloc(&ctx.workspace, ctx.workspace_bytes);
  std::printf("%-22s %10s %10s %8s\n", "tessera bf16 m,n,k", "ms", "TFLOP/s", "pad");
  for (const S& s : shapes) {
    void *a, *b, *c;
    cudaMalloc(&a, s.m * s.k * 2);
    cudaMalloc(&b, s.k * s.n * 2);
    cudaMalloc(&c, s.m * s.n * 2);
    std::vector<uint16_t> h(static_cast<size_t>(std::max(s.m * s.k, s.k * s.n)));
    std::mt19937 rng(1);
    for (auto& v : h)
      v = static_cast<uint16_t>(0x3c00 + (rng() & 0x3ff)) ^ (rng() & 0x8000);  // +-[1,2) bf16-ish
    cudaMemcpy(a, h.data(), s.m * s.k * 2, cudaMemcpyHostToDevice);
    cudaMemcpy(b, h.data(), s.k * s.n * 2, cudaMemcpyHostToDevice);
    std::vector<TensorRef> in = {{DType::kBFloat16, {s.m, s.k}, a},
                                 {DType::kBFloat16, {s.k, s.n}, b}};
    std::vector<TensorRef> out = {{DType::kBFloat16, {s.m, s.n}, c}};
    const int64_t pad = cuda::gemm_pad_scratch_bytes("MatMul", {}, in, out);
    ctx.pad_scratch_bytes = 0;  // unpadded first
    const double plain = time_matmul(ctx, in, out);
    double med = plain, diff = 0;
    if (pad > 0 && plain > 0) {
      std::vector<uint16_t> c0(static_cast<size_t>(s.m * s.n)), c1(c0.size());
      cudaMemcpy(c0.data(), c, c0.size() * 2, cudaMemcpyDeviceToHost);
      cudaMalloc(&ctx.pad_scratch, pad);
      ctx.pad_scratch_bytes = pad;
      med = time_matmul(ctx, in, out);
      cudaMemcpy(c1.data(), c, c1.size() * 2, cudaMemcpyDeviceToHost);
      diff = max_rel_diff(c0, c1);
      ctx.pad_scratch = nullptr, ctx.pad_scratch_bytes = 0;
    }
    if (plain < 0 || med < 0) return 1;
    char name[64];
    std::snprintf(name, sizeof name, "%lld,%lld,%lld", (long long)s.m, (long long)s.n,
                  (long long)s.k);
    std::printf("%-22s %10.3f %10.1f %8.2f", name, med, 2.0 * s.m * s.n * s.k / (med * 1e-3) / 1e12,
                plain / med);
    if (pad > 0) std::printf("  (padded vs plain: max |diff| / max |c| = %.1e)", diff);
    std::printf("\n");
    if (diff > 1e-2) {
      std::printf("error: padded and plain GEMMs disagree\n");
      return 1;
    }
    cudaFree(a), cudaFree(b), cudaFree(c);
  }
  return 0;
}
