// Bias correction core (passes/core/bias_correction.h): the mean shift computed from per-index
// input means equals the mean, over every output position, of the difference between the
// fake-quantized and the float layer, evaluated directly (MatMul and a padded, strided Conv).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "passes/core/bias_correction.h"

namespace tessera::core {
namespace {

std::vector<float> uniform(size_t n, unsigned seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(BiasCorrection, FakeQuantMatchesTheKernelQuantizer) {
  FakeQuant fq{0.1f, -128, nullptr};
  EXPECT_DOUBLE_EQ(fq.apply(0.0f, 0), 0.0);
  EXPECT_NEAR(fq.apply(0.26f, 0), 0.3, 1e-6);    // round(2.6) = 3
  EXPECT_NEAR(fq.apply(-1.0f, 0), 0.0, 1e-9);    // below the range: the code of 0
  EXPECT_NEAR(fq.apply(100.0f, 0), 25.5, 1e-5);  // saturates at 127 - (-128) = 255 steps
  FakeQuant sym{0.1f, 0, nullptr};
  EXPECT_NEAR(sym.apply(-100.0f, 0), -12.7, 1e-5);  // symmetric: [-127, 127]
}

TEST(BiasCorrection, MatMulShiftIsTheMeanOutputDifference) {
  const int64_t R = 50, K = 8, N = 5;
  auto x = uniform(R * K, 1, 0, 3);  // one-sided, like a post-ReLU input
  auto w = uniform(N * K, 2, -1, 1);
  std::vector<float> wq(w.size());
  for (size_t i = 0; i < w.size(); ++i) wq[i] = std::nearbyint(w[i] * 20) / 20;
  auto smooth = uniform(K, 3, 0.5f, 2);
  FakeQuant fq{0.05f, -128, smooth.data()};
  InputMeans m(K);
  add_matmul_means(x.data(), R / 2, K, fq, &m);  // two batches add up
  add_matmul_means(x.data() + R / 2 * K, R - R / 2, K, fq, &m);
  const std::vector<double> d = mean_shift(m, w, wq, N, K, 1);
  for (int64_t n = 0; n < N; ++n) {
    double s = 0;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t k = 0; k < K; ++k) {
        const float xs = x[r * K + k] * smooth[k];
        s += fq.apply(x[r * K + k], k) * wq[n * K + k] - double(xs) * w[n * K + k];
      }
    EXPECT_NEAR(d[n], s / R, 1e-9) << n;
  }
}

TEST(BiasCorrection, ConvShiftCountsPaddedTapsAsZero) {
  const ConvTaps t{2, 3, 5, 5, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1};  // 5x5 -> 3x3, stride 2, pad 1
  const int64_t M = 4, K = t.C * t.kh * t.kw;
  auto x = uniform(t.B * t.C * t.H * t.W, 4, 0, 2);
  auto w = uniform(M * K, 5, -1, 1);
  std::vector<float> wq(w.size());
  for (size_t i = 0; i < w.size(); ++i) wq[i] = std::nearbyint(w[i] * 10) / 10;
  FakeQuant fq{0.03f, -128, nullptr};
  InputMeans m(K);
  add_conv_means(x.data(), t, fq, &m);
  const std::vector<double> d = mean_shift(m, w, wq, M, K, 1);
  for (int64_t o = 0; o < M; ++o) {
    double s = 0;
    for (int64_t b = 0; b < t.B; ++b)
      for (int64_t oh = 0; oh < t.OH; ++oh)
        for (int64_t ow = 0; ow < t.OW; ++ow)
          for (int64_t c = 0; c < t.C; ++c)
            for (int64_t i = 0; i < t.kh; ++i)
              for (int64_t j = 0; j < t.kw; ++j) {
                const int64_t ih = oh * t.sh - t.pt + i, iw = ow * t.sw - t.pl + j;
                if (ih < 0 || ih >= t.H || iw < 0 || iw >= t.W) continue;
                const float v = x[((b * t.C + c) * t.H + ih) * t.W + iw];
                const int64_t k = (c * t.kh + i) * t.kw + j;
                s += fq.apply(v, 0) * wq[o * K + k] - double(v) * w[o * K + k];
              }
    EXPECT_NEAR(d[o], s / (t.B * t.OH * t.OW), 1e-9) << o;
  }
}

}  // namespace
}  // namespace tessera::core
