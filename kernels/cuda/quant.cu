// Device side of the quantized ops (docs/quantization.md): QuantizeI8 (static or per-token),
// DequantizeI8 and the epilogue that turns QMatMulI8's int32 accumulators into float or int8.
// The arithmetic is the CPU reference's, operation for operation, with IEEE-rounded intrinsics
// (__fmul_rn, __fdiv_rn, rintf = round half to even) so the compiler cannot contract it into
// FMAs: an f32 plan's quantized outputs equal the CPU backend's bit for bit.
#include "cuda/cuda_types.cuh"
#include "cuda/quant_cuda.h"

namespace tessera::kernels::cuda {
namespace {

constexpr float kQMax = 127.f;

// zp == 0: symmetric [-127, 127]; zp != 0: [-128, 127] around zp; NaN -> zp (the code of 0.0).
__device__ __forceinline__ int8_t quantize_value(float v, float scale, int32_t zp = 0) {
  const float r = rintf(__fdiv_rn(v, scale));
  if (r != r) return static_cast<int8_t>(zp);
  const float q = __fadd_rn(r, static_cast<float>(zp));
  return static_cast<int8_t>(fminf(kQMax, fmaxf(zp == 0 ? -kQMax : -kQMax - 1.f, q)));
}

// One element per iteration; the SmoothQuant vector (if any) is indexed by the last dim K.
template <class T>
__global__ void quantize_kernel(const T* __restrict__ x, const float* __restrict__ smooth_inv,
                                uint32_t k, float scale, int32_t zp, int8_t* __restrict__ y,
                                int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float v = to_f(x[i]);
    if (smooth_inv) v = __fmul_rn(v, smooth_inv[static_cast<uint32_t>(i % k)]);
    y[i] = quantize_value(v, scale, zp);
  }
}

// 8 elements per thread (one 16-byte load of 16-bit x, two of f32; one 8-byte store): the op is
// pure bandwidth, and bert-large's activations are 33 MB per layer input.
template <class T>
__global__ void quantize8_kernel(const T* __restrict__ x, const float* __restrict__ smooth_inv,
                                 uint32_t k, float scale, int32_t zp, int8_t* __restrict__ y,
                                 uint32_t n8) {
  for (uint32_t j = blockIdx.x * blockDim.x + threadIdx.x; j < n8; j += gridDim.x * blockDim.x) {
    T v[8];
    if constexpr (sizeof(T) == 2) {
      *reinterpret_cast<uint4*>(v) = reinterpret_cast<const uint4*>(x)[j];
    } else {
      reinterpret_cast<float4*>(v)[0] = reinterpret_cast<const float4*>(x)[2 * j];
      reinterpret_cast<float4*>(v)[1] = reinterpret_cast<const float4*>(x)[2 * j + 1];
    }
    const uint32_t k0 = (j * 8) % k;  // k % 8 == 0: the 8 elements share one row
    int8_t q[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      float f = to_f(v[e]);
      if (smooth_inv) f = __fmul_rn(f, smooth_inv[k0 + e]);
      q[e] = quantize_value(f, scale, zp);
    }
    reinterpret_cast<uint2*>(y)[j] = *reinterpret_cast<const uint2*>(q);
  }
}

// Per-token scales, the CPU's rule (kernels/cpu/quant_kernels.h, row_absmax_step / row_scale):
// the row's largest finite |v| over 127, 1 when not positive.
__device__ __forceinline__ float row_absmax_step(float amax, float v) {
  const float a = fabsf(v);
  return a > amax && a <= FLT_MAX ? a : amax;
}
__device__ __forceinline__ float row_scale(float amax) {
  const float s = __fdiv_rn(amax, kQMax);
  return s > 0.f ? s : 1.f;
}

// V consecutive elements of x (f32, f16 or bf16) as f32, smoothed when smooth_inv is set.
// V = 8 reads one 16-byte vector of 16-bit x or two of f32 (the caller checked alignment and
// K % 8 == 0); V = 1 is the plain path.
template <class T, int V>
__device__ __forceinline__ void load_row_vec(const T* __restrict__ x,
                                             const float* __restrict__ smooth_inv, uint32_t k0,
                                             float* f) {
  T v[V];
  if constexpr (V == 8 && sizeof(T) == 2) {
    *reinterpret_cast<uint4*>(v) = *reinterpret_cast<const uint4*>(x + k0);
  } else if constexpr (V == 8) {
    reinterpret_cast<float4*>(v)[0] = reinterpret_cast<const float4*>(x + k0)[0];
    reinterpret_cast<float4*>(v)[1] = reinterpret_cast<const float4*>(x + k0)[1];
  } else {
    v[0] = x[k0];
  }
#pragma unroll
  for (int e = 0; e < V; ++e)
    f[e] = smooth_inv ? __fmul_rn(to_f(v[e]), smooth_inv[k0 + e]) : to_f(v[e]);
}

// Per-token quantization: one block per row (grid-stride over rows). Pass 1 reduces the row's
// abs-max (block_reduce: shuffles and one shared array; a max is exact in any order, so the
// scale equals the CPU's bit for bit); pass 2 re-reads the row, which a row of up to ~100 KB
// finds in L1/L2, and writes int8. Cost against the static quantizer: one more read of x and a
// block barrier per row; the scales are 4 bytes per row.
template <class T, int V>
__global__ void quantize_rows_kernel(const T* __restrict__ x, const float* __restrict__ smooth_inv,
                                     uint32_t k, int8_t* __restrict__ y, float* __restrict__ scales,
                                     int64_t rows) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * k;
    float amax = 0.f, f[V];
    for (uint32_t j = threadIdx.x * V; j < k; j += blockDim.x * V) {
      load_row_vec<T, V>(xr, smooth_inv, j, f);
#pragma unroll
      for (int e = 0; e < V; ++e) amax = row_absmax_step(amax, f[e]);
    }
    const float scale = row_scale(block_reduce<true>(amax));
    if (threadIdx.x == 0) scales[r] = scale;
    int8_t* yr = y + r * k;
    for (uint32_t j = threadIdx.x * V; j < k; j += blockDim.x * V) {
      load_row_vec<T, V>(xr, smooth_inv, j, f);
      int8_t q[V];
#pragma unroll
      for (int e = 0; e < V; ++e) q[e] = quantize_value(f[e], scale);
      if constexpr (V == 8)
        *reinterpret_cast<uint2*>(yr + j) = *reinterpret_cast<const uint2*>(q);
      else
        yr[j] = q[0];
    }
  }
}

