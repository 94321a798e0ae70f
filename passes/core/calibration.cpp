#include "passes/core/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tessera::core {

StatusOr<CalibMethod> parse_calib_method(const std::string& s) {
  if (s == "minmax") return CalibMethod::kMinMax;
  if (s == "percentile") return CalibMethod::kPercentile;
  if (s == "entropy") return CalibMethod::kEntropy;
  return InvalidArgument("calibration method '" + s + "': expected minmax, percentile or entropy");
}

const char* calib_method_name(CalibMethod m) {
  switch (m) {
    case CalibMethod::kMinMax:
      return "minmax";
    case CalibMethod::kPercentile:
      return "percentile";
    case CalibMethod::kEntropy:
      return "entropy";
  }
  return "?";
}

void RangeStats::add(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    if (std::isnan(v)) continue;
    if (empty) {
      min = max = v;
      empty = false;
    }
    min = std::min(min, v);
    max = std::max(max, v);
  }
}

AbsHistogram::AbsHistogram(double range_) : range(range_), counts(kBins, 0.0) {}

void AbsHistogram::add(const float* x, int64_t n) {
  if (!(range > 0)) return;
  const double inv = kBins / range;
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::fabs(static_cast<double>(x[i]));
    if (std::isnan(a)) continue;
    const double b = a * inv;
    counts[b >= kBins ? kBins - 1 : static_cast<int>(b)] += 1;
  }
}

double AbsHistogram::total() const {
  double t = 0;
  for (double c : counts) t += c;
  return t;
}

double amax_percentile(const AbsHistogram& h, double percentile) {
  const double total = h.total();
  if (total <= 0) return 0;
  const double want = total * percentile / 100.0;
  double cum = 0;
  for (int i = 0; i < AbsHistogram::kBins; ++i) {
    cum += h.counts[i];
    if (cum >= want) return (i + 1) * h.bin_width();
  }
  return h.range;
}

namespace {

// KL(p || q) of two unnormalised distributions of equal length; +inf where q has no mass under p.
double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0, sq = 0;
  for (size_t i = 0; i < p.size(); ++i) sp += p[i], sq += q[i];
  if (sp <= 0 || sq <= 0) return std::numeric_limits<double>::infinity();
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0) continue;
    if (q[i] <= 0) return std::numeric_limits<double>::infinity();
    const double pi = p[i] / sp, qi = q[i] / sq;
    kl += pi * std::log(pi / qi);
  }
  return kl;
}

}  // namespace

double amax_entropy(const AbsHistogram& h, int levels, int start_bin) {
  const int nb = AbsHistogram::kBins;
  std::vector<double> bins = h.counts;
  if (nb > 1) bins[0] = bins[1];
  std::vector<double> p, q, level_sum(levels), level_cnt(levels);
  std::vector<int> level_of;
  double best = std::numeric_limits<double>::infinity();
  int best_i = nb;
  for (int i = std::min(start_bin, nb); i <= nb; ++i) {
    // Bin j < i belongs to level floor(j * levels / i) (np.digitize on linspace(0, i, levels+1)).
    level_of.assign(i, 0);
    std::fill(level_sum.begin(), level_sum.end(), 0.0);
    std::fill(level_cnt.begin(), level_cnt.end(), 0.0);
    for (int j = 0; j < i; ++j) {
      int l = static_cast<int>(static_cast<int64_t>(j) * levels / i);
      level_of[j] = l;
      if (bins[j] > 0) level_sum[l] += bins[j], level_cnt[l] += 1;
    }
    q.assign(i, 0.0);
    for (int j = 0; j < i; ++j)
      if (bins[j] > 0) q[j] = level_sum[level_of[j]] / level_cnt[level_of[j]];
    p.assign(bins.begin(), bins.begin() + i);
    for (int j = i; j < nb; ++j) p[i - 1] += bins[j];
    const double kl = kl_divergence(p, q);
    if (kl <= best) best = kl, best_i = i;  // '<=': the last of equal minima, as the reference
  }
  return best_i * h.bin_width();
}

double calibrated_amax(CalibMethod method, const RangeStats& r, const AbsHistogram* h,
                       double percentile) {
  double amax = r.absmax();
  if (method != CalibMethod::kMinMax && h != nullptr && h->total() > 0) {
    amax = method == CalibMethod::kPercentile ? amax_percentile(*h, percentile) : amax_entropy(*h);
    amax = std::min(amax, r.absmax());  // a bin edge may overshoot the largest sample
  }
  return amax > 0 ? amax : 1.0;
}

double channel_outlier_ratio(const std::vector<double>& chan_absmax) {
  if (chan_absmax.empty()) return 0;
  std::vector<double> v = chan_absmax;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  const double med = *mid, mx = *std::max_element(v.begin(), v.end());
  if (med > 0) return mx / med;
  return mx > 0 ? std::numeric_limits<double>::infinity() : 0;
}

ActGrid activation_grid(const RangeStats& r, double amax, bool asymmetric) {
  ActGrid g;
  g.lo = std::min(std::max(r.empty ? 0.0 : r.min, -amax), 0.0);
  g.hi = std::max(std::min(r.empty ? 0.0 : r.max, amax), 0.0);
  const double a = std::max(-g.lo, g.hi);
  if (!(a > 0)) return g;  // all zeros: any scale codes them exactly
  // A zero point costs the layer an int32 vector and an add per output; it is worth it when it
  // makes the step at least kMinGain finer (a symmetric range gains only 255/254).
  constexpr double kMinGain = 0.05;
  if (asymmetric && (g.hi - g.lo) / 255.0 <= (1 - kMinGain) * a / 127.0) {
    const float s = static_cast<float>((g.hi - g.lo) / 255.0);
    const double zp = std::clamp(std::nearbyint(-128.0 - g.lo / s), -128.0, 127.0);
    if (zp != 0) {
      g.scale = s;
      g.zero_point = static_cast<int32_t>(zp);
      return g;
    }
  }
  g.scale = static_cast<float>(a / 127.0);
  return g;
}

}  // namespace tessera::core
