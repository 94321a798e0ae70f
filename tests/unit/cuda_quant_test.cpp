// The quantized ops on CUDA against the CPU kernels (which are bit-exact against the *_ref
// quantizers, quant_test_kernels.cpp). The CUDA arithmetic is the CPU's operation for operation
// (IEEE-rounded intrinsics, int32 accumulation), so int8 and f32 outputs must be equal byte for
// byte; 16-bit outputs equal the f32 result rounded once. Cases cover cuBLASLt's int8 GEMM
// (K % 4 == 0), the plain fallback (K % 4 != 0), tiling over M through a small int32 scratch,
// the requantizing epilogue, SmoothQuant inputs, the vectorised quantizer and the per-token
// forms (row abs-max quantizer, row-scale epilogue), and QConvI8 (im2row + the int8 GEMM).
// Needs a GPU.
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/quant_kernels.h"
#include "kernels/cuda/cuda_kernels.h"

namespace tessera::kernels {
namespace {

struct Dev {
  std::vector<void*> ptrs;
  ~Dev() {
    for (void* p : ptrs) cudaFree(p);
  }
  TensorRef put(DType dt, const Shape& s, const void* host) {
    const size_t n = static_cast<size_t>(num_elements(s) * dtype_size(dt));
    void* d = nullptr;
    EXPECT_EQ(cudaMalloc(&d, n + 16), cudaSuccess);
    const cudaError_t e = host ? cudaMemcpy(d, host, n, cudaMemcpyHostToDevice)
                               : cudaMemset(d, 0x7F, n);  // poison: unwritten bytes show
    EXPECT_EQ(e, cudaSuccess);
    ptrs.push_back(d);
    return {dt, s, d};
  }
};

std::vector<uint8_t> get(const TensorRef& t) {
  std::vector<uint8_t> h(static_cast<size_t>(t.bytes()));
  EXPECT_EQ(cudaMemcpy(h.data(), t.data, h.size(), cudaMemcpyDeviceToHost), cudaSuccess);
  return h;
}

class CudaQuant : public ::testing::Test {
 protected:
  void SetUp() override {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) GTEST_SKIP() << "no GPU";
    ASSERT_EQ(cudaStreamCreate(&ctx_.stream), cudaSuccess);
    ASSERT_EQ(cublasLtCreate(&ctx_.lt), CUBLAS_STATUS_SUCCESS);
    ctx_.workspace_bytes = 32 << 20;
    ASSERT_EQ(cudaMalloc(&ctx_.workspace, ctx_.workspace_bytes), cudaSuccess);
    ctx_.i32_scratch_bytes = cuda::kI8ScratchBytes;
    ASSERT_EQ(cudaMalloc(&ctx_.i32_scratch, ctx_.i32_scratch_bytes), cudaSuccess);
  }
  void TearDown() override {
    if (ctx_.i32_scratch) cudaFree(ctx_.i32_scratch);
    if (ctx_.workspace) cudaFree(ctx_.workspace);
    if (ctx_.lt) cublasLtDestroy(ctx_.lt);
    if (ctx_.stream) cudaStreamDestroy(ctx_.stream);
  }
  void run(const char* op, const AttrMap& a, const std::vector<TensorRef>& in,
           const std::vector<TensorRef>& out) {
    Status s = cuda::run_cuda_kernel(ctx_, op, a, in, out);
    ASSERT_TRUE(s.ok()) << s.to_string();
    ASSERT_EQ(cudaStreamSynchronize(ctx_.stream), cudaSuccess);
  }
  cuda::CudaContext ctx_;
};

std::vector<float> normal(int64_t n, float sd, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, sd);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}
std::vector<int8_t> int8s(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int8_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  return v;
}

