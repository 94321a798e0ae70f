// Launchers of the quantized ops' device kernels (quant.cu), called by the host-side kernels in
// quant_gemm.cpp. Everything is enqueued on ctx.stream.
#pragma once
#include <cstdint>

#include "cuda/cuda_kernels.h"

namespace tessera::kernels::cuda {

// y = sat(rint(x [* smooth_inv[k]] / scale) + zp) over x (f32, f16 or bf16, row-major
// [..., K]); [-127, 127] when zp == 0, else [-128, 127].
Status launch_quantize(CudaContext& ctx, const TensorRef& x, const float* smooth_inv, float scale,
                       int32_t zp, int8_t* y);
// Per-token: per row r of x ([..., K], f32, f16 or bf16), scales[r] = max finite |v| / 127 (1
// when not positive), v = x [* smooth_inv[k]], and y = sat(rint(v / scales[r])) in [-127, 127].
Status launch_quantize_rows(CudaContext& ctx, const TensorRef& x, const float* smooth_inv,
                            int8_t* y, float* scales);
// y (f32, f16 or bf16) = x * scale.
Status launch_dequantize(CudaContext& ctx, const int8_t* x, float scale, const TensorRef& y);
// acc[m, n] = sum_k x[m, k] * w[n, k] in int32, one thread per output (any K).
Status launch_igemm_naive(CudaContext& ctx, const int8_t* x, const int8_t* w, int64_t m, int64_t n,
                          int64_t k, int32_t* acc);
// y[r, c] = (acc[r, c] [+ acc_offset[c]]) * (x_scale * w_scale[c]) [+ bias[c]], written as
// out_dtype (a float type, or int8 requantized by y_scale). acc and y are [rows, cols]. x_rows
// (per-token row scales of this tile, [rows]) replaces x_scale when not null.
Status launch_qepilogue(CudaContext& ctx, const int32_t* acc, int64_t rows, int64_t cols,
                        float x_scale, const float* x_rows, const float* w_scale, const float* bias,
                        const int32_t* acc_offset, float y_scale, DType out_dtype, void* y);

}  // namespace tessera::kernels::cuda