template <class T>
__global__ void dequantize_kernel(const int8_t* __restrict__ x, float scale, T* __restrict__ y,
                                  int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_f<T>(__fmul_rn(static_cast<float>(x[i]), scale));
}

// One output of the epilogue: float(a) * (xs * ws) [+ *bias], then T or int8 requantized by
// y_scale. The CPU's quant::dequantize_acc sequence; QMatMulI8's and QConvI8's epilogues both
// use it, so they cannot drift apart.
template <class T>
__device__ __forceinline__ T epilogue_value(int32_t a, float xs, float ws, const float* bias,
                                            float y_scale) {
  float v = __fmul_rn(static_cast<float>(a), __fmul_rn(xs, ws));
  if (bias) v = __fadd_rn(v, *bias);
  if constexpr (sizeof(T) == 1)
    return quantize_value(v, y_scale);
  else
    return from_f<T>(v);
}

// y[m, n] = float(acc) * (x_scale * w_scale[n]) [+ bias[n]], then T or requantized int8;
// per-token (x_rows set): x_rows[m] in place of x_scale.
template <class T>
__global__ void epilogue_kernel(const int32_t* __restrict__ acc, uint32_t rows, uint32_t cols,
                                float x_scale, const float* __restrict__ x_rows,
                                const float* __restrict__ w_scale, const float* __restrict__ bias,
                                const int32_t* __restrict__ acc_offset, float y_scale,
                                T* __restrict__ y) {
  const uint32_t total = rows * cols;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const uint32_t c = i % cols;
    const int32_t a = acc_offset ? acc[i] + acc_offset[c] : acc[i];
    const float xs = x_rows ? x_rows[i / cols] : x_scale;
    y[i] = epilogue_value<T>(a, xs, w_scale[c], bias ? bias + c : nullptr, y_scale);
  }
}

