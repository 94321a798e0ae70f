// CPU kernels of the quantized ops (docs/ops.md, "Quantized ops"; docs/quantization.md): int8
// symmetric quantization, int32 accumulation, fused dequantization (float out) or
// requantization (int8 out). Exact integer arithmetic; the float epilogue is one fixed sequence
// of IEEE operations (below) shared by the kernels and the *_ref functions, so a kernel and its
// reference agree bit for bit. One explicit table, sorted by op name, consulted by
// find_cpu_kernel after the forward and training tables.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "cpu/cpu_kernels.h"

namespace tessera::kernels {

const std::vector<KernelEntry>& cpu_quant_kernel_table();
// nullptr when the op is not a quantized op.
KernelFn find_cpu_quant_kernel(std::string_view op);

namespace quant {

// Symmetric int8 (zero point 0): [-127, 127]. -128 is never produced, so negation is exact.
// Asymmetric activations (zero point zp != 0, e.g. -128 for post-ReLU tensors, which then use all
// 256 levels instead of 128): q = x / scale + zp over the full [-128, 127]; the layer removes
// zp exactly in int32 through its acc_offset input (-zp * sum_k w[n,k], precomputed).
constexpr int kQMax = 127;
// |acc| <= K * 128 * 128 must fit int32: K <= 2^31 / 2^14. Larger K is refused, not wrapped.
constexpr int64_t kMaxK = int64_t{1} << 17;
// With a zero point the corrected sum is sum_k (x_k - zp) w_k, |x_k - zp| <= 255: K <= 2^16
// keeps it (and each of its two int32 parts) inside int32.
constexpr int64_t kMaxKZeroPoint = int64_t{1} << 16;

// The reference quantizer: round half to even of v / scale (IEEE float division), plus the zero
// point, saturated to [-127, 127] (zp == 0) or [-128, 127] (zp != 0); NaN -> zp (the code of
// 0.0). std::nearbyint under the default rounding mode is half-to-even. r + zp is exact in
// float (|r| < 2^24 or saturated anyway).
inline int8_t quantize_value(float v, float scale, int32_t zp = 0) {
  const float r = std::nearbyint(v / scale);
  if (!(r == r)) return static_cast<int8_t>(zp);
  const float q = r + static_cast<float>(zp);
  const float lo = zp == 0 ? -kQMax : -kQMax - 1;
  if (q > kQMax) return kQMax;
  if (q < lo) return static_cast<int8_t>(lo);
  return static_cast<int8_t>(q);
}
inline float dequantize_value(int8_t q, float scale) { return static_cast<float>(q) * scale; }

// Per-token (dynamic) activation scales, QuantizeI8 per_token=1 (docs/quantization.md): each row
// (every leading index, K = the last dim) gets scale = amax / 127 in IEEE float, amax = the
// largest finite |v| of the row (v = x, or x * smooth_inv[k] as one float product), and is then
// quantized symmetrically by quantize_value(v, scale). Infinities are left out of amax so they
// saturate to +-127 as under a static scale (instead of making the whole row's scale infinite);
// NaN is left out too (it quantizes to 0). A row with no positive finite |v| (all zeros) gets
// scale 1: any scale quantizes zeros exactly, and the epilogue multiplies by a finite number.
// The max is exact in any order, so every kernel and the reference agree bit for bit.
inline float row_absmax_step(float amax, float v) {
  const float a = std::fabs(v);
  // NaN fails both comparisons; inf fails the second.
  return a > amax && a <= std::numeric_limits<float>::max() ? a : amax;
}
inline float row_scale(float amax) {
  const float s = amax / static_cast<float>(kQMax);
  return s > 0 ? s : 1.0f;  // 0 for all-zero rows and for amax < 127 * 2^-149 (underflow)
}
// The epilogue: float(acc) * (x_scale * w_scale[n]) [+ bias[n]]. `acc` already includes the
// channel's acc_offset (integer, exact). `combined` is computed once per channel as
// x_scale * w_scale[n] in float; the bias is added only when present (adding 0.0f would turn -0
// into +0 and break bit equality with a no-bias reference).
inline float dequantize_acc(int32_t acc, float combined, const float* bias) {
  const float y = static_cast<float>(acc) * combined;
  return bias ? y + *bias : y;
}

// Plain-loop references of the kernels (int64 accumulation, checked to fit int32 afterwards).
// x [M,K] int8, w [N,K] int8 (both K-contiguous), w_scale [N], bias [N] or nullptr,
// acc_offset [N] int32 or nullptr (added to the accumulator). x_row_scale [M] (per-token) or
// nullptr (then the per-tensor x_scale): the epilogue's combined scale of output (m, n) is
// x_row_scale[m] * w_scale[n]. y_scale <= 0: float out `yf` [M,N]; else int8 out `yq` [M,N].
void qmatmul_ref(const int8_t* x, const int8_t* w, const float* w_scale, const float* bias,
                 const int32_t* acc_offset, int64_t M, int64_t N, int64_t K, float x_scale,
                 const float* x_row_scale, float y_scale, float* yf, int8_t* yq);
// Per-token quantization of x [M,K] (smooth_inv [K] or nullptr): q [M,K] and scale [M], written
// the obvious way (two passes over each row: its abs-max, then the quantizer).
void quantize_rows_ref(const float* x, const float* smooth_inv, int64_t M, int64_t K, int8_t* q,
                       float* scale);
// 2-D convolution, NCHW x [B,C,H,W], w [M,C/g,kh,kw]; pads {top,left,bottom,right}. Padding
// reads the input zero point x_zp (the code of 0.0), so with acc_offset = -x_zp * sum w it
// contributes exactly nothing.
struct ConvGeom {
  int64_t B, C, H, W, M, kh, kw, OH, OW, group;
  int64_t sh, sw, dh, dw, pt, pl;
};
void qconv_ref(const int8_t* x, const int8_t* w, const float* w_scale, const float* bias,
               const int32_t* acc_offset, int32_t x_zp, const ConvGeom& g, float x_scale,
               float y_scale, float* yf, int8_t* yq);

}  // namespace quant

namespace cpu {
#define TSR_DECLARE_QUANT_KERNEL(name)                                \
  Status name(const AttrMap& attrs, const std::vector<TensorRef>& in, \
              const std::vector<TensorRef>& out)
// quant_linear.cpp
TSR_DECLARE_QUANT_KERNEL(QuantizeI8);
TSR_DECLARE_QUANT_KERNEL(DequantizeI8);
TSR_DECLARE_QUANT_KERNEL(QMatMulI8);
// quant_conv.cpp
TSR_DECLARE_QUANT_KERNEL(QConvI8);
#undef TSR_DECLARE_QUANT_KERNEL

// QConvI8's geometry from x [B,C,H,W], w [M,C/g,kh,kw] and the window attributes (strides,
// pads, dilations, group); shared with the CUDA kernel so both refuse and accept the same shapes.
Status qconv_geom(const AttrMap& attrs, const Shape& x, const Shape& w, quant::ConvGeom* g);

// Shared checks (quant_linear.cpp): x_scale; the epilogue kind (y_scale -> int8 out, else f32
// out); w_scale [n], the optional bias [n] and acc_offset [n] int32 at inputs 2, 3 and 4.
Status quant_scales(const AttrMap& attrs, float* x_scale);
Status quant_epilogue_kind(const AttrMap& attrs, const TensorRef& out, float* y_scale);
Status check_quant_channels(const std::vector<TensorRef>& in, int64_t n);
// An int8 zero point attribute (default 0: symmetric), checked to lie in [-128, 127].
Status zero_point_attr(const AttrMap& attrs, const char* key, int32_t* zp);
// x_zero_point (default 0) and the reduction length k: a non-zero point needs acc_offset and
// k <= kMaxKZeroPoint; k <= kMaxK always. Returns acc_offset's data or nullptr.
Status quant_zero_point(const AttrMap& attrs, const std::vector<TensorRef>& in, int64_t k,
                        int32_t* zp, const int32_t** acc_offset);
// Attribute per_token (default 0): QuantizeI8 computes a scale per row (its output 1), and
// QMatMulI8 reads those row scales as input 5 instead of its x_scale attribute.
bool per_token_attr(const AttrMap& attrs);
// QMatMulI8's activation scale: x_scale, or with per_token the f32 row scales at input 5 (x's
// shape without its last dim; x_zero_point must be 0). *row_scales is nullptr when per-tensor.
Status activation_scale(const AttrMap& attrs, const std::vector<TensorRef>& in, float* x_scale,
                        const float** row_scales);
}  // namespace cpu

}  // namespace tessera::kernels