// QuantizeI8 f32 and bf16, with and without SmoothQuant, vector and scalar paths.
TEST_F(CudaQuant, QuantizeMatchesCpuBitForBit) {
  for (Shape s : {Shape{4, 64}, Shape{3, 7}, Shape{2, 5, 40}}) {
    for (int zp : {0, -128, 5}) {
      for (bool smooth : {false, true}) {
        for (DType dt : {DType::kFloat32, DType::kBFloat16}) {
          SCOPED_TRACE(shape_str(s) + (smooth ? " smooth " : " ") + dtype_name(dt) + " zp " +
                       std::to_string(zp));
          std::vector<float> x = normal(num_elements(s), 3.f, 7);
          std::vector<uint16_t> xb(x.size());
          for (size_t i = 0; i < x.size(); ++i) {  // bf16 inputs: the CPU sees the same values
            xb[i] = cpu::float_to_bf16_bits(x[i]);
            if (dt == DType::kBFloat16) x[i] = cpu::bf16_bits_to_float(xb[i]);
          }
          x[1] = 1000.f;  // saturates
          xb[1] = cpu::float_to_bf16_bits(1000.f);
          std::vector<float> sm = normal(s.back(), 1.f, 9);
          const AttrMap a = {{"scale", Attr::Float(0.037)}, {"zero_point", Attr::Int(zp)}};
          std::vector<int8_t> want(x.size());
          std::vector<TensorRef> cin = {{DType::kFloat32, s, x.data()}};
          if (smooth) cin.push_back({DType::kFloat32, {s.back()}, sm.data()});
          ASSERT_TRUE(run_cpu_kernel("QuantizeI8", a, cin, {{DType::kInt8, s, want.data()}}).ok());
          Dev d;
          std::vector<TensorRef> gin = {
              d.put(dt, s, dt == DType::kFloat32 ? static_cast<void*>(x.data()) : xb.data())};
          if (smooth) gin.push_back(d.put(DType::kFloat32, {s.back()}, sm.data()));
          const TensorRef y = d.put(DType::kInt8, s, nullptr);
          run("QuantizeI8", a, gin, {y});
          const auto got = get(y);
          EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size()), 0);
        }
      }
    }
  }
}

// QMatMulI8: f32 out equal to the CPU's bit for bit; int8 out (y_scale) too; bf16 out equal to
// the f32 result rounded once.
TEST_F(CudaQuant, QMatMulMatchesCpuBitForBit) {
  struct P {
    int64_t m, n, k;
    int64_t scratch_rows;  // 0: the default scratch; else tiles of this many rows
  };
  for (P p : {P{8, 24, 64, 0}, P{37, 16, 128, 5}, P{6, 10, 6, 0}, P{64, 48, 36, 7}}) {
    for (int variant = 0; variant < 3; ++variant) {  // no bias; bias; bias + zero point
      const bool bias = variant > 0, zp = variant == 2;
      SCOPED_TRACE(std::to_string(p.m) + "x" + std::to_string(p.n) + "x" + std::to_string(p.k) +
                   " variant " + std::to_string(variant));
      const auto x = int8s(p.m * p.k, 3), w = int8s(p.n * p.k, 4);
      std::vector<float> ws = normal(p.n, 0.01f, 5), b = normal(p.n, 1.f, 6);
      for (auto& v : ws) v = std::fabs(v) + 1e-4f;
      const Shape xs = {p.m, p.k}, wsh = {p.n, p.k}, ys = {p.m, p.n};
      AttrMap a = {{"x_scale", Attr::Float(0.02)}};
      // Asymmetric activations: x_zero_point -128 with acc_offset = 128 * sum_k w[n, k].
      std::vector<int32_t> off(static_cast<size_t>(p.n), 0);
      for (int64_t n = 0; n < p.n; ++n)
        for (int64_t k = 0; k < p.k; ++k) off[n] += 128 * w[n * p.k + k];
      if (zp) a["x_zero_point"] = Attr::Int(-128);
      std::vector<float> want(static_cast<size_t>(p.m * p.n));
      std::vector<TensorRef> cin = {{DType::kInt8, xs, (void*)x.data()},
                                    {DType::kInt8, wsh, (void*)w.data()},
                                    {DType::kFloat32, {p.n}, ws.data()}};
      if (bias) cin.push_back({DType::kFloat32, {p.n}, b.data()});
      if (zp) cin.push_back({DType::kInt32, {p.n}, off.data()});
      ASSERT_TRUE(run_cpu_kernel("QMatMulI8", a, cin, {{DType::kFloat32, ys, want.data()}}).ok());
      Dev d;
      std::vector<TensorRef> gin = {d.put(DType::kInt8, xs, x.data()),
                                    d.put(DType::kInt8, wsh, w.data()),
                                    d.put(DType::kFloat32, {p.n}, ws.data())};
      if (bias) gin.push_back(d.put(DType::kFloat32, {p.n}, b.data()));
      if (zp) gin.push_back(d.put(DType::kInt32, {p.n}, off.data()));
      if (p.scratch_rows) ctx_.i32_scratch_bytes = p.scratch_rows * p.n * 4;
      const TensorRef yf = d.put(DType::kFloat32, ys, nullptr);
      run("QMatMulI8", a, gin, {yf});
      auto got = get(yf);
      EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size()), 0) << "f32 out";

      const TensorRef yb = d.put(DType::kBFloat16, ys, nullptr);
      run("QMatMulI8", a, gin, {yb});
      got = get(yb);
      int bad = 0;
      for (size_t i = 0; i < want.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, got.data() + 2 * i, 2);
        bad += h != cpu::float_to_bf16_bits(want[i]);
      }
      EXPECT_EQ(bad, 0) << "bf16 out";

      a["y_scale"] = Attr::Float(0.05);
      std::vector<int8_t> want_q(want.size());
      ASSERT_TRUE(run_cpu_kernel("QMatMulI8", a, cin, {{DType::kInt8, ys, want_q.data()}}).ok());
      const TensorRef yq = d.put(DType::kInt8, ys, nullptr);
      run("QMatMulI8", a, gin, {yq});
      got = get(yq);
      EXPECT_EQ(std::memcmp(got.data(), want_q.data(), got.size()), 0) << "int8 out";
      ctx_.i32_scratch_bytes = cuda::kI8ScratchBytes;
    }
  }
}