// 4 outputs per thread (cols % 4 == 0): one 16-byte load of accumulators, one 16-byte load each
// of w_scale and bias, one 4/8/16-byte store. The epilogue is pure bandwidth (4 bytes in, 2 out
// per element for bf16) and runs after every int8 GEMM, so it is worth the vector path: the
// scalar kernel took about a quarter of an 8192^3 QMatMulI8 on the H100.
template <class T>
__global__ void epilogue4_kernel(const int4* __restrict__ acc, uint32_t n4, uint32_t cols,
                                 float x_scale, const float* __restrict__ x_rows,
                                 const float* __restrict__ w_scale, const float* __restrict__ bias,
                                 const int32_t* __restrict__ acc_offset, float y_scale,
                                 T* __restrict__ y) {
  for (uint32_t j = blockIdx.x * blockDim.x + threadIdx.x; j < n4; j += gridDim.x * blockDim.x) {
    const uint32_t c = (j * 4) % cols;
    const float xs = x_rows ? x_rows[(j * 4) / cols] : x_scale;  // cols % 4 == 0: one row
    const int4 a = acc[j];
    const float4 s = *reinterpret_cast<const float4*>(w_scale + c);
    int av[4] = {a.x, a.y, a.z, a.w};
    if (acc_offset) {
      const int4 o = *reinterpret_cast<const int4*>(acc_offset + c);
      av[0] += o.x, av[1] += o.y, av[2] += o.z, av[3] += o.w;
    }
    const float sv[4] = {s.x, s.y, s.z, s.w};
    float bv[4] = {0.f, 0.f, 0.f, 0.f};
    if (bias) {
      const float4 b = *reinterpret_cast<const float4*>(bias + c);
      bv[0] = b.x, bv[1] = b.y, bv[2] = b.z, bv[3] = b.w;
    }
    T o[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      float v = __fmul_rn(static_cast<float>(av[e]), __fmul_rn(xs, sv[e]));
      if (bias) v = __fadd_rn(v, bv[e]);
      if constexpr (sizeof(T) == 1)
        o[e] = quantize_value(v, y_scale);
      else
        o[e] = from_f<T>(v);
    }
    if constexpr (sizeof(T) == 1)
      reinterpret_cast<uint32_t*>(y)[j] = *reinterpret_cast<const uint32_t*>(o);
    else if constexpr (sizeof(T) == 2)
      reinterpret_cast<uint2*>(y)[j] = *reinterpret_cast<const uint2*>(o);
    else
      reinterpret_cast<float4*>(y)[j] = *reinterpret_cast<const float4*>(o);
  }
}

// Plain int8 dot products for shapes cuBLASLt's int8 kernels refuse (K not a multiple of 4):
// one thread per output, exact int32. Slow, but such layers are rare and small.
__global__ void igemm_naive_kernel(const int8_t* __restrict__ x, const int8_t* __restrict__ w,
                                   int64_t m, int64_t n, int64_t k, int32_t* __restrict__ acc) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < m * n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int8_t* xr = x + (i / n) * k;
    const int8_t* wr = w + (i % n) * k;
    int32_t a = 0;
    for (int64_t j = 0; j < k; ++j) a += int32_t{xr[j]} * int32_t{wr[j]};
    acc[i] = a;
  }
}

// QConvI8 im2row: rows[tt, k] (tt < tpad, k < kp, K-contiguous) for output positions t0 + tt of
// group gi, t = b * OH*OW + oh * OW + ow; the column k < Cg*kh*kw is (c, i, j) as in the weight
// row. Outside the image reads zp (the code of 0.0, cancelled by acc_offset, as on the CPU);
// columns k >= Cg*kh*kw (K padded to a multiple of 4 for cuBLASLt) and rows tt >= valid are 0.
// Four columns per thread, one 4-byte store (kp % 4 == 0).
__global__ void qconv_im2row_kernel(const int8_t* __restrict__ x, quant::ConvGeom g, int64_t gi,
                                    int64_t t0, int64_t valid, int64_t kp, int8_t zp, int64_t n4,
                                    int8_t* __restrict__ rows) {
  const int64_t cg = g.C / g.group, khw = g.kh * g.kw, kk = cg * khw, P = g.OH * g.OW;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n4;
       j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t tt = (j * 4) / kp, k0 = (j * 4) % kp;
    int8_t q[4] = {0, 0, 0, 0};
    if (tt < valid) {
      const int64_t t = t0 + tt, b = t / P, p = t % P, oh = p / g.OW, ow = p % g.OW;
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t k = k0 + e;
        if (k >= kk) break;
        const int64_t c = k / khw, i = (k % khw) / g.kw, jj = k % g.kw;
        const int64_t ih = oh * g.sh - g.pt + i * g.dh, iw = ow * g.sw - g.pl + jj * g.dw;
        const bool in = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
        q[e] = in ? x[((b * g.C + gi * cg + c) * g.H + ih) * g.W + iw] : zp;
      }
    }
    reinterpret_cast<uint32_t*>(rows)[j] = *reinterpret_cast<const uint32_t*>(q);
  }
}

