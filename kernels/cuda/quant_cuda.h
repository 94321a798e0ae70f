// Launchers of the quantized ops' device kernels (quant.cu), called by the host-side kernels in
// quant_gemm.cpp. Everything is enqueued on ctx.stream.
#pragma once
#include <cstdint>

#include "cpu/quant_kernels.h"
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

// acc[rows, n] = x[rows, k] · w[n, k]ᵀ in int32 (quant_gemm.cpp): cuBLASLt's int8 tensor-core
// GEMM in the TN layout when k % 4 == 0, launch_igemm_naive otherwise.
Status igemm(CudaContext& ctx, const int8_t* x, const int8_t* w, int64_t rows, int64_t n, int64_t k,
             int32_t* acc);

// QConvI8 (quant_gemm.cpp drives these per group and tile of output positions t = b*OH*OW + p):
// rows [tpad, kp] int8, K-contiguous, for positions t0 .. t0+valid of group gi (zp outside the
// image; zero columns beyond Cg*kh*kw and zero rows beyond valid; kp % 4 == 0).
Status launch_qconv_im2row(CudaContext& ctx, const int8_t* x, const quant::ConvGeom& g, int64_t gi,
                           int64_t t0, int64_t valid, int64_t tpad, int64_t kp, int32_t zp,
                           int8_t* rows);
// out [n, kp] = w [n, k] with zero columns k .. kp.
Status launch_pad_rows(CudaContext& ctx, const int8_t* w, int64_t n, int64_t k, int64_t kp,
                       int8_t* out);
// acc [M/group, tpad] int32 (channel-major) -> NCHW y (float dtype, or int8 with y_scale > 0):
// y[b, gi*mg + mi, p] = (acc[mi, tt] [+ acc_offset[m]]) * (x_scale * w_scale[m]) [+ bias[m]].
Status launch_qconv_epilogue(CudaContext& ctx, const int32_t* acc, const quant::ConvGeom& g,
                             int64_t gi, int64_t t0, int64_t valid, int64_t tpad, float x_scale,
                             const float* w_scale, const float* bias, const int32_t* acc_offset,
                             float y_scale, DType out_dtype, void* y);

}  // namespace tessera::kernels::cuda