// Per-token QuantizeI8 (per_token=1): int8 codes and f32 row scales equal the CPU's byte for
// byte, f32 and bf16 inputs, with and without SmoothQuant, the vector path (K % 8 == 0), the
// plain one, rows longer than one block pass (K = 4104 > 256 threads * 8), an all-zero row
// (scale 1), an infinity (left out of the max, saturates) and a NaN (code 0).
TEST_F(CudaQuant, PerTokenQuantizeMatchesCpuBitForBit) {
  for (Shape s : {Shape{4, 64}, Shape{3, 7}, Shape{2, 5, 40}, Shape{3, 4104}, Shape{1, 1}}) {
    for (bool smooth : {false, true}) {
      for (DType dt : {DType::kFloat32, DType::kBFloat16}) {
        SCOPED_TRACE(shape_str(s) + (smooth ? " smooth " : " ") + dtype_name(dt));
        const int64_t K = s.back(), n = num_elements(s), rows = n / K;
        const Shape rs(s.begin(), s.end() - 1);
        std::vector<float> x = normal(n, 3.f, 7);
        if (rows > 1) {
          for (int64_t k = 0; k < K; ++k) x[K + k] = 0.f;  // row 1: all zeros
          if (K > 2) x[2] = INFINITY, x[1] = std::nanf("");
        }
        std::vector<uint16_t> xb(x.size());
        for (size_t i = 0; i < x.size(); ++i) {  // bf16 inputs: the CPU sees the same values
          xb[i] = cpu::float_to_bf16_bits(x[i]);
          if (dt == DType::kBFloat16) x[i] = cpu::bf16_bits_to_float(xb[i]);
        }
        std::vector<float> sm = normal(K, 1.f, 9);
        const AttrMap a = {{"per_token", Attr::Int(1)}};
        std::vector<int8_t> want(x.size());
        std::vector<float> want_s(static_cast<size_t>(rows));
        std::vector<TensorRef> cin = {{DType::kFloat32, s, x.data()}};
        if (smooth) cin.push_back({DType::kFloat32, {K}, sm.data()});
        ASSERT_TRUE(
            run_cpu_kernel("QuantizeI8", a, cin,
                           {{DType::kInt8, s, want.data()}, {DType::kFloat32, rs, want_s.data()}})
                .ok());
        Dev d;
        std::vector<TensorRef> gin = {
            d.put(dt, s, dt == DType::kFloat32 ? static_cast<void*>(x.data()) : xb.data())};
        if (smooth) gin.push_back(d.put(DType::kFloat32, {K}, sm.data()));
        const TensorRef y = d.put(DType::kInt8, s, nullptr);
        const TensorRef ys = d.put(DType::kFloat32, rs, nullptr);
        run("QuantizeI8", a, gin, {y, ys});
        EXPECT_EQ(std::memcmp(get(y).data(), want.data(), want.size()), 0) << "codes";
        EXPECT_EQ(std::memcmp(get(ys).data(), want_s.data(), want_s.size() * 4), 0) << "scales";
      }
    }
  }
}