// w [n, k] -> out [n, kp] with zero columns k..kp (the weight side of the padded K).
__global__ void pad_rows_kernel(const int8_t* __restrict__ w, int64_t n, int64_t k, int64_t kp,
                                int8_t* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n * kp;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % kp;
    out[i] = c < k ? w[(i / kp) * k + c] : int8_t{0};
  }
}

// QConvI8's epilogue: acc [mg, tpad] (channel-major: the GEMM ran weights x rows) for positions
// t0 .. t0+valid of group gi, written into NCHW y[b, gi*mg + mi, p]. Consecutive threads take
// consecutive positions, so reads of acc and writes of y are both coalesced.
template <class T>
__global__ void qconv_epilogue_kernel(const int32_t* __restrict__ acc, quant::ConvGeom g,
                                      int64_t gi, int64_t t0, int64_t valid, int64_t tpad,
                                      float x_scale, const float* __restrict__ w_scale,
                                      const float* __restrict__ bias,
                                      const int32_t* __restrict__ acc_offset, float y_scale,
                                      T* __restrict__ y) {
  const int64_t mg = g.M / g.group, P = g.OH * g.OW;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < mg * valid;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t mi = i / valid, tt = i % valid, m = gi * mg + mi, t = t0 + tt;
    const int32_t a = acc[mi * tpad + tt] + (acc_offset ? acc_offset[m] : 0);
    y[((t / P) * g.M + m) * P + t % P] =
        epilogue_value<T>(a, x_scale, w_scale[m], bias ? bias + m : nullptr, y_scale);
  }
}

// The int8-or-float dispatch of the epilogue's output type.
template <class F>
Status dispatch_out(DType t, F&& f) {
  if (t == DType::kInt8) return f(int8_t{});
  return dispatch_float(t, f);
}

bool aligned(const void* p, uintptr_t n) { return reinterpret_cast<uintptr_t>(p) % n == 0; }
bool aligned16(const void* p) { return aligned(p, 16); }

}  // namespace

