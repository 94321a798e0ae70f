// Int8 Linear against bf16 Linear on the GPU, both through Tessera's kernels (the path a plan
// takes), in the same process: y = x·Wᵀ + b for x [T, K] bf16, W [N, K], b [N], y bf16.
//   bf16:  Gemm(transB=1) with cuBLASLt's BIAS epilogue.
//   int8:  QuantizeI8(x) then QMatMulI8 (int8 tensor-core GEMM, int32 tiles, dequantizing
//          epilogue with the bias, bf16 out): everything the quantized plan runs per Linear.
//   gemm:  QMatMulI8 alone (the activation already int8, as when the previous op requantizes).
// Timed with CUDA events: 5 warm-up runs, median of 30. W = Wq * w_scale exactly, so both sides
// compute the same function up to activation rounding; the relative L2 difference of the two
// outputs is printed as a sanity check. Ratios are bf16 time / int8 time (> 1: int8 faster).
//   cuda_int8_bench [TILE_MB...]   int32 tile sizes to try (default: 24 64 full)
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

#include "kernels/cpu/kernel_util.h"
#include "kernels/cuda/cuda_kernels.h"

using namespace tessera;
using namespace tessera::kernels;

namespace {

void* dev_copy(const void* h, size_t n) {
  void* d = nullptr;
  if (cudaMalloc(&d, n) != cudaSuccess) std::abort();
  if (h) cudaMemcpy(d, h, n, cudaMemcpyHostToDevice);
  return d;
}

double median_ms(cuda::CudaContext& ctx, const std::function<Status()>& f) {
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<float> ms;
  for (int it = 0; it < 35; ++it) {
    cudaEventRecord(e0, ctx.stream);
    Status s = f();
    cudaEventRecord(e1, ctx.stream);
    if (!s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
      std::exit(1);
    }
    cudaEventSynchronize(e1);
    float t = 0;
    cudaEventElapsedTime(&t, e0, e1);
    if (it >= 5) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

std::vector<float> download_bf16(const void* d, int64_t n) {
  std::vector<uint16_t> h(static_cast<size_t>(n));
  cudaMemcpy(h.data(), d, n * 2, cudaMemcpyDeviceToHost);
  std::vector<float> f(h.size());
  for (size_t i = 0; i < h.size(); ++i) f[i] = cpu::bf16_bits_to_float(h[i]);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> tiles_mb;
  for (int i = 1; i < argc; ++i) tiles_mb.push_back(std::atoll(argv[i]));
  if (tiles_mb.empty()) tiles_mb = {24, 64, 0};  // 0: the whole [T, N] in one GEMM
  cuda::CudaContext ctx;
  cudaStreamCreate(&ctx.stream);
  cublasLtCreate(&ctx.lt);
  ctx.workspace_bytes = 32 << 20;
  cudaMalloc(&ctx.workspace, ctx.workspace_bytes);
  const int64_t T = 8192;
  std::printf("%-16s %-6s %9s %9s %9s %8s %8s %9s %9s\n", "T x K -> N", "tileMB", "bf16 ms",
              "int8 ms", "gemm ms", "ratio", "ratio_g", "int8 TOPS", "rel L2");
  for (int64_t K : {4096, 8192}) {
    const int64_t N = K;
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.f, 1.f);
    std::vector<uint16_t> xh(static_cast<size_t>(T * K)), wh(static_cast<size_t>(N * K)),
        bh(static_cast<size_t>(N));
    std::vector<int8_t> wq(wh.size());
    std::vector<float> ws(static_cast<size_t>(N)), bf(static_cast<size_t>(N));
    for (auto& v : xh) v = cpu::float_to_bf16_bits(nd(rng));
    for (int64_t n = 0; n < N; ++n) {
      ws[n] = (0.5f + 0.5f * std::fabs(nd(rng))) / 127.f / std::sqrt(float(K));
      bf[n] = cpu::bf16_bits_to_float(cpu::float_to_bf16_bits(0.1f * nd(rng)));
      bh[n] = cpu::float_to_bf16_bits(bf[n]);
    }
    for (size_t i = 0; i < wq.size(); ++i) {
      wq[i] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
      wh[i] = cpu::float_to_bf16_bits(wq[i] * ws[i / K]);  // W = Wq * w_scale (bf16-rounded)
    }
    void* x = dev_copy(xh.data(), xh.size() * 2);
    void* w = dev_copy(wh.data(), wh.size() * 2);
    void* b = dev_copy(bh.data(), bh.size() * 2);
    void* wqd = dev_copy(wq.data(), wq.size());
    void* wsd = dev_copy(ws.data(), ws.size() * 4);
    void* bfd = dev_copy(bf.data(), bf.size() * 4);
    void* xq = dev_copy(nullptr, T * K);
    void* y16 = dev_copy(nullptr, T * N * 2);
    void* y8 = dev_copy(nullptr, T * N * 2);
    const std::vector<TensorRef> lin = {
        {DType::kBFloat16, {T, K}, x}, {DType::kBFloat16, {N, K}, w}, {DType::kBFloat16, {N}, b}};
    const std::vector<TensorRef> lout = {{DType::kBFloat16, {T, N}, y16}};
    const AttrMap tb = {{"transB", Attr::Int(1)}};
    const double t16 =
        median_ms(ctx, [&] { return cuda::run_cuda_kernel(ctx, "Gemm", tb, lin, lout); });
    // Activation scale from the data's range, as calibration would (max |x| / 127).
    float amax = 0;
    for (uint16_t v : xh) amax = std::max(amax, std::fabs(cpu::bf16_bits_to_float(v)));
    const AttrMap qa = {{"scale", Attr::Float(amax / 127.f)}};
    const AttrMap ma = {{"x_scale", Attr::Float(amax / 127.f)}};
    const std::vector<TensorRef> qin = {{DType::kBFloat16, {T, K}, x}};
    const std::vector<TensorRef> qout = {{DType::kInt8, {T, K}, xq}};
    const std::vector<TensorRef> min = {{DType::kInt8, {T, K}, xq},
                                        {DType::kInt8, {N, K}, wqd},
                                        {DType::kFloat32, {N}, wsd},
                                        {DType::kFloat32, {N}, bfd}};
    const std::vector<TensorRef> mout = {{DType::kBFloat16, {T, N}, y8}};
    for (int64_t tile : tiles_mb) {
      const int64_t bytes = tile > 0 ? tile << 20 : T * N * 4;
      cudaMalloc(&ctx.i32_scratch, bytes);
      ctx.i32_scratch_bytes = bytes;
      const double t8 = median_ms(ctx, [&] {
        TSR_RETURN_IF_ERROR(cuda::run_cuda_kernel(ctx, "QuantizeI8", qa, qin, qout));
        return cuda::run_cuda_kernel(ctx, "QMatMulI8", ma, min, mout);
      });
      const double tg =
          median_ms(ctx, [&] { return cuda::run_cuda_kernel(ctx, "QMatMulI8", ma, min, mout); });
      cudaStreamSynchronize(ctx.stream);
      const auto a = download_bf16(y16, T * N), q = download_bf16(y8, T * N);
      double num = 0, den = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        num += (q[i] - a[i]) * double(q[i] - a[i]);
        den += a[i] * double(a[i]);
      }
      char shape[32];
      std::snprintf(shape, sizeof shape, "%lldx%lld->%lld", (long long)T, (long long)K,
                    (long long)N);
      std::printf("%-16s %-6s %9.3f %9.3f %9.3f %8.2f %8.2f %9.0f %9.2e\n", shape,
                  tile > 0 ? std::to_string(tile).c_str() : "full", t16, t8, tg, t16 / t8, t16 / tg,
                  2.0 * T * N * K / (tg * 1e-3) / 1e12, std::sqrt(num / den));
      cudaFree(ctx.i32_scratch);
    }
    for (void* p : {x, w, b, wqd, wsd, bfd, xq, y16, y8}) cudaFree(p);
  }
  return 0;
}
