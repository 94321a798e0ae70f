// The fused BatchNorm training ops (kernels/cpu/train_batchnorm.cpp) against float64 formulas
// written here: statistics, normalisation, running update, and the backward pair checked
// against the closed-form gradient of sum(y * R); sums of batch halves add up to the whole
// batch's (what a data-parallel split relies on); 16-bit x through run_cpu_kernel; bad operands.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/cpu/cpu_kernels.h"

namespace tessera::kernels {
namespace {

constexpr int64_t N = 4, C = 3, S = 5, kCount = N * S;
std::vector<double> rnd(size_t n, uint32_t seed, double lo, double hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}
TensorRef ref(std::vector<double>& v, Shape s) { return {DType::kFloat64, std::move(s), v.data()}; }
Status run(const char* op, const AttrMap& a, std::vector<TensorRef> in,
           std::vector<TensorRef> out) {
  return run_cpu_kernel(op, a, in, out);
}
const AttrMap kAttrs = {{"count", Attr::Float(double(kCount))}, {"epsilon", Attr::Float(1e-3)}};

TEST(BatchNormKernels, ForwardBackwardAndRunningUpdateMatchFloat64Formulas) {
  std::vector<double> x = rnd(N * C * S, 1, -2, 3), dy = rnd(N * C * S, 2, -1, 1);
  std::vector<double> scale = {0.7, 1.3, -0.4}, bias = {0.1, -0.2, 0.3}, sum(C), ss(C);
  const Shape xs = {N, C, S, 1}, cs = {C};
  ASSERT_TRUE(run("BatchNormStats", {}, {ref(x, xs)}, {ref(sum, cs), ref(ss, cs)}).ok());
  std::vector<double> y(x.size()), sdy(C), sdyx(C), dx(x.size());
  ASSERT_TRUE(run("BatchNormApply", kAttrs,
                  {ref(x, xs), ref(sum, cs), ref(ss, cs), ref(scale, cs), ref(bias, cs)},
                  {ref(y, xs)})
                  .ok());
  ASSERT_TRUE(run("BatchNormGradStats", kAttrs,
                  {ref(dy, xs), ref(x, xs), ref(sum, cs), ref(ss, cs)},
                  {ref(sdy, cs), ref(sdyx, cs)})
                  .ok());
  ASSERT_TRUE(run("BatchNormGradInput", kAttrs,
                  {ref(dy, xs), ref(x, xs), ref(sum, cs), ref(ss, cs), ref(scale, cs), ref(sdy, cs),
                   ref(sdyx, cs)},
                  {ref(dx, xs)})
                  .ok());
  std::vector<double> rm = {0.5, -0.5, 0}, rv = {2, 0.5, 1}, rm2(C), rv2(C);
  ASSERT_TRUE(run("BatchNormRunningUpdate",
                  {{"count", Attr::Float(double(kCount))}, {"momentum", Attr::Float(0.8)}},
                  {ref(rm, cs), ref(rv, cs), ref(sum, cs), ref(ss, cs)},
                  {ref(rm2, cs), ref(rv2, cs)})
                  .ok());
  auto at = [](int64_t n, int64_t c, int64_t s) { return (n * C + c) * S + s; };
  for (int64_t c = 0; c < C; ++c) {
    double m = 0, v = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) m += x[at(n, c, s)];
    m /= kCount;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) v += std::pow(x[at(n, c, s)] - m, 2);
    v /= kCount;
    const double inv = 1 / std::sqrt(v + 1e-3);
    EXPECT_NEAR(sum[c], m * kCount, 1e-12);
    EXPECT_NEAR(rm2[c], rm[c] * 0.8 + m * 0.2, 1e-12);
    EXPECT_NEAR(rv2[c], rv[c] * 0.8 + v * kCount / (kCount - 1) * 0.2, 1e-12);
    // d/dx of sum(y * dy): scale·inv·(dy − mean(dy) − x̂·mean(dy·x̂)).
    double mdy = 0, mdyx = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t e = at(n, c, s);
        const double xh = (x[e] - m) * inv;
        EXPECT_NEAR(y[e], xh * scale[c] + bias[c], 1e-12);
        mdy += dy[e] / kCount, mdyx += dy[e] * xh / kCount;
      }
    EXPECT_NEAR(sdy[c], mdy * kCount, 1e-12);    // dbias
    EXPECT_NEAR(sdyx[c], mdyx * kCount, 1e-12);  // dscale
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t e = at(n, c, s);
        const double xh = (x[e] - m) * inv;
        EXPECT_NEAR(dx[e], scale[c] * inv * (dy[e] - mdy - xh * mdyx), 1e-12);
      }
  }
}

