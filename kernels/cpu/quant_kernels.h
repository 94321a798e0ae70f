// CPU kernels of the quantized ops (docs/ops.md, "Quantized ops"; docs/quantization.md): int8
// symmetric quantization, int32 accumulation, fused dequantization (float out) or
// requantization (int8 out). Exact integer arithmetic; the float epilogue is one fixed sequence
// of IEEE operations (below) shared by the kernels and the *_ref functions, so a kernel and its
// reference agree bit for bit. One explicit table, sorted by op name, consulted by
// find_cpu_kernel after the forward and training tables.
#pragma once
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "cpu/cpu_kernels.h"

namespace tessera::kernels {

const std::vector<KernelEntry>& cpu_quant_kernel_table();
// nullptr when the op is not a quantized op.
KernelFn find_cpu_quant_kernel(std::string_view op);

namespace quant {

// Symmetric int8: [-127, 127]. -128 is never produced, so negation is exact and the range is
// symmetric around the zero point 0 (which keeps zero padding exact in QConvI8).
constexpr int kQMax = 127;
// |acc| <= K * 128 * 128 must fit int32: K <= 2^31 / 2^14. Larger K is refused, not wrapped.
constexpr int64_t kMaxK = int64_t{1} << 17;

// The reference quantizer: round half to even of v / scale (IEEE float division), saturated to
// [-127, 127]; NaN -> 0. std::nearbyint under the default rounding mode is half-to-even.
inline int8_t quantize_value(float v, float scale) {
  const float r = std::nearbyint(v / scale);
  if (!(r == r)) return 0;
  if (r > kQMax) return kQMax;
  if (r < -kQMax) return -kQMax;
  return static_cast<int8_t>(r);
}
inline float dequantize_value(int8_t q, float scale) { return static_cast<float>(q) * scale; }
// The epilogue: float(acc) * (x_scale * w_scale[n]) [+ bias[n]]. `combined` is computed once per
// channel as x_scale * w_scale[n] in float; the bias is added only when present (adding 0.0f
// would turn -0 into +0 and break bit equality with a no-bias reference).
inline float dequantize_acc(int32_t acc, float combined, const float* bias) {
  const float y = static_cast<float>(acc) * combined;
  return bias ? y + *bias : y;
}

// Plain-loop references of the kernels (int64 accumulation, checked to fit int32 afterwards).
// x [M,K] int8, w [N,K] int8 (both K-contiguous), w_scale [N], bias [N] or nullptr.
// y_scale <= 0: float out `yf` [M,N]; else int8 out `yq` [M,N].
void qmatmul_ref(const int8_t* x, const int8_t* w, const float* w_scale, const float* bias,
                 int64_t M, int64_t N, int64_t K, float x_scale, float y_scale, float* yf,
                 int8_t* yq);
// 2-D convolution, NCHW x [B,C,H,W], w [M,C/g,kh,kw]; pads {top,left,bottom,right}.
struct ConvGeom {
  int64_t B, C, H, W, M, kh, kw, OH, OW, group;
  int64_t sh, sw, dh, dw, pt, pl;
};
void qconv_ref(const int8_t* x, const int8_t* w, const float* w_scale, const float* bias,
               const ConvGeom& g, float x_scale, float y_scale, float* yf, int8_t* yq);

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

// Shared checks (quant_linear.cpp): x_scale; the epilogue kind (y_scale -> int8 out, else f32
// out); w_scale [n] and the optional bias [n] at inputs 2 and 3.
Status quant_scales(const AttrMap& attrs, float* x_scale);
Status quant_epilogue_kind(const AttrMap& attrs, const TensorRef& out, float* y_scale);
Status check_quant_channels(const std::vector<TensorRef>& in, int64_t n);
}  // namespace cpu

}  // namespace tessera::kernels
