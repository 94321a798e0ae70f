// Quantized CPU kernels against the plain-loop references (kernels/cpu/quant_ref.cpp) and the
// reference quantizer: every output must be bit-identical (memcmp), not merely close.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "cpu/quant_kernels.h"

namespace tessera::kernels {
namespace {

using quant::quantize_value;

std::vector<int8_t> random_i8(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}
std::vector<float> random_f(size_t n, std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
template <class T>
TensorRef ref(DType t, Shape s, std::vector<T>& v) {
  return TensorRef{t, std::move(s), v.data()};
}

TEST(QuantKernels, ReferenceQuantizerRoundsHalfToEvenAndSaturates) {
  EXPECT_EQ(quantize_value(0.5f, 1.0f), 0);
  EXPECT_EQ(quantize_value(1.5f, 1.0f), 2);
  EXPECT_EQ(quantize_value(2.5f, 1.0f), 2);
  EXPECT_EQ(quantize_value(-2.5f, 1.0f), -2);
  EXPECT_EQ(quantize_value(-0.49f, 1.0f), 0);
  EXPECT_EQ(quantize_value(1000.0f, 1.0f), 127);
  EXPECT_EQ(quantize_value(-1000.0f, 1.0f), -127);  // never -128: symmetric
  EXPECT_EQ(quantize_value(std::nanf(""), 1.0f), 0);
  EXPECT_EQ(quantize_value(INFINITY, 0.1f), 127);
  EXPECT_EQ(quantize_value(0.3f, 0.1f), 3);
}

TEST(QuantKernels, ReferenceQuantizerWithZeroPointUsesAll256Levels) {
  EXPECT_EQ(quantize_value(0.0f, 0.1f, -128), -128);   // 0.0 is the zero point itself
  EXPECT_EQ(quantize_value(25.5f, 0.1f, -128), 127);   // 255 levels above it
  EXPECT_EQ(quantize_value(-1.0f, 0.1f, -128), -128);  // below the range: saturates
  EXPECT_EQ(quantize_value(1000.0f, 0.1f, -128), 127);
  EXPECT_EQ(quantize_value(-1000.0f, 0.1f, -5), -128);  // -128 is a valid code with zp != 0
  EXPECT_EQ(quantize_value(0.25f, 0.1f, -100), -98);    // round(2.5) = 2, half to even
  EXPECT_EQ(quantize_value(std::nanf(""), 0.1f, -128), -128);
  EXPECT_EQ(quantize_value(-1000.0f, 0.1f, 0), -127);  // zp 0 stays symmetric
}

// acc_offset for zero point zp: -zp * sum_k w[n,k] (what the quantize pass precomputes).
std::vector<int32_t> zp_offsets(const std::vector<int8_t>& w, int64_t N, int32_t zp) {
  const int64_t K = static_cast<int64_t>(w.size()) / N;
  std::vector<int32_t> o(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    int32_t s = 0;
    for (int64_t k = 0; k < K; ++k) s += w[n * K + k];
    o[n] = -zp * s;
  }
  return o;
}

TEST(QuantKernels, TableSortedAndReachableThroughFindCpuKernel) {
  const auto& t = cpu_quant_kernel_table();
  EXPECT_TRUE(std::is_sorted(t.begin(), t.end(), [](const KernelEntry& a, const KernelEntry& b) {
    return std::string_view(a.op) < std::string_view(b.op);
  }));
  for (const auto& e : t) EXPECT_EQ(find_cpu_kernel(e.op), e.fn) << e.op;
}

TEST(QuantKernels, QuantizeAndDequantizeMatchReference) {
  std::mt19937 rng(1);
  auto x = random_f(4 * 8, rng, -3, 3);
  auto s = random_f(8, rng, 0.5f, 2);
  std::vector<int8_t> q(x.size()), qs(x.size());
  AttrMap a{{"scale", Attr::Float(0.02)}};
  ASSERT_TRUE(run_cpu_kernel("QuantizeI8", a, {ref(DType::kFloat32, {4, 8}, x)},
                             {ref(DType::kInt8, {4, 8}, q)})
                  .ok());
  ASSERT_TRUE(run_cpu_kernel("QuantizeI8", a,
                             {ref(DType::kFloat32, {4, 8}, x), ref(DType::kFloat32, {8}, s)},
                             {ref(DType::kInt8, {4, 8}, qs)})
                  .ok());
  std::vector<float> d(x.size());
  ASSERT_TRUE(run_cpu_kernel("DequantizeI8", a, {ref(DType::kInt8, {4, 8}, q)},
                             {ref(DType::kFloat32, {4, 8}, d)})
                  .ok());
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(q[i], quantize_value(x[i], 0.02f));
    EXPECT_EQ(qs[i], quantize_value(x[i] * s[i % 8], 0.02f));
    EXPECT_EQ(d[i], static_cast<float>(q[i]) * 0.02f);
  }
  a["zero_point"] = Attr::Int(-37);
  ASSERT_TRUE(run_cpu_kernel("QuantizeI8", a,
                             {ref(DType::kFloat32, {4, 8}, x), ref(DType::kFloat32, {8}, s)},
                             {ref(DType::kInt8, {4, 8}, qs)})
                  .ok());
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_EQ(qs[i], quantize_value(x[i] * s[i % 8], 0.02f, -37));
  a["zero_point"] = Attr::Int(128);
  EXPECT_FALSE(run_cpu_kernel("QuantizeI8", a, {ref(DType::kFloat32, {4, 8}, x)},
                              {ref(DType::kInt8, {4, 8}, q)})
                   .ok());
}

// Per-token QuantizeI8: codes and row scales bit-identical to quantize_rows_ref, which states
// the rule independently (isfinite, the division inline); rows of every kind: ordinary, all
// zeros (scale 1), an infinity (left out of the max, saturates to 127), a NaN (code 0), a
// subnormal-only row whose amax / 127 underflows to 0 (scale 1), smoothing on and off, rank 3.
TEST(QuantKernels, PerTokenQuantizeMatchesReference) {
  std::mt19937 rng(3);
  for (bool smooth : {false, true}) {
    const Shape xs = {2, 3, 40};
    const int64_t K = 40, M = 6;
    auto x = random_f(M * K, rng, -4, 4);
    auto s = random_f(K, rng, 0.5f, 2);
    for (int64_t k = 0; k < K; ++k) x[1 * K + k] = 0.0f;
    x[2 * K + 5] = INFINITY;
    x[3 * K + 7] = std::nanf("");
    for (int64_t k = 0; k < K; ++k) x[4 * K + k] = k % 2 ? 1e-44f : -1e-44f;
    std::vector<int8_t> q(x.size()), rq(x.size());
    std::vector<float> sc(M), rsc(M);
    std::vector<TensorRef> in = {ref(DType::kFloat32, xs, x)};
    if (smooth) in.push_back(ref(DType::kFloat32, {K}, s));
    const AttrMap a{{"per_token", Attr::Int(1)}};
    Status st = run_cpu_kernel("QuantizeI8", a, in,
                               {ref(DType::kInt8, xs, q), ref(DType::kFloat32, {2, 3}, sc)});
    ASSERT_TRUE(st.ok()) << st.message();
    quant::quantize_rows_ref(x.data(), smooth ? s.data() : nullptr, M, K, rq.data(), rsc.data());
    EXPECT_EQ(std::memcmp(q.data(), rq.data(), q.size()), 0) << smooth;
    EXPECT_EQ(std::memcmp(sc.data(), rsc.data(), sc.size() * 4), 0) << smooth;
    EXPECT_EQ(sc[1], 1.0f);
    EXPECT_EQ(sc[4], 1.0f);
    EXPECT_EQ(q[2 * K + 5], 127);
    EXPECT_EQ(q[3 * K + 7], 0);
    // Each ordinary row reaches +-127 at its abs-max: the full int8 range per token.
    const int8_t* row0 = q.data();
    int peak = 0;
    for (int64_t k = 0; k < K; ++k) peak = std::max(peak, std::abs(int{row0[k]}));
    EXPECT_EQ(peak, 127);
  }
}

TEST(QuantKernels, PerTokenQuantizeRejectsBadForms) {
  std::vector<float> x(8);
  std::vector<int8_t> q(8);
  std::vector<float> sc(2);
  const AttrMap a{{"per_token", Attr::Int(1)}};
  // No row-scales output; a wrong row-scales shape; a zero point.
  EXPECT_FALSE(run_cpu_kernel("QuantizeI8", a, {ref(DType::kFloat32, {2, 4}, x)},
                              {ref(DType::kInt8, {2, 4}, q)})
                   .ok());
  EXPECT_FALSE(run_cpu_kernel("QuantizeI8", a, {ref(DType::kFloat32, {2, 4}, x)},
                              {ref(DType::kInt8, {2, 4}, q), ref(DType::kFloat32, {2, 1}, sc)})
                   .ok());
  AttrMap z = a;
  z["zero_point"] = Attr::Int(-128);
  EXPECT_FALSE(run_cpu_kernel("QuantizeI8", z, {ref(DType::kFloat32, {2, 4}, x)},
                              {ref(DType::kInt8, {2, 4}, q), ref(DType::kFloat32, {2}, sc)})
                   .ok());
  EXPECT_TRUE(run_cpu_kernel("QuantizeI8", a, {ref(DType::kFloat32, {2, 4}, x)},
                             {ref(DType::kInt8, {2, 4}, q), ref(DType::kFloat32, {2}, sc)})
                  .ok());
}

struct MatCase {
  Shape x;  // [..., K]
  int64_t N;
  bool bias, requant;
  int32_t zp = 0;      // x_zero_point; != 0 adds acc_offset = -zp * sum w
  bool token = false;  // per_token: row scales [M] at input 5 instead of x_scale
};

class QMatMul : public ::testing::TestWithParam<MatCase> {};

TEST_P(QMatMul, BitExactAgainstReference) {
  const MatCase c = GetParam();
  std::mt19937 rng(42);
  const int64_t K = c.x.back(), M = num_elements(c.x) / K, N = c.N;
  auto x = random_i8(M * K, rng);
  auto w = random_i8(N * K, rng);
  x[0] = -128;  // the kernels accept the full int8 range even though quantizers never emit -128
  auto ws = random_f(N, rng, 1e-3f, 1e-2f);
  auto b = random_f(N, rng, -1, 1);
  auto xs = random_f(M, rng, 1e-3f, 1e-1f);
  AttrMap a{{"x_scale", Attr::Float(0.05)}};
  if (c.token) a = {{"per_token", Attr::Int(1)}};
  if (c.requant) a["y_scale"] = Attr::Float(0.25);
  Shape ys(c.x.begin(), c.x.end() - 1);
  ys.push_back(N);
  std::vector<TensorRef> in = {ref(DType::kInt8, c.x, x), ref(DType::kInt8, {N, K}, w),
                               ref(DType::kFloat32, {N}, ws)};
  std::vector<int32_t> off = zp_offsets(w, N, c.zp);
  if (c.bias || c.zp != 0)  // an absent bias before acc_offset is an undefined TensorRef
    in.push_back(c.bias ? ref(DType::kFloat32, {N}, b) : TensorRef{});
  if (c.zp != 0) {
    a["x_zero_point"] = Attr::Int(c.zp);
    in.push_back(ref(DType::kInt32, {N}, off));
  }
  if (c.token) {
    in.resize(5);
    in.push_back(ref(DType::kFloat32, Shape(c.x.begin(), c.x.end() - 1), xs));
  }
  std::vector<float> yf(M * N), rf(M * N);
  std::vector<int8_t> yq(M * N), rq(M * N);
  TensorRef out = c.requant ? ref(DType::kInt8, ys, yq) : ref(DType::kFloat32, ys, yf);
  Status st = run_cpu_kernel("QMatMulI8", a, in, {out});
  ASSERT_TRUE(st.ok()) << st.message();
  quant::qmatmul_ref(x.data(), w.data(), ws.data(), c.bias ? b.data() : nullptr,
                     c.zp != 0 ? off.data() : nullptr, M, N, K, 0.05f,
                     c.token ? xs.data() : nullptr, c.requant ? 0.25f : 0.0f, rf.data(), rq.data());
  if (c.requant)
    EXPECT_EQ(std::memcmp(yq.data(), rq.data(), yq.size()), 0);
  else
    EXPECT_EQ(std::memcmp(yf.data(), rf.data(), yf.size() * 4), 0);
  // The int32 accumulator is exact: against a double evaluation of the dequantized product,
  // (x - zp) * w with the zero point removed directly instead of through acc_offset.
  if (!c.requant && !c.bias) {
    double acc = 0;
    for (int64_t k = 0; k < K; ++k) acc += (double(x[k]) - c.zp) * double(w[k]);
    EXPECT_EQ(yf[0], static_cast<float>(acc) * ((c.token ? xs[0] : 0.05f) * ws[0]));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, QMatMul,
    ::testing::Values(MatCase{{4, 16}, 8, true, false}, MatCase{{2, 3, 64}, 33, false, false},
                      MatCase{{5, 100}, 7, true, true}, MatCase{{1, 4096}, 3, false, true},
                      MatCase{{3, 1}, 1, true, false}, MatCase{{4, 16}, 8, true, false, -128},
                      MatCase{{2, 3, 64}, 33, false, false, -128},
                      MatCase{{5, 100}, 7, true, true, -77}, MatCase{{1, 4096}, 3, false, false, 5},
                      MatCase{{4, 16}, 8, true, false, 0, true},
                      MatCase{{2, 3, 64}, 33, false, false, 0, true},
                      MatCase{{5, 100}, 7, true, true, 0, true},
                      MatCase{{1, 4096}, 3, false, false, 0, true}));

// per_token QMatMulI8: the row scales are required, shaped like x's rows, f32, and exclude a
// zero point (per-token grids are symmetric).
TEST(QuantKernels, PerTokenQMatMulRejectsBadScales) {
  std::vector<int8_t> x(8), w(8);
  std::vector<float> ws(2), y(4), rs(2);
  std::vector<int32_t> off(2);
  AttrMap a{{"per_token", Attr::Int(1)}};
  std::vector<TensorRef> in = {ref(DType::kInt8, {2, 4}, x), ref(DType::kInt8, {2, 4}, w),
                               ref(DType::kFloat32, {2}, ws)};
  const TensorRef out = ref(DType::kFloat32, {2, 2}, y);
  EXPECT_FALSE(run_cpu_kernel("QMatMulI8", a, in, {out}).ok());  // no row scales
  in.resize(5);
  in.push_back(ref(DType::kFloat32, {2, 1}, rs));
  EXPECT_FALSE(run_cpu_kernel("QMatMulI8", a, in, {out}).ok());  // [2,1], not [2]
  in[5].shape = {2};
  EXPECT_TRUE(run_cpu_kernel("QMatMulI8", a, in, {out}).ok());
  in[5].dtype = DType::kInt32;
  EXPECT_FALSE(run_cpu_kernel("QMatMulI8", a, in, {out}).ok());
  in[5].dtype = DType::kFloat32;
  in[4] = ref(DType::kInt32, {2}, off);
  a["x_zero_point"] = Attr::Int(-128);
  EXPECT_FALSE(run_cpu_kernel("QMatMulI8", a, in, {out}).ok());
}

TEST(QuantKernels, QMatMulRejectsMismatchedScalesAndMissingAttrs) {
  std::vector<int8_t> x(8), w(8), y8(4);
  std::vector<float> ws(2), y(4);
  std::vector<TensorRef> in = {ref(DType::kInt8, {2, 4}, x), ref(DType::kInt8, {2, 4}, w),
                               ref(DType::kFloat32, {2}, ws)};
  EXPECT_FALSE(run_cpu_kernel("QMatMulI8", {}, in, {ref(DType::kFloat32, {2, 2}, y)}).ok());
  AttrMap a{{"x_scale", Attr::Float(1)}, {"y_scale", Attr::Float(1)}};
  EXPECT_FALSE(run_cpu_kernel("QMatMulI8", a, in, {ref(DType::kFloat32, {2, 2}, y)}).ok());
  EXPECT_TRUE(run_cpu_kernel("QMatMulI8", a, in, {ref(DType::kInt8, {2, 2}, y8)}).ok());
  in[2].shape = {3};
  EXPECT_FALSE(run_cpu_kernel("QMatMulI8", a, in, {ref(DType::kInt8, {2, 2}, y8)}).ok());
  in[2].shape = {2};
  a["x_zero_point"] = Attr::Int(-128);  // a zero point without its acc_offset
  EXPECT_FALSE(run_cpu_kernel("QMatMulI8", a, in, {ref(DType::kInt8, {2, 2}, y8)}).ok());
  std::vector<int32_t> off(2);
  in.push_back(TensorRef{});
  in.push_back(ref(DType::kInt32, {2}, off));
  EXPECT_TRUE(run_cpu_kernel("QMatMulI8", a, in, {ref(DType::kInt8, {2, 2}, y8)}).ok());
  in[4].dtype = DType::kFloat32;
  EXPECT_FALSE(run_cpu_kernel("QMatMulI8", a, in, {ref(DType::kInt8, {2, 2}, y8)}).ok());
}

struct ConvCase {
  int64_t B, C, H, W, M, kh, kw, group, stride, pad, dil;
  bool bias, requant;
  int32_t zp = 0;  // x_zero_point: padding reads it, acc_offset cancels it
};

class QConv : public ::testing::TestWithParam<ConvCase> {};

TEST_P(QConv, BitExactAgainstReference) {
  const ConvCase c = GetParam();
  std::mt19937 rng(7);
  quant::ConvGeom g{c.B, c.C,     c.H,      c.W,      c.M,   c.kh,  c.kw,  0,
                    0,   c.group, c.stride, c.stride, c.dil, c.dil, c.pad, c.pad};
  g.OH = (c.H + 2 * c.pad - (c.kh - 1) * c.dil - 1) / c.stride + 1;
  g.OW = (c.W + 2 * c.pad - (c.kw - 1) * c.dil - 1) / c.stride + 1;
  auto x = random_i8(c.B * c.C * c.H * c.W, rng);
  auto w = random_i8(c.M * (c.C / c.group) * c.kh * c.kw, rng);
  auto ws = random_f(c.M, rng, 1e-3f, 1e-2f);
  auto b = random_f(c.M, rng, -1, 1);
  AttrMap a{{"x_scale", Attr::Float(0.03)},
            {"strides", Attr::Ints({c.stride, c.stride})},
            {"pads", Attr::Ints({c.pad, c.pad, c.pad, c.pad})},
            {"dilations", Attr::Ints({c.dil, c.dil})},
            {"group", Attr::Int(c.group)}};
  if (c.requant) a["y_scale"] = Attr::Float(0.5);
  const Shape ys = {c.B, c.M, g.OH, g.OW};
  const int64_t n = num_elements(ys);
  std::vector<TensorRef> in = {ref(DType::kInt8, {c.B, c.C, c.H, c.W}, x),
                               ref(DType::kInt8, {c.M, c.C / c.group, c.kh, c.kw}, w),
                               ref(DType::kFloat32, {c.M}, ws)};
  std::vector<int32_t> off = zp_offsets(w, c.M, c.zp);
  if (c.bias || c.zp != 0) in.push_back(c.bias ? ref(DType::kFloat32, {c.M}, b) : TensorRef{});
  if (c.zp != 0) {
    a["x_zero_point"] = Attr::Int(c.zp);
    in.push_back(ref(DType::kInt32, {c.M}, off));
  }
  std::vector<float> yf(n), rf(n);
  std::vector<int8_t> yq(n), rq(n);
  TensorRef out = c.requant ? ref(DType::kInt8, ys, yq) : ref(DType::kFloat32, ys, yf);
  Status st = run_cpu_kernel("QConvI8", a, in, {out});
  ASSERT_TRUE(st.ok()) << st.message();
  quant::qconv_ref(x.data(), w.data(), ws.data(), c.bias ? b.data() : nullptr,
                   c.zp != 0 ? off.data() : nullptr, c.zp, g, 0.03f, c.requant ? 0.5f : 0.0f,
                   rf.data(), rq.data());
  if (c.requant)
    EXPECT_EQ(std::memcmp(yq.data(), rq.data(), n), 0);
  else
    EXPECT_EQ(std::memcmp(yf.data(), rf.data(), n * 4), 0);
  // Output (0, 0, 0, 0) touches the top-left padding when pad > 0: padded taps contribute
  // exactly nothing, inside taps (x - zp) * w, evaluated directly in double.
  if (!c.requant && !c.bias && c.group == 1) {
    double acc = 0;
    for (int64_t ci = 0; ci < c.C; ++ci)
      for (int64_t i = 0; i < c.kh; ++i)
        for (int64_t j = 0; j < c.kw; ++j) {
          const int64_t ih = i * c.dil - c.pad, iw = j * c.dil - c.pad;
          if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
          acc += (double(x[(ci * c.H + ih) * c.W + iw]) - c.zp) *
                 double(w[(ci * c.kh + i) * c.kw + j]);
        }
    EXPECT_EQ(yf[0], static_cast<float>(acc) * (0.03f * ws[0]));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, QConv,
    ::testing::Values(ConvCase{2, 3, 9, 9, 4, 3, 3, 1, 1, 1, 1, true, false},
                      ConvCase{1, 8, 8, 8, 6, 3, 3, 2, 2, 1, 1, false, false},
                      ConvCase{2, 4, 7, 7, 4, 3, 3, 4, 1, 2, 2, true, true},
                      ConvCase{1, 16, 4, 4, 8, 1, 1, 1, 1, 0, 1, true, false},
                      ConvCase{1, 3, 11, 11, 5, 7, 7, 1, 2, 3, 1, true, true},
                      ConvCase{2, 3, 9, 9, 4, 3, 3, 1, 1, 1, 1, false, false, -128},
                      ConvCase{1, 8, 8, 8, 6, 3, 3, 2, 2, 1, 1, true, false, -128},
                      ConvCase{2, 4, 7, 7, 4, 3, 3, 4, 1, 2, 2, true, true, -90},
                      ConvCase{1, 3, 11, 11, 5, 7, 7, 1, 2, 3, 1, false, false, 17}));

}  // namespace
}  // namespace tessera::kernels