// Data parallel: each half of the batch sums its own rows; the halves add up to the whole.
TEST(BatchNormKernels, BatchHalvesSumToTheWhole) {
  std::vector<double> x = rnd(N * C * S, 3, -1, 1), dy = rnd(N * C * S, 4, -1, 1);
  const Shape xs = {N, C, S}, hs = {N / 2, C, S}, cs = {C};
  std::vector<double> sum(C), ss(C), sdy(C), sdyx(C);
  ASSERT_TRUE(run("BatchNormStats", {}, {ref(x, xs)}, {ref(sum, cs), ref(ss, cs)}).ok());
  ASSERT_TRUE(run("BatchNormGradStats", kAttrs,
                  {ref(dy, xs), ref(x, xs), ref(sum, cs), ref(ss, cs)},
                  {ref(sdy, cs), ref(sdyx, cs)})
                  .ok());
  std::vector<double> a(C, 0), b(C, 0), c2(C, 0), d(C, 0);
  for (int h = 0; h < 2; ++h) {
    std::vector<double> xh(x.begin() + h * x.size() / 2, x.begin() + (h + 1) * x.size() / 2);
    std::vector<double> dh(dy.begin() + h * dy.size() / 2, dy.begin() + (h + 1) * dy.size() / 2);
    std::vector<double> p(C), q(C), r(C), t(C);
    ASSERT_TRUE(run("BatchNormStats", {}, {ref(xh, hs)}, {ref(p, cs), ref(q, cs)}).ok());
    ASSERT_TRUE(run("BatchNormGradStats", kAttrs,
                    {ref(dh, hs), ref(xh, hs), ref(sum, cs), ref(ss, cs)}, {ref(r, cs), ref(t, cs)})
                    .ok());
    for (int64_t k = 0; k < C; ++k) a[k] += p[k], b[k] += q[k], c2[k] += r[k], d[k] += t[k];
  }
  for (int64_t k = 0; k < C; ++k) {
    EXPECT_NEAR(a[k], sum[k], 1e-12);
    EXPECT_NEAR(b[k], ss[k], 1e-12);
    EXPECT_NEAR(c2[k], sdy[k], 1e-12);
    EXPECT_NEAR(d[k], sdyx[k], 1e-12);
  }
}

// bf16 x with f32 sums: widened by run_cpu_kernel, y rounded back to bf16.
TEST(BatchNormKernels, Bf16XWithF32Statistics) {
  std::vector<uint16_t> x = {0x3f80, 0x4000, 0x4040,
                             0x4080};  // 1 2 3 4 as [2, 2]: channel 0 = 1, 3
  std::vector<float> sum(2), ss(2), one = {1, 1}, zero = {0, 0};
  std::vector<uint16_t> y(4);
  const Shape xs = {2, 2}, cs = {2};
  ASSERT_TRUE(run_cpu_kernel("BatchNormStats", {}, {{DType::kBFloat16, xs, x.data()}},
                             {{DType::kFloat32, cs, sum.data()}, {DType::kFloat32, cs, ss.data()}})
                  .ok());
  EXPECT_EQ(sum, (std::vector<float>{4, 6}));
  EXPECT_EQ(ss, (std::vector<float>{10, 20}));
  const AttrMap a = {{"count", Attr::Float(2)}, {"epsilon", Attr::Float(0)}};
  ASSERT_TRUE(run_cpu_kernel("BatchNormApply", a,
                             {{DType::kBFloat16, xs, x.data()},
                              {DType::kFloat32, cs, sum.data()},
                              {DType::kFloat32, cs, ss.data()},
                              {DType::kFloat32, cs, one.data()},
                              {DType::kFloat32, cs, zero.data()}},
                             {{DType::kBFloat16, xs, y.data()}})
                  .ok());
  EXPECT_EQ(y, (std::vector<uint16_t>{0xbf80, 0xbf80, 0x3f80, 0x3f80}));  // -1 -1 1 1
}

TEST(BatchNormKernels, RejectsBadOperands) {
  std::vector<double> x(24), v3(3), v4(4);
  const Shape xs = {2, 3, 4};
  EXPECT_FALSE(run("BatchNormStats", {}, {ref(x, {24})}, {ref(v3, {3}), ref(v3, {3})}).ok());
  EXPECT_FALSE(run("BatchNormStats", {}, {ref(x, xs)}, {ref(v4, {4}), ref(v4, {4})}).ok());
  EXPECT_FALSE(run("BatchNormApply", {},
                   {ref(x, xs), ref(v3, {3}), ref(v3, {3}), ref(v3, {3}), ref(v3, {3})},
                   {ref(x, xs)})
                   .ok());  // no count
}

}  // namespace
}  // namespace tessera::kernels