// Per-token QMatMulI8 (row scales at input 5): f32 and int8 out equal the CPU's, bf16 the f32
// result rounded once; tiling over M through a small scratch must hand each tile its own rows'
// scales.
TEST_F(CudaQuant, PerTokenQMatMulMatchesCpuBitForBit) {
  struct P {
    int64_t m, n, k, scratch_rows;
  };
  for (P p : {P{8, 24, 64, 0}, P{37, 16, 128, 5}, P{6, 10, 6, 0}, P{64, 48, 36, 7}}) {
    for (bool bias : {false, true}) {
      SCOPED_TRACE(std::to_string(p.m) + "x" + std::to_string(p.n) + "x" + std::to_string(p.k) +
                   (bias ? " bias" : ""));
      const auto x = int8s(p.m * p.k, 3), w = int8s(p.n * p.k, 4);
      std::vector<float> ws = normal(p.n, 0.01f, 5), b = normal(p.n, 1.f, 6);
      std::vector<float> xs = normal(p.m, 0.05f, 10);
      for (auto& v : ws) v = std::fabs(v) + 1e-4f;
      for (auto& v : xs) v = std::fabs(v) + 1e-4f;
      const Shape xsh = {p.m, p.k}, wsh = {p.n, p.k}, ys = {p.m, p.n};
      AttrMap a = {{"per_token", Attr::Int(1)}};
      std::vector<TensorRef> cin = {
          {DType::kInt8, xsh, (void*)x.data()},
          {DType::kInt8, wsh, (void*)w.data()},
          {DType::kFloat32, {p.n}, ws.data()},
          bias ? TensorRef{DType::kFloat32, {p.n}, b.data()} : TensorRef{},
          TensorRef{},
          {DType::kFloat32, {p.m}, xs.data()}};
      std::vector<float> want(static_cast<size_t>(p.m * p.n));
      ASSERT_TRUE(run_cpu_kernel("QMatMulI8", a, cin, {{DType::kFloat32, ys, want.data()}}).ok());
      Dev d;
      std::vector<TensorRef> gin = {d.put(DType::kInt8, xsh, x.data()),
                                    d.put(DType::kInt8, wsh, w.data()),
                                    d.put(DType::kFloat32, {p.n}, ws.data()),
                                    bias ? d.put(DType::kFloat32, {p.n}, b.data()) : TensorRef{},
                                    TensorRef{},
                                    d.put(DType::kFloat32, {p.m}, xs.data())};
      if (p.scratch_rows) ctx_.i32_scratch_bytes = p.scratch_rows * p.n * 4;
      const TensorRef yf = d.put(DType::kFloat32, ys, nullptr);
      run("QMatMulI8", a, gin, {yf});
      auto got = get(yf);
      EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size()), 0) << "f32 out";

      const TensorRef yb = d.put(DType::kBFloat16, ys, nullptr);
      run("QMatMulI8", a, gin, {yb});
      got = get(yb);
      int bad = 0;
      for (size_t i = 0; i < want.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, got.data() + 2 * i, 2);
        bad += h != cpu::float_to_bf16_bits(want[i]);
      }
      EXPECT_EQ(bad, 0) << "bf16 out";

      a["y_scale"] = Attr::Float(0.05);
      std::vector<int8_t> want_q(want.size());
      ASSERT_TRUE(run_cpu_kernel("QMatMulI8", a, cin, {{DType::kInt8, ys, want_q.data()}}).ok());
      const TensorRef yq = d.put(DType::kInt8, ys, nullptr);
      run("QMatMulI8", a, gin, {yq});
      got = get(yq);
      EXPECT_EQ(std::memcmp(got.data(), want_q.data(), got.size()), 0) << "int8 out";
      ctx_.i32_scratch_bytes = cuda::kI8ScratchBytes;
    }
  }
}

// QConvI8: im2row + cuBLASLt's int8 GEMM (K padded to a multiple of 4) + NCHW epilogue against
// the CPU kernel, byte for byte: 1x1, 3x3 stride 1 and 2 with padding, 7x7 stride 2 pad 3 on 3
// channels (K = 147: padded), dilation, groups, odd channel counts; no bias, bias, and the
// static zero-point path (x_zero_point -128 / 17 with acc_offset, padding reading the zero
// point); f32, bf16 (the f32 result rounded once) and int8 (y_scale) outputs; one tile, and
// many tiles through a small scratch (tiles that end mid-image and mid-row, a last tile whose
// position count is not a multiple of 4).
struct ConvCase {
  int64_t b, c, h, w, m, k, stride, pad, dil, group;
  int64_t tile_positions;  // 0: the default scratch; else about this many positions per tile
};

