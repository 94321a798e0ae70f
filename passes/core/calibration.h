// Calibration cores (docs/quantization.md): from the values a tensor took on the calibration
// inputs to the clipping threshold `amax` of its symmetric int8 scale (scale = amax / 127).
// Plain C++, no graph: the pass (passes/quantize.cpp) feeds them, gtests check them alone.
//
// Histograms are of |x| over [0, range] in kBins equal bins. The range is fixed before the
// first sample (the pass makes one pass over the data for the abs-max first), so histograms of
// several batches add bin by bin and the result does not depend on batch order.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tessera/status.h"

namespace tessera::core {

enum class CalibMethod { kMinMax, kPercentile, kEntropy };
StatusOr<CalibMethod> parse_calib_method(const std::string& s);  // minmax|percentile|entropy
const char* calib_method_name(CalibMethod m);

// Running min / max / abs-max of a tensor over every batch.
struct RangeStats {
  double min = 0, max = 0;
  bool empty = true;
  void add(const float* x, int64_t n);  // NaNs are skipped
  double absmax() const { return empty ? 0.0 : (max > -min ? max : -min); }
};

struct AbsHistogram {
  static constexpr int kBins = 2048;  // TensorRT's and pytorch-quantization's choice
  double range = 0;                   // upper edge of the last bin
  std::vector<double> counts;         // kBins
  explicit AbsHistogram(double range_);
  // |x| >= range lands in the last bin; NaNs are skipped.
  void add(const float* x, int64_t n);
  double bin_width() const { return range / kBins; }
  double total() const;
};

// Smallest right bin edge below which `percentile` % of the samples lie (99.99 clips the
// largest 0.01%). The right edge, not the left: values of the crossing bin are never clipped.
double amax_percentile(const AbsHistogram& h, double percentile);

// TensorRT's entropy calibrator (as in NVIDIA pytorch-quantization's _compute_amax_entropy):
// for every candidate threshold bin i in [start_bin, kBins], P = the histogram up to i with the
// outliers folded into bin i-1, Q = P squeezed into `levels` quantization levels and expanded
// back over P's non-empty bins; the threshold with the least KL(P || Q) wins (the last of equal
// minima). Bin 0 is set to bin 1's count first, as there, so a spike of exact zeros (ReLU
// outputs) does not dominate. Cost: O(kBins^2) per tensor, about 4M steps, done once.
double amax_entropy(const AbsHistogram& h, int levels = 128, int start_bin = 128);

// The threshold for `method`; minmax ignores the histogram. Never returns 0: an all-zero tensor
// gets amax 1 (any scale quantizes zeros exactly), so scales stay positive.
double calibrated_amax(CalibMethod method, const RangeStats& r, const AbsHistogram* h,
                       double percentile);

// max_k amax(k) / median_k amax(k) over an activation's per-channel abs-max: ~1-3 for
// well-behaved tensors, 10-100 where a few channels carry outliers (trained LLMs). 0 if empty,
// +inf when the median channel is all zeros but some channel is not.
double channel_outlier_ratio(const std::vector<double>& chan_absmax);

// The int8 grid of an activation: x ~ scale * (q - zero_point). The range is the calibrated
// [min, max] clipped to [-amax, amax] and widened to contain 0 (so 0.0 has an exact code).
// Symmetric (zero_point 0, 254 steps over [-a, a], a = max(-lo, hi)) unless `asymmetric` and the
// range is lopsided enough that 255 steps over [lo, hi] are at least 5% finer: then
// zero_point = round(-128 - lo / scale). A post-ReLU tensor ([0, hi]) gets zero_point -128 and
// twice the resolution of the symmetric grid, which spends half its codes on negatives that
// never occur.
struct ActGrid {
  float scale = 1;
  int32_t zero_point = 0;
  double lo = 0, hi = 0;  // the clipped range the grid covers
};
ActGrid activation_grid(const RangeStats& r, double amax, bool asymmetric);

}  // namespace tessera::core
