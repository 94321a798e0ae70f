// Empirical bias correction (Nagel et al., "Data-Free Quantization", §4.2; OpenVINO's fast bias
// correction): int8 rounding and clipping of a layer's input and weight shift the mean of each
// output channel by delta[n] = sum_k (E[xq_k] wq[n,k] - E[x_k] w[n,k]), where xq is the input as
// the int8 grid reproduces it. Because the layer is linear, per-reduction-index input means
// suffice; the pass subtracts delta from the bias. Plain C++: the pass feeds activations from
// the calibration sweep, gtests check it alone. Cost: one pass over each quantized input per
// calibration set (convolutions: one per tap, C*kh*kw*OH*OW per image), 2*K doubles per layer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tessera::core {

// The activation quantizer of kernels/cpu/quant_kernels.h (quantize_value), dequantized:
// (sat(nearbyint(v / scale) + zp) - zp) * scale, [-127|-128, 127]; v = x * smooth_inv[k].
struct FakeQuant {
  float scale = 1;
  int32_t zero_point = 0;
  const float* smooth_inv = nullptr;  // [K] or nullptr
  // Per-token (QuantizeI8 per_token=1): add_matmul_means replaces `scale` row by row with
  // token_scale of the row; zero_point is 0.
  bool per_token = false;
  double apply(float x, int64_t k) const;
};

// The kernels' per-token scale of one row (kernels/cpu/quant_kernels.h row_scale, restated so
// the compiler's core does not include kernel headers): the largest finite |x_k * smooth_inv_k|
// over 127 in float, 1 when that is not positive.
float token_scale(const float* x, int64_t K, const float* smooth_inv);

// Running sums of a layer's input per reduction index k, float and fake-quantized (the smoothed
// domain when smooth_inv is set, the domain the layer's weight [N,K] lives in).
struct InputMeans {
  std::vector<double> x, xq;
  double count = 0;
  explicit InputMeans(int64_t k)
      : x(static_cast<size_t>(k), 0.0), xq(static_cast<size_t>(k), 0.0) {}
};

// x [rows, K] row-major.
void add_matmul_means(const float* x, int64_t rows, int64_t K, const FakeQuant& fq, InputMeans* m);

// 2-D NCHW convolution geometry; K = C * kh * kw (a tap reading the padding reads 0, exactly
// what the quantized kernel reads through the zero point).
struct ConvTaps {
  int64_t B, C, H, W, kh, kw, OH, OW, sh, sw, dh, dw, pt, pl;
};
void add_conv_means(const float* x, const ConvTaps& t, const FakeQuant& fq, InputMeans* m);

// delta[n] for weights w and wq [N, K'] where output n reads input indices
// [first(n), first(n) + K') of the means (group offsets for grouped convolutions: cg*kh*kw * group
// of n; 0 for MatMul).
std::vector<double> mean_shift(const InputMeans& m, const std::vector<float>& w,
                               const std::vector<float>& wq, int64_t N, int64_t K, int64_t groups);

}  // namespace tessera::core