Shape conv_out(const ConvCase& p) {
  const int64_t span = p.dil * (p.k - 1) + 1;
  return {p.b, p.m, (p.h + 2 * p.pad - span) / p.stride + 1,
          (p.w + 2 * p.pad - span) / p.stride + 1};
}

TEST_F(CudaQuant, QConvMatchesCpuBitForBit) {
  const ConvCase cases[] = {
      {2, 16, 7, 7, 24, 1, 1, 0, 1, 1, 0}, {2, 5, 9, 8, 7, 3, 1, 1, 1, 1, 0},
      {3, 5, 9, 8, 7, 3, 2, 1, 1, 1, 13},  {2, 3, 15, 13, 8, 7, 2, 3, 1, 1, 0},
      {1, 6, 8, 8, 4, 3, 1, 1, 1, 2, 0},   {2, 9, 10, 9, 6, 3, 2, 1, 1, 3, 9},
      {1, 4, 11, 11, 5, 3, 1, 2, 2, 1, 0}, {2, 16, 7, 7, 24, 1, 1, 0, 1, 1, 5},
  };
  for (const ConvCase& p : cases) {
    for (int variant = 0; variant < 4; ++variant) {  // no bias; bias; zp -128; bias + zp 17
      const bool bias = variant == 1 || variant == 3;
      const int zp = variant == 2 ? -128 : variant == 3 ? 17 : 0;
      SCOPED_TRACE("C" + std::to_string(p.c) + " M" + std::to_string(p.m) + " k" +
                   std::to_string(p.k) + " s" + std::to_string(p.stride) + " p" +
                   std::to_string(p.pad) + " d" + std::to_string(p.dil) + " g" +
                   std::to_string(p.group) + " tile " + std::to_string(p.tile_positions) +
                   " variant " + std::to_string(variant));
      const int64_t cg = p.c / p.group, kk = cg * p.k * p.k;
      const Shape xs = {p.b, p.c, p.h, p.w}, wsh = {p.m, cg, p.k, p.k}, ys = conv_out(p);
      const auto x = int8s(num_elements(xs), 11), w = int8s(num_elements(wsh), 12);
      std::vector<float> ws = normal(p.m, 0.01f, 13), b = normal(p.m, 1.f, 14);
      for (auto& v : ws) v = std::fabs(v) + 1e-4f;
      std::vector<int32_t> off(static_cast<size_t>(p.m), 0);
      for (int64_t m = 0; m < p.m; ++m)
        for (int64_t k = 0; k < kk; ++k) off[m] -= zp * w[m * kk + k];
      AttrMap a = {{"x_scale", Attr::Float(0.02)},
                   {"strides", Attr::Ints({p.stride, p.stride})},
                   {"pads", Attr::Ints({p.pad, p.pad, p.pad, p.pad})},
                   {"dilations", Attr::Ints({p.dil, p.dil})},
                   {"group", Attr::Int(p.group)}};
      if (zp) a["x_zero_point"] = Attr::Int(zp);
      std::vector<TensorRef> cin = {
          {DType::kInt8, xs, (void*)x.data()},
          {DType::kInt8, wsh, (void*)w.data()},
          {DType::kFloat32, {p.m}, ws.data()},
          bias ? TensorRef{DType::kFloat32, {p.m}, b.data()} : TensorRef{}};
      if (zp) cin.push_back({DType::kInt32, {p.m}, off.data()});
      std::vector<float> want(static_cast<size_t>(num_elements(ys)));
      ASSERT_TRUE(run_cpu_kernel("QConvI8", a, cin, {{DType::kFloat32, ys, want.data()}}).ok());
      Dev d;
      std::vector<TensorRef> gin = {d.put(DType::kInt8, xs, x.data()),
                                    d.put(DType::kInt8, wsh, w.data()),
                                    d.put(DType::kFloat32, {p.m}, ws.data()),
                                    bias ? d.put(DType::kFloat32, {p.m}, b.data()) : TensorRef{}};
      if (zp) gin.push_back(d.put(DType::kInt32, {p.m}, off.data()));
      if (p.tile_positions) {  // QConvI8's scratch: [padded w][rows][int32], 256-aligned parts
        const int64_t kp = (kk + 3) / 4 * 4, mg = p.m / p.group;
        ctx_.i32_scratch_bytes =
            (kp != kk ? (mg * kp + 255) / 256 * 256 : 0) + 512 + p.tile_positions * (kp + 4 * mg);
      }
      const TensorRef yf = d.put(DType::kFloat32, ys, nullptr);
      run("QConvI8", a, gin, {yf});
      auto got = get(yf);
      EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size()), 0) << "f32 out";

      const TensorRef yb = d.put(DType::kBFloat16, ys, nullptr);
      run("QConvI8", a, gin, {yb});
      got = get(yb);
      int bad = 0;
      for (size_t i = 0; i < want.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, got.data() + 2 * i, 2);
        bad += h != cpu::float_to_bf16_bits(want[i]);
      }
      EXPECT_EQ(bad, 0) << "bf16 out";

      a["y_scale"] = Attr::Float(0.05);
      std::vector<int8_t> want_q(want.size());
      ASSERT_TRUE(run_cpu_kernel("QConvI8", a, cin, {{DType::kInt8, ys, want_q.data()}}).ok());
      const TensorRef yq = d.put(DType::kInt8, ys, nullptr);
      run("QConvI8", a, gin, {yq});
      got = get(yq);
      EXPECT_EQ(std::memcmp(got.data(), want_q.data(), got.size()), 0) << "int8 out";
      ctx_.i32_scratch_bytes = cuda::kI8ScratchBytes;
    }
  }
}

