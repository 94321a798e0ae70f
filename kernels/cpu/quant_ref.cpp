// Plain-loop references of the quantized kernels, for the bit-exactness tests: int64
// accumulation in the most obvious loop order (a direct convolution, no im2row), then the same
// epilogue functions as the kernels. An accumulator outside int32 aborts: the kernels' K limit
// (kMaxK) exists so that it cannot happen.
#include <cmath>
#include <cstdlib>

#include "cpu/quant_kernels.h"

namespace tessera::kernels::quant {
namespace {

int32_t narrow(int64_t acc) {
  if (acc > INT32_MAX || acc < INT32_MIN) std::abort();
  return static_cast<int32_t>(acc);
}

void store(int64_t acc, float combined, const float* bias, float y_scale, int64_t i, float* yf,
           int8_t* yq) {
  const float v = dequantize_acc(narrow(acc), combined, bias);
  if (y_scale > 0)
    yq[i] = quantize_value(v, y_scale);
  else
    yf[i] = v;
}

}  // namespace

void qmatmul_ref(const int8_t* x, const int8_t* w, const float* w_scale, const float* bias,
                 const int32_t* acc_offset, int64_t M, int64_t N, int64_t K, float x_scale,
                 const float* x_row_scale, float y_scale, float* yf, int8_t* yq) {
  for (int64_t m = 0; m < M; ++m) {
    const float xs = x_row_scale ? x_row_scale[m] : x_scale;
    for (int64_t n = 0; n < N; ++n) {
      int64_t acc = acc_offset ? acc_offset[n] : 0;
      for (int64_t k = 0; k < K; ++k)
        acc += static_cast<int64_t>(x[m * K + k]) * static_cast<int64_t>(w[n * K + k]);
      store(acc, xs * w_scale[n], bias ? bias + n : nullptr, y_scale, m * N + n, yf, yq);
    }
  }
}

void quantize_rows_ref(const float* x, const float* smooth_inv, int64_t M, int64_t K, int8_t* q,
                       float* scale) {
  for (int64_t m = 0; m < M; ++m) {
    float amax = 0;
    for (int64_t k = 0; k < K; ++k) {
      const float v = smooth_inv ? x[m * K + k] * smooth_inv[k] : x[m * K + k];
      if (std::isfinite(v) && std::fabs(v) > amax) amax = std::fabs(v);
    }
    scale[m] = amax / 127.0f > 0 ? amax / 127.0f : 1.0f;
    for (int64_t k = 0; k < K; ++k) {
      const float v = smooth_inv ? x[m * K + k] * smooth_inv[k] : x[m * K + k];
      q[m * K + k] = quantize_value(v, scale[m]);
    }
  }
}

void qconv_ref(const int8_t* x, const int8_t* w, const float* w_scale, const float* bias,
               const int32_t* acc_offset, int32_t x_zp, const ConvGeom& g, float x_scale,
               float y_scale, float* yf, int8_t* yq) {
  const int64_t cg = g.C / g.group, mg = g.M / g.group;
  for (int64_t b = 0; b < g.B; ++b)
    for (int64_t m = 0; m < g.M; ++m)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          int64_t acc = acc_offset ? acc_offset[m] : 0;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t i = 0; i < g.kh; ++i)
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t ih = oh * g.sh - g.pt + i * g.dh, iw = ow * g.sw - g.pl + j * g.dw;
                const bool pad = ih < 0 || ih >= g.H || iw < 0 || iw >= g.W;
                const int64_t ci = (m / mg) * cg + c;
                const int64_t xv = pad ? x_zp : x[((b * g.C + ci) * g.H + ih) * g.W + iw];
                acc += xv * static_cast<int64_t>(w[((m * cg + c) * g.kh + i) * g.kw + j]);
              }
          store(acc, x_scale * w_scale[m], bias ? bias + m : nullptr, y_scale,
                ((b * g.M + m) * g.OH + oh) * g.OW + ow, yf, yq);
        }
}

}  // namespace tessera::kernels::quant