Status launch_quantize(CudaContext& ctx, const TensorRef& x, const float* smooth_inv, float scale,
                       int32_t zp, int8_t* y) {
  const int64_t n = x.numel();
  if (n == 0) return Status::Ok();
  const int64_t k = x.shape.empty() ? 1 : x.shape.back();
  if (k <= 0 || k > 0xffffffffLL) return InvalidArgument("QuantizeI8: last dim out of range");
  const bool vec = n % 8 == 0 && k % 8 == 0 && n / 8 < (int64_t{1} << 31) && aligned16(x.data);
  return dispatch_float(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(x.data);
    const uint32_t k32 = static_cast<uint32_t>(k);
    if (vec)
      quantize8_kernel<T><<<grid_for(n / 8), kThreads, 0, ctx.stream>>>(
          xp, smooth_inv, k32, scale, zp, y, static_cast<uint32_t>(n / 8));
    else
      quantize_kernel<T>
          <<<grid_for(n), kThreads, 0, ctx.stream>>>(xp, smooth_inv, k32, scale, zp, y, n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status launch_quantize_rows(CudaContext& ctx, const TensorRef& x, const float* smooth_inv,
                            int8_t* y, float* scales) {
  const int64_t k = x.shape.empty() ? 1 : x.shape.back();
  if (k <= 0 || k > 0xffffffffLL) return InvalidArgument("QuantizeI8: last dim out of range");
  const int64_t rows = x.numel() / k;
  if (rows == 0) return Status::Ok();
  const bool vec = k % 8 == 0 && aligned16(x.data) && aligned(y, 8);
  const int per = vec ? 8 : 1;
  // Threads: enough to cover a row once (a warp at least, a block of kThreads at most).
  const int64_t want = ((k / per + 31) / 32) * 32;
  const unsigned threads =
      static_cast<unsigned>(want < 32 ? 32 : (want > kThreads ? kThreads : want));
  const unsigned blocks = static_cast<unsigned>(rows < (1 << 30) ? rows : (1 << 30));
  return dispatch_float(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(x.data);
    const uint32_t k32 = static_cast<uint32_t>(k);
    if (vec)
      quantize_rows_kernel<T, 8>
          <<<blocks, threads, 0, ctx.stream>>>(xp, smooth_inv, k32, y, scales, rows);
    else
      quantize_rows_kernel<T, 1>
          <<<blocks, threads, 0, ctx.stream>>>(xp, smooth_inv, k32, y, scales, rows);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status launch_dequantize(CudaContext& ctx, const int8_t* x, float scale, const TensorRef& y) {
  const int64_t n = y.numel();
  if (n == 0) return Status::Ok();
  return dispatch_float(y.dtype, [&](auto tag) {
    using T = decltype(tag);
    dequantize_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream>>>(x, scale, y.as<T>(), n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status launch_igemm_naive(CudaContext& ctx, const int8_t* x, const int8_t* w, int64_t m, int64_t n,
                          int64_t k, int32_t* acc) {
  if (m == 0 || n == 0) return Status::Ok();
  igemm_naive_kernel<<<grid_for(m * n), kThreads, 0, ctx.stream>>>(x, w, m, n, k, acc);
  TSR_CUDA_LAUNCHED();
  return Status::Ok();
}

Status launch_qepilogue(CudaContext& ctx, const int32_t* acc, int64_t rows, int64_t cols,
                        float x_scale, const float* x_rows, const float* w_scale, const float* bias,
                        const int32_t* acc_offset, float y_scale, DType out_dtype, void* y) {
  if (rows == 0 || cols == 0) return Status::Ok();
  if (rows * cols >= (int64_t{1} << 32)) return InvalidArgument("epilogue tile too large");
  const bool vec = cols % 4 == 0 && aligned16(acc) && aligned16(w_scale) &&
                   (!bias || aligned16(bias)) && (!acc_offset || aligned16(acc_offset)) &&
                   aligned(y, 4 * static_cast<uintptr_t>(dtype_size(out_dtype)));
  return dispatch_out(out_dtype, [&](auto tag) {
    using T = decltype(tag);
    if (vec) {
      const int64_t n4 = rows * cols / 4;
      epilogue4_kernel<T><<<grid_for(n4), kThreads, 0, ctx.stream>>>(
          reinterpret_cast<const int4*>(acc), static_cast<uint32_t>(n4),
          static_cast<uint32_t>(cols), x_scale, x_rows, w_scale, bias, acc_offset, y_scale,
          static_cast<T*>(y));
      TSR_CUDA_LAUNCHED();
      return Status::Ok();
    }
    epilogue_kernel<T><<<grid_for(rows * cols), kThreads, 0, ctx.stream>>>(
        acc, static_cast<uint32_t>(rows), static_cast<uint32_t>(cols), x_scale, x_rows, w_scale,
        bias, acc_offset, y_scale, static_cast<T*>(y));
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status launch_qconv_im2row(CudaContext& ctx, const int8_t* x, const quant::ConvGeom& g, int64_t gi,
                           int64_t t0, int64_t valid, int64_t tpad, int64_t kp, int32_t zp,
                           int8_t* rows) {
  const int64_t n4 = tpad * kp / 4;
  if (n4 == 0) return Status::Ok();
  qconv_im2row_kernel<<<grid_for(n4), kThreads, 0, ctx.stream>>>(x, g, gi, t0, valid, kp,
                                                                 static_cast<int8_t>(zp), n4, rows);
  TSR_CUDA_LAUNCHED();
  return Status::Ok();
}

Status launch_pad_rows(CudaContext& ctx, const int8_t* w, int64_t n, int64_t k, int64_t kp,
                       int8_t* out) {
  if (n * kp == 0) return Status::Ok();
  pad_rows_kernel<<<grid_for(n * kp), kThreads, 0, ctx.stream>>>(w, n, k, kp, out);
  TSR_CUDA_LAUNCHED();
  return Status::Ok();
}

Status launch_qconv_epilogue(CudaContext& ctx, const int32_t* acc, const quant::ConvGeom& g,
                             int64_t gi, int64_t t0, int64_t valid, int64_t tpad, float x_scale,
                             const float* w_scale, const float* bias, const int32_t* acc_offset,
                             float y_scale, DType out_dtype, void* y) {
  const int64_t n = (g.M / g.group) * valid;
  if (n == 0) return Status::Ok();
  return dispatch_out(out_dtype, [&](auto tag) {
    using T = decltype(tag);
    qconv_epilogue_kernel<T>
        <<<grid_for(n), kThreads, 0, ctx.stream>>>(acc, g, gi, t0, valid, tpad, x_scale, w_scale,
                                                   bias, acc_offset, y_scale, static_cast<T*>(y));
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

}  // namespace tessera::kernels::cuda
