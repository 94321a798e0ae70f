// Calibration cores: thresholds of known distributions, order independence, the all-zero case.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "passes/core/calibration.h"

namespace tessera::core {
namespace {

std::vector<float> gaussian(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(Calibration, ParsesMethods) {
  EXPECT_EQ(*parse_calib_method("entropy"), CalibMethod::kEntropy);
  EXPECT_FALSE(parse_calib_method("kl").ok());
}

TEST(Calibration, MinMaxIsTheAbsMax) {
  RangeStats r;
  std::vector<float> v = {-3, 1, 2.5f, NAN};
  r.add(v.data(), 4);
  EXPECT_EQ(r.min, -3);
  EXPECT_EQ(r.max, 2.5);
  EXPECT_EQ(calibrated_amax(CalibMethod::kMinMax, r, nullptr, 99.99), 3.0);
  RangeStats zero;
  std::vector<float> z(8, 0.0f);
  zero.add(z.data(), 8);
  EXPECT_EQ(calibrated_amax(CalibMethod::kMinMax, zero, nullptr, 99.99), 1.0);
}

RangeStats range_of(float lo, float hi) {
  RangeStats r;
  std::vector<float> v = {lo, hi};
  r.add(v.data(), 2);
  return r;
}

TEST(Calibration, ActivationGridIsAsymmetricOnlyForLopsidedRanges) {
  ActGrid relu = activation_grid(range_of(0, 5), 5, true);  // post-ReLU: all 256 codes
  EXPECT_EQ(relu.zero_point, -128);
  EXPECT_FLOAT_EQ(relu.scale, 5.0f / 255);
  ActGrid sym = activation_grid(range_of(-2, 1.95f), 2, true);  // < 5% finer: symmetric
  EXPECT_EQ(sym.zero_point, 0);
  EXPECT_FLOAT_EQ(sym.scale, 2.0f / 127);
  ActGrid clip = activation_grid(range_of(-1, 3), 2.5, true);  // clipped to [-1, 2.5]
  EXPECT_EQ(clip.hi, 2.5);
  EXPECT_FLOAT_EQ(clip.scale, 3.5f / 255);
  EXPECT_EQ(clip.zero_point, -55);  // round(-128 + 1 / (3.5 / 255)) = round(-55.14)
  // The grid codes its ends: lo -> -128 (nearly), hi -> 127 (nearly), 0 -> zero_point.
  EXPECT_NEAR(-1 / clip.scale + clip.zero_point, -128, 0.5);
  EXPECT_NEAR(2.5 / clip.scale + clip.zero_point, 127, 0.5);
  ActGrid off = activation_grid(range_of(-1, 3), 2.5, false);  // symmetric requested
  EXPECT_EQ(off.zero_point, 0);
  EXPECT_FLOAT_EQ(off.scale, 2.5f / 127);
  ActGrid pos = activation_grid(range_of(1, 4), 4, true);  // widened to contain 0
  EXPECT_EQ(pos.lo, 0);
  EXPECT_EQ(pos.zero_point, -128);
  EXPECT_EQ(activation_grid(range_of(0, 0), 1, true).scale, 1.0f);
}

TEST(Calibration, ChannelOutlierRatioIsMaxOverMedian) {
  EXPECT_EQ(channel_outlier_ratio({1, 1, 1, 10}), 10.0);
  EXPECT_EQ(channel_outlier_ratio({2, 3, 4}), 4.0 / 3.0);
  EXPECT_EQ(channel_outlier_ratio({}), 0.0);
  EXPECT_TRUE(std::isinf(channel_outlier_ratio({0, 0, 0, 5})));
}

TEST(Calibration, PercentileOfUniformIsItsQuantile) {
  AbsHistogram h(1.0);
  std::vector<float> v(100000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i + 0.5) / v.size());
  h.add(v.data(), static_cast<int64_t>(v.size()));
  EXPECT_NEAR(amax_percentile(h, 90), 0.9, 1.0 / AbsHistogram::kBins);
  EXPECT_NEAR(amax_percentile(h, 100), 1.0, 1e-12);
}

TEST(Calibration, PercentileAndEntropyClipOutliers) {
  auto v = gaussian(200000, 3);
  v[0] = 40;  // one outlier: minmax would waste almost all levels on it
  RangeStats r;
  r.add(v.data(), static_cast<int64_t>(v.size()));
  AbsHistogram h(r.absmax());
  h.add(v.data(), static_cast<int64_t>(v.size()));
  const double p = calibrated_amax(CalibMethod::kPercentile, r, &h, 99.99);
  const double e = calibrated_amax(CalibMethod::kEntropy, r, &h, 99.99);
  EXPECT_GT(p, 3.0);
  EXPECT_LT(p, 5.5);
  EXPECT_GT(e, 2.0);  // KL calibration on a Gaussian lands a few sigma out
  EXPECT_LT(e, 8.0);
}

TEST(Calibration, HistogramsAddUpInAnyOrder) {
  auto a = gaussian(5000, 1), b = gaussian(5000, 2);
  AbsHistogram h1(5.0), h2(5.0);
  h1.add(a.data(), 5000);
  h1.add(b.data(), 5000);
  h2.add(b.data(), 5000);
  h2.add(a.data(), 5000);
  EXPECT_EQ(h1.counts, h2.counts);
  EXPECT_EQ(amax_entropy(h1), amax_entropy(h2));
}

}  // namespace
}  // namespace tessera::core