// QConvI8's refusals match the CPU kernel's: channels not divisible by the group, a zero point
// without acc_offset, a float weight.
TEST_F(CudaQuant, QConvErrors) {
  Dev d;
  const TensorRef x = d.put(DType::kInt8, {1, 6, 5, 5}, nullptr);
  const TensorRef ws = d.put(DType::kFloat32, {4}, nullptr);
  const TensorRef y = d.put(DType::kFloat32, {1, 4, 3, 3}, nullptr);
  const AttrMap a = {{"x_scale", Attr::Float(0.1)}};
  Status s = cuda::run_cuda_kernel(ctx_, "QConvI8", a,
                                   {x, d.put(DType::kInt8, {4, 4, 3, 3}, nullptr), ws}, {y});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("channels"), std::string::npos) << s.message();
  AttrMap az = a;
  az["x_zero_point"] = Attr::Int(-128);
  s = cuda::run_cuda_kernel(ctx_, "QConvI8", az,
                            {x, d.put(DType::kInt8, {4, 6, 3, 3}, nullptr), ws}, {y});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("acc_offset"), std::string::npos) << s.message();
  s = cuda::run_cuda_kernel(ctx_, "QConvI8", a,
                            {x, d.put(DType::kFloat32, {4, 6, 3, 3}, nullptr), ws}, {y});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("int8"), std::string::npos) << s.message();
}

TEST_F(CudaQuant, DequantizeAndErrors) {
  const auto x = int8s(100, 8);
  const AttrMap a = {{"scale", Attr::Float(0.125)}};
  std::vector<float> want(100);
  ASSERT_TRUE(run_cpu_kernel("DequantizeI8", a, {{DType::kInt8, {100}, (void*)x.data()}},
                             {{DType::kFloat32, {100}, want.data()}})
                  .ok());
  Dev d;
  const TensorRef xin = d.put(DType::kInt8, {100}, x.data());
  const TensorRef y = d.put(DType::kFloat32, {100}, nullptr);
  run("DequantizeI8", a, {xin}, {y});
  EXPECT_EQ(std::memcmp(get(y).data(), want.data(), 400), 0);
  // A wrong scale or a non-int8 weight is a clear error, not a launch.
  Status s = cuda::run_cuda_kernel(ctx_, "DequantizeI8", {}, {xin}, {y});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("scale"), std::string::npos) << s.message();
  const TensorRef wf = d.put(DType::kFloat32, {4, 100}, nullptr);
  s = cuda::run_cuda_kernel(
      ctx_, "QMatMulI8", {{"x_scale", Attr::Float(1)}},
      {d.put(DType::kInt8, {2, 100}, nullptr), wf, d.put(DType::kFloat32, {4}, nullptr)},
      {d.put(DType::kFloat32, {2, 4}, nullptr)});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("int8"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace tessera::kernels
