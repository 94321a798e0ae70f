#include "passes/core/bias_correction.h"

#include <algorithm>
#include <cmath>

namespace tessera::core {

double FakeQuant::apply(float x, int64_t k) const {
  const float v = smooth_inv ? x * smooth_inv[k] : x;
  const float r = std::nearbyint(v / scale);
  if (!(r == r)) return 0.0;
  const float lo = zero_point == 0 ? -127.0f : -128.0f;
  const float q = std::clamp(r + static_cast<float>(zero_point), lo, 127.0f);
  return (static_cast<double>(q) - zero_point) * scale;
}

float token_scale(const float* x, int64_t K, const float* smooth_inv) {
  float amax = 0;
  for (int64_t k = 0; k < K; ++k) {
    const float a = std::fabs(smooth_inv ? x[k] * smooth_inv[k] : x[k]);
    if (a > amax && std::isfinite(a)) amax = a;
  }
  const float s = amax / 127.0f;
  return s > 0 ? s : 1.0f;
}

void add_matmul_means(const float* x, int64_t rows, int64_t K, const FakeQuant& fq, InputMeans* m) {
  FakeQuant row = fq;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * K;
    if (fq.per_token) row.scale = token_scale(xr, K, fq.smooth_inv);
    for (int64_t k = 0; k < K; ++k) {
      const double v = fq.smooth_inv ? static_cast<double>(xr[k] * fq.smooth_inv[k]) : xr[k];
      m->x[k] += v;
      m->xq[k] += row.apply(xr[k], k);
    }
  }
  m->count += static_cast<double>(rows);
}

void add_conv_means(const float* x, const ConvTaps& t, const FakeQuant& fq, InputMeans* m) {
  for (int64_t b = 0; b < t.B; ++b)
    for (int64_t c = 0; c < t.C; ++c) {
      const float* img = x + (b * t.C + c) * t.H * t.W;
      for (int64_t i = 0; i < t.kh; ++i)
        for (int64_t j = 0; j < t.kw; ++j) {
          double sx = 0, sq = 0;
          for (int64_t oh = 0; oh < t.OH; ++oh) {
            const int64_t ih = oh * t.sh - t.pt + i * t.dh;
            if (ih < 0 || ih >= t.H) continue;
            for (int64_t ow = 0; ow < t.OW; ++ow) {
              const int64_t iw = ow * t.sw - t.pl + j * t.dw;
              if (iw < 0 || iw >= t.W) continue;
              sx += img[ih * t.W + iw];
              sq += fq.apply(img[ih * t.W + iw], 0);
            }
          }
          const int64_t k = (c * t.kh + i) * t.kw + j;
          m->x[k] += sx;
          m->xq[k] += sq;
        }
    }
  m->count += static_cast<double>(t.B * t.OH * t.OW);
}

std::vector<double> mean_shift(const InputMeans& m, const std::vector<float>& w,
                               const std::vector<float>& wq, int64_t N, int64_t K, int64_t groups) {
  std::vector<double> d(static_cast<size_t>(N), 0.0);
  if (!(m.count > 0)) return d;
  const int64_t per_group = std::max<int64_t>(N / std::max<int64_t>(groups, 1), 1);
  for (int64_t n = 0; n < N; ++n) {
    const int64_t first = groups > 1 ? (n / per_group) * K : 0;
    double s = 0;
    for (int64_t k = 0; k < K; ++k)
      s += m.xq[first + k] * wq[n * K + k] - m.x[first + k] * w[n * K + k];
    d[n] = s / m.count;
  }
  return d;
}

}  // namespace tessera::core
